"""cape's receivers of the hooks the apps below it offer (connected in CapeConfig.ready): classification
is asked for by name, so entries and ach never import cape."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from accounts.models import Organization
from cape.classify import classify_entries, queue_upload_classification, reclassify_later, today_eastern


def classify_loaded_upload(sender: Any, *, upload_id: int, **kwargs: Any) -> None:
    """entries.signals.entries_loaded: the upload committed; queue its classification run."""
    queue_upload_classification(upload_id)


def reclassify_importers(sender: Any, *, organization: Organization, importer_ids: Iterable[int], **kwargs: Any) -> None:
    """ach.signals.reclassification_requested: a refund route changed; reclassify the importers' entries."""
    reclassify_later(organization=organization, importer_ids=importer_ids)


def classify_importers_now(sender: Any, *, importer_ids: list[int], as_of: date | None, **kwargs: Any) -> None:
    """accounts.signals.importer_facts_changed: classify the importers' entries again, in the caller's transaction."""
    classify_entries(importer_ids=importer_ids, as_of=as_of or today_eastern())
