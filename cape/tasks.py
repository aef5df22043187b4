"""Classification tasks (owned by the classification work; see cape/classify.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cape.tasks.classify_upload")
def classify_upload(upload_id: int) -> None:
    """Classify every entry an ES-003 upload touched. Enqueued by entries on commit after ingestion."""
    from cape.classify import classify_upload_entries

    classify_upload_entries(upload_id=upload_id)
