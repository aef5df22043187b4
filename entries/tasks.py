"""ES-003 ingestion tasks: thin, ids in, the service does the work (entries.services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="entries.tasks.process_upload")
def process_upload(upload_id: int) -> str:
    """Process one Upload. The service claims the row (pending→running) so a duplicate delivery is a no-op."""
    from entries.services import upload_process

    return upload_process(upload_id=upload_id).status
