"""Recovery of work left behind by a dead worker (SIGKILL, out of memory, a container restart).

An ES-003 upload is claimed (pending→running) by the worker that processes it. If that worker dies,
the row stays ``running`` forever and nothing was stored (the merge is one transaction, so an entry
and its lines appear together or not at all). To tell a dead worker from a slow one, the task holds a
*liveness lock* while it runs: a PostgreSQL session advisory lock on a connection of its own (the
server releases it when the worker's TCP connection drops, whichever host the worker was on), or an
``flock`` on a file under DATA_DIR with SQLite (the kernel releases it when the process dies; SQLite
deployments are one host). ``uploads_recover`` puts an orphaned upload back to ``pending`` and
enqueues it again, or marks it failed with a clear message once it has been tried
``UPLOAD_MAX_ATTEMPTS`` times (a file that kills the worker every time must not loop forever).

Classification has no job row: the nightly selection (cape.classify.due_entry_ids) already picks
every entry whose classification is missing or older than its facts, and re-running it gives the
same rows, so ``cape.recovery.classifications_recover`` only enqueues the organisations that have such
entries.

A declaration build job (cape.models.DeclarationBuildJob) holds the same kind of liveness lock while it
runs; ``cape.build_jobs.build_jobs_recover`` puts one whose worker is gone back to pending and enqueues it
again, or fails it with a clear message after ``UPLOAD_MAX_ATTEMPTS`` claims. The build's declarations
and the job's record of them are one transaction, so a re-run either builds from scratch or only finishes
the checks of declarations that were already saved: the same result as a clean run.

Runs from Celery beat (``entries.tasks.recover_interrupted_work``), and once when a worker starts
(``entries.tasks._recover_on_worker_start``, Celery's worker_ready signal), which takes uploads and builds whose
lock is free at once, without the grace period. The classifications and builds are recovered by cape,
which receives ``entries.signals.work_recovering`` (cape/recovery.py, connected in CapeConfig.ready).
"""

from __future__ import annotations

import contextlib
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.services import audit
from entries.models import Upload
from entries.signals import work_recovering

logger = logging.getLogger(__name__)

# Advisory lock namespaces (first half of the two-int key): stable numbers derived from a name, one per
# kind of job that holds a liveness lock.
_LOCK_CLASSES = {
    "upload": zlib.crc32(b"refundready.upload.running") & 0x7FFFFFFF,
    "build": zlib.crc32(b"refundready.declaration_build.running") & 0x7FFFFFFF,
    "merge": zlib.crc32(b"refundready.es003_merge") & 0x7FFFFFFF,  # a transaction lock (entries.services)
}

INTERRUPTED_MESSAGE = (
    "Processing of this file was interrupted {attempts} times (the worker processing it stopped: it ran out of "
    "memory or was restarted), so it was not tried again. Nothing from this file was stored. Split the report "
    "into smaller date ranges and upload the parts; if it happens again, send the file to support."
)


def max_attempts() -> int:
    """Times a job interrupted by a dead worker is claimed before it is failed (uploads and declaration builds)."""
    return int(getattr(settings, "UPLOAD_MAX_ATTEMPTS", 3))


def grace_period() -> timedelta:
    """Jobs claimed more recently than this are left alone even if no lock is seen (an upload run
    synchronously by the ingest_es003 command holds no liveness lock)."""
    return timedelta(seconds=int(getattr(settings, "UPLOAD_RECOVERY_GRACE_SECONDS", 120)))


# ----------------------------------------------------------------------------- liveness locks
def _lock_dir() -> Path:
    path = Path(getattr(settings, "DATA_DIR", ".")) / "locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock_key(kind: str, pk: int) -> list[int]:
    return [_LOCK_CLASSES[kind], int(pk) & 0x7FFFFFFF]


def merge_lock_key() -> list[int]:
    """The key of the transaction lock every ES-003 merge takes (pg_advisory_xact_lock). One for all
    organisations: an entry is one row whoever loads it (a broker's report and the importer's own report of
    the same entry merge into it), so two merges of overlapping files must never interleave."""
    return _lock_key("merge", 0)


