"""Reads of ES-003 uploads (entries are read through cape.selectors.entries_for, by importer)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Organization
from entries.models import Upload


def uploads_for(organization: Organization | None) -> QuerySet[Upload]:
    """The acting organisation's uploads, latest first (tenancy is a query: another organisation's upload is
    not in it, so its page is a 404)."""
    if organization is None:
        return Upload.objects.none()
    return Upload.objects.filter(organization=organization).select_related("uploaded_by").order_by("-created_at", "-pk")
