"""cape's receivers of the hooks the apps below it offer (connected in CapeConfig.ready): classification
is asked for by name, so entries and ach never import cape."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from accounts.models import Organization
from cape.classify import classify_entries, queue_upload_classification, reclassify_later, today_eastern
from cape.models import CAPE_PATHS, Classification


def classify_loaded_upload(sender: Any, *, upload_id: int, **kwargs: Any) -> None:
    """entries.signals.entries_loaded: the upload committed; queue its classification run."""
    queue_upload_classification(upload_id)


def reclassify_importers(sender: Any, *, organization: Organization, importer_ids: Iterable[int], **kwargs: Any) -> None:
    """ach.signals.reclassification_requested: a refund route changed; reclassify the importers' entries."""
    reclassify_later(organization=organization, importer_ids=importer_ids)


def classify_importers_now(sender: Any, *, importer_ids: list[int], as_of: date | None, **kwargs: Any) -> None:
    """accounts.signals.importer_facts_changed: classify the importers' entries again, in the caller's transaction."""
    classify_entries(importer_ids=importer_ids, as_of=as_of or today_eastern())


def cape_duty_by_importer(sender: Any, *, importer_ids: list[int], **kwargs: Any) -> dict[int, tuple[Decimal, int]]:
    """ach.signals.cape_duty_wanted: per importer, the IEEPA duty on CAPE paths and the number of those entries
    (the importers' classifications, shared)."""
    return {
        row["importer_id"]: (row["total"] or Decimal("0.00"), row["n"])
        for row in Classification.objects.filter(importer_id__in=importer_ids, path__in=list(CAPE_PATHS))
        .values("importer_id").annotate(total=Sum("ieepa_duty"), n=Count("pk"))
    }
