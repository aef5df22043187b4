"""The audit log page's rows: each row's object in words (accounts.audit_display) with a link to its page when
it has one the organisation may open (importers, grants, notes, entries, uploads, declarations)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.urls import reverse

from accounts.audit_display import AuditRow, change_lines, object_name
from accounts.models import AuditLog, ImporterGrant, Organization
from accounts.selectors import importers_for, notes_for
from cape.models import Declaration
from cape.selectors import entries_for
from entries.selectors import uploads_for


def _int_ids(ids: Iterable[str]) -> set[int]:
    return {int(i) for i in ids if i.isdigit()}


def _object_urls(organization: Organization, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """Pages of the objects the organisation may open: one query per kind of object, each scoped by the
    same selector its page uses, so a row never links to another organisation's object."""
    urls: dict[tuple[str, int], str] = {}
    if ids := wanted.get("accounts.importer"):
        for pk in importers_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["accounts.importer", pk] = reverse("importer_detail", args=[pk])
    if ids := wanted.get("accounts.importergrant"):
        grants = ImporterGrant.objects.filter(pk__in=ids, importer__in=importers_for(organization))
        for pk, importer_id in grants.values_list("pk", "importer_id"):
            urls["accounts.importergrant", pk] = reverse("importer_detail", args=[importer_id])
    if ids := wanted.get("accounts.importernote"):
        for pk, importer_id in notes_for(organization).filter(pk__in=ids).values_list("pk", "importer_id"):
            urls["accounts.importernote", pk] = reverse("importer_detail", args=[importer_id]) + "#client-work"
    if ids := wanted.get("entries.entry"):
        for pk in entries_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["entries.entry", pk] = reverse("entry_detail", args=[pk])
    if ids := wanted.get("entries.upload"):
        for pk in uploads_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["entries.upload", pk] = reverse("upload_detail", args=[pk])
    if ids := wanted.get("cape.declaration"):
        for pk in Declaration.objects.filter(organization=organization, pk__in=ids).values_list("pk", flat=True):
            urls["cape.declaration", pk] = reverse("cape_declaration", args=[pk])
    return urls


LINKED_TYPES = ("accounts.importer", "accounts.importergrant", "accounts.importernote", "entries.entry", "entries.upload", "cape.declaration")


def audit_rows(organization: Organization, rows: Iterable[AuditLog]) -> list[AuditRow]:
    rows = list(rows)
    wanted: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.object_type in LINKED_TYPES:
            wanted[r.object_type].add(r.object_id)
    urls = _object_urls(organization, {t: _int_ids(ids) for t, ids in wanted.items()})
    out = []
    for r in rows:
        label = f"{object_name(r.object_type)} {r.object_id}".strip()
        url = urls.get((r.object_type, int(r.object_id)), "") if r.object_id.isdigit() else ""
        out.append(AuditRow(row=r, object_label=label, url=url, changes=change_lines(r.action, r.detail)))
    return out