def _lock_path(kind: str, pk: int) -> Path:
    return _lock_dir() / f"{kind}-{int(pk)}.lock"


@contextlib.contextmanager
def running_lock(kind: str, pk: int, *, wait: bool = True) -> Iterator[bool]:
    """Hold the liveness lock of job ``pk`` of ``kind`` ("upload", "build") for the duration of the block.

    Yields whether it is held: always with ``wait`` (the default blocks until the lock is free); with
    ``wait=False``, False at once when another process holds it (a duplicate delivery of a job that is
    being run must not occupy a worker for the length of the job)."""
    if connection.vendor == "postgresql":
        holder = connections.create_connection("default")
        held = False
        try:
            with holder.cursor() as cur:
                cur.execute(f"SELECT {'pg_advisory_lock' if wait else 'pg_try_advisory_lock'}(%s, %s)", _lock_key(kind, pk))
                held = True if wait else bool(cur.fetchone()[0])
            yield held
        finally:
            with contextlib.suppress(Exception):
                if held:  # release it now: a closed session's locks go only when its backend has exited, a
                    # moment later, and a sweep in that moment would take the job for a live one
                    with holder.cursor() as cur:
                        cur.execute("SELECT pg_advisory_unlock(%s, %s)", _lock_key(kind, pk))
            with contextlib.suppress(Exception):
                holder.close()  # and closing the session releases it in any case (a killed worker's too)
    else:
        import fcntl

        fd = os.open(_lock_path(kind, pk), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                held = False
            yield held
        finally:
            os.close(fd)  # closing releases the flock


def is_alive(kind: str, pk: int) -> bool:
    """Whether some process holds the liveness lock of job ``pk`` of ``kind`` right now."""
    if connection.vendor == "postgresql":
        key = _lock_key(kind, pk)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            acquired = cur.fetchone()[0]
            if acquired:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        return not acquired
    import fcntl

    path = _lock_path(kind, pk)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def forget_lock(kind: str, pk: int) -> None:
    """Remove a finished job's lock file (SQLite; PostgreSQL advisory locks leave nothing behind)."""
    if connection.vendor != "postgresql":
        with contextlib.suppress(OSError):
            _lock_path(kind, pk).unlink()


def upload_running_lock(upload_id: int) -> contextlib.AbstractContextManager[bool]:
    """Hold the upload's liveness lock for the duration of the block (the task wraps the service in it)."""
    return running_lock("upload", upload_id)


def upload_is_alive(upload_id: int) -> bool:
    """Whether some process holds the upload's liveness lock right now."""
    return is_alive("upload", upload_id)


def _forget_lock_file(upload_id: int) -> None:
    forget_lock("upload", upload_id)


# ----------------------------------------------------------------------------- uploads
@dataclass
class RecoveryResult:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    still_running: list[int] = field(default_factory=list)
    organizations_reclassified: list[int] = field(default_factory=list)
    builds_requeued: list[int] = field(default_factory=list)
    builds_failed: list[int] = field(default_factory=list)


def upload_release_if_orphaned(*, upload_id: int, enqueue: bool = False) -> str:
    """If the upload is ``running`` but no live process holds its lock, put it back to ``pending``
    (or fail it after too many attempts). Returns "requeued", "failed", "alive" or "not_running".

    Conditional UPDATEs, so two recoverers (beat and a starting worker) never both act on one row.
    """
    upload = (
        Upload.objects.filter(pk=upload_id)
        .only("pk", "status", "attempts", "organization_id", "uploaded_by_id")
        .first()
    )
    if upload is None or upload.status != Upload.Status.RUNNING:
        return "not_running"
    if upload_is_alive(upload_id):
        return "alive"
    if upload.attempts >= max_attempts():
        message = INTERRUPTED_MESSAGE.format(attempts=upload.attempts)
        with transaction.atomic():
            changed = Upload.objects.filter(
                pk=upload_id, status=Upload.Status.RUNNING, attempts=upload.attempts
            ).update(status=Upload.Status.FAILED, error_message=message, finished_at=timezone.now())
            if changed:
                audit(
                    action="upload.fail",
                    user=upload.uploaded_by,
                    organization=upload.organization,
                    obj=upload,
                    reason="interrupted",
                    attempts=upload.attempts,
                )
        _forget_lock_file(upload_id)
        return "failed" if changed else "not_running"
    with transaction.atomic():
        changed = Upload.objects.filter(pk=upload_id, status=Upload.Status.RUNNING, attempts=upload.attempts).update(
            status=Upload.Status.PENDING, rows_read=0, started_at=None
        )
        if changed:
            audit(
                action="upload.requeue",
                user=None,
                organization=upload.organization,
                obj=upload,
                reason="worker stopped",
                attempts=upload.attempts,
            )
            if enqueue:
                from entries.tasks import process_upload

                transaction.on_commit(lambda: process_upload.delay(upload_id))
    return "requeued" if changed else "not_running"


def sweep_orphaned(running: Any, *, cutoff: Any, release: Callable[[int], str], result: Any) -> None:
    """Offer every job of ``running`` (a queryset of jobs left running) claimed before ``cutoff`` to
    ``release`` ("requeued", "failed", "alive" or "not_running"), and note each outcome in ``result``'s
    requeued / failed / still_running lists. Uploads and declaration build jobs share it."""
    candidates = list(running.filter(started_at__lte=cutoff).order_by("pk").values_list("pk", flat=True))
    # A row claimed with no started_at cannot come from the services, but never leave one stuck.
    candidates += list(running.filter(started_at__isnull=True).order_by("pk").values_list("pk", flat=True))
    for pk in candidates:
        outcome = release(pk)
        if outcome == "requeued":
            result.requeued.append(pk)
        elif outcome == "failed":
            result.failed.append(pk)
        elif outcome == "alive":
            result.still_running.append(pk)


def uploads_recover(*, stale_after: timedelta | None = None) -> RecoveryResult:
    """Requeue (or fail) every upload left ``running`` by a worker that is gone."""
    result = RecoveryResult()
    cutoff = timezone.now() - (grace_period() if stale_after is None else stale_after)
    sweep_orphaned(Upload.objects.filter(status=Upload.Status.RUNNING), cutoff=cutoff, result=result,
                   release=lambda pk: upload_release_if_orphaned(upload_id=pk, enqueue=True))
    if result.requeued or result.failed:
        logger.warning("upload recovery: requeued %s, failed %s", result.requeued, result.failed)
    return result


# ----------------------------------------------------------------------------- classification
def interrupted_work_recover(*, stale_after: timedelta | None = None, at_worker_start: bool = False) -> RecoveryResult:
    """Requeue (or fail) the uploads and declaration builds a dead worker left running, and enqueue the
    classifications it left undone. Only work older than ``stale_after`` (default: the grace period) is taken,
    except that ``at_worker_start`` takes every upload and build whose liveness lock is free at once.

    A starting worker can trust the lock without the clock: every runner (a worker's task, the ingest_es003
    command) takes an upload's or a build's lock before it claims the row and holds it to the end, so a row
    left ``running`` with a free lock has no process behind it, however recent its claim. Without that an
    upload interrupted by a restart waited for the beat sweep after the grace period (2-3 minutes).
    Classification holds no lock, so it keeps the grace period.

    The classifications and builds are cape's: it recovers them in its receiver of
    ``entries.signals.work_recovering`` (cape/recovery.py), sent after the uploads, which fills in
    ``organizations_reclassified``, ``builds_requeued`` and ``builds_failed``."""
    locked_stale_after = timedelta(0) if at_worker_start else stale_after
    result = uploads_recover(stale_after=locked_stale_after)
    work_recovering.send(sender=RecoveryResult, result=result, stale_after=stale_after, locked_stale_after=locked_stale_after)
    return result
