"""ES-003 ingestion tasks: thin, ids in, the service does the work (entries.ingest.service).

Faults (issue 9): ``process_upload`` is idempotent (the service claims the row pending→running, and the
merge is one transaction), so it is ``acks_late`` with ``reject_on_worker_lost``: a message whose worker
died is delivered again rather than lost. While it runs it holds the upload's liveness lock
(entries.recovery), so a redelivery, a retry or the beat sweep can tell a dead worker's upload from a
live one and put only the dead one back to pending. A transient database error (the server restarted,
the connection was cut, a deadlock) retries the task with backoff instead of failing the upload.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError, connection

from entries.ingest.service import upload_process
from entries.models import Upload
from entries.recovery import interrupted_work_recover, upload_release_if_orphaned, upload_running_lock

logger = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
# entries.ingest.service records an unexpected error as "… unexpected error (<class name>) …".
_TRANSIENT_MARKERS = tuple(f"({cls.__name__})" for cls in TRANSIENT_DB_ERRORS)
MAX_RETRIES = 4


def _drop_broken_connection() -> None:
    """A connection cut under us stays unusable until closed; the retry must start on a fresh one."""
    if not connection.in_atomic_block:
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception:  # pragma: no cover - closing a dead socket
            logger.debug("closing a broken connection failed", exc_info=True)


def _backoff(retries: int) -> int:
    return min(60, 2 ** (retries + 1))


@shared_task(
    bind=True, name="entries.tasks.process_upload", acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES
)
def process_upload(self: Any, upload_id: int) -> str:
    """Process one Upload. The service claims the row (pending→running) so a duplicate delivery is a no-op."""
    try:
        # A redelivered message or a retry after a worker died finds the row still running, with no live lock.
        upload_release_if_orphaned(upload_id=upload_id)
        with upload_running_lock(upload_id):
            upload = upload_process(upload_id=upload_id)
    except TRANSIENT_DB_ERRORS as exc:
        logger.warning("upload %s: database unavailable (%s); retrying", upload_id, exc.__class__.__name__)
        _drop_broken_connection()
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
    if (
        upload.status == Upload.Status.FAILED
        and any(marker in upload.error_message for marker in _TRANSIENT_MARKERS)
        and self.request.retries < MAX_RETRIES
    ):
        # The service caught a transient database error and recorded it: nothing was stored, run it again.
        Upload.objects.filter(pk=upload_id, status=Upload.Status.FAILED).update(
            status=Upload.Status.PENDING, error_message="", finished_at=None
        )
        raise self.retry(countdown=_backoff(self.request.retries))
    return upload.status


@shared_task(name="entries.tasks.recover_interrupted_work")
def recover_interrupted_work() -> dict[str, list[int]]:
    """Beat (every minute): requeue the jobs (uploads, classification runs, declaration builds) and the
    classifications a dead worker left behind."""
    result = interrupted_work_recover()
    return {
        "requeued": result.requeued,
        "failed": result.failed,
        "organizations_reclassified": result.organizations_reclassified,
    }


@worker_ready.connect
def _recover_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that starts after a crash picks up what the dead one left (beat may not be running): an upload,
    classification run or declaration build left running with its liveness lock free is requeued at once, not
    after the grace period (entries.jobs.sweep)."""
    try:
        interrupted_work_recover(at_worker_start=True)
    except Exception:  # never stop a worker from starting
        logger.exception("recovery at worker start failed")
    finally:
        _drop_broken_connection()
        connection.close()
