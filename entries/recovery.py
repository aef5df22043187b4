"""Recovery of work left behind by a dead worker (SIGKILL, out of memory, a container restart): the
uploads' part, on the one job runtime (entries.jobs, refundready.jobs), and the sweep that runs every part.

An ES-003 upload is claimed (pending→running) by the worker that processes it. If that worker dies,
the row stays ``running`` forever and nothing was stored (the merge is one transaction, so an entry
and its lines appear together or not at all). To tell a dead worker from a slow one, the task holds a
*liveness lock* while it runs: a PostgreSQL session advisory lock on a connection of its own (the
server releases it when the worker's TCP connection drops, whichever host the worker was on), or an
``flock`` on a file under DATA_DIR with SQLite (the kernel releases it when the process dies; SQLite
deployments are one host). ``uploads_recover`` puts an orphaned upload back to ``pending`` and
enqueues it again, or marks it failed with a clear message once it has been tried
``UPLOAD_MAX_ATTEMPTS`` times (a file that kills the worker every time must not loop forever).

A classification run (cape.models.ClassificationRun) and a declaration build job
(cape.models.DeclarationBuildJob) are jobs on the same runtime: cape sweeps them the same way (cape/recovery.py).
The build's declarations and the job's record of them are one transaction, so a re-run either builds from
scratch or only finishes the checks of declarations that were already saved; a classification re-run gives
the same rows. Entries a dead worker left unclassified outside any run are found by
``cape.recovery.classifications_recover`` (the nightly selection, cape.classify.due_entry_ids).

A job no worker claimed within NEVER_STARTED_LIMIT (24 hours; its message was lost) is failed with its own
words, for all three kinds.

Runs from Celery beat (``entries.tasks.recover_interrupted_work``), and once when a worker starts
(``entries.tasks._recover_on_worker_start``, Celery's worker_ready signal), which takes every job whose
lock is free at once, without the grace period. The classifications and builds are recovered by cape,
which receives ``entries.signals.work_recovering`` (cape/recovery.py, connected in CapeConfig.ready).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from entries import jobs
from entries.models import Upload
from entries.signals import work_recovering
from refundready.jobs import (
    NEVER_STARTED_LIMIT,
    forget_lock,
    grace_period,
    is_alive,
    lock_key,
    max_attempts,
    running_lock,
)

logger = logging.getLogger(__name__)

__all__ = [
    "INTERRUPTED_MESSAGE", "NEVER_STARTED_LIMIT", "NEVER_STARTED_MESSAGE", "UPLOAD_JOB", "RecoveryResult",
    "forget_lock", "grace_period", "interrupted_work_recover", "is_alive", "max_attempts", "merge_lock_key",
    "running_lock", "upload_is_alive", "upload_release_if_orphaned", "upload_running_lock", "uploads_recover",
]

INTERRUPTED_MESSAGE = (
    "Processing of this file was interrupted {attempts} times (the worker processing it stopped: it ran out of "
    "memory or was restarted), so it was not tried again. Nothing from this file was stored. Split the report "
    "into smaller date ranges and upload the parts; if it happens again, send the file to support."
)
NEVER_STARTED_MESSAGE = (
    "No worker started processing this file within 24 hours (the job queue lost it, or no worker was running), "
    "so it was stopped. Nothing from this file was stored: upload it again."
)


def _enqueue(upload_id: int) -> None:
    # Here, not at the top: entries.tasks imports this module (a task calls its service).
    from entries.tasks import process_upload

    process_upload.delay(upload_id)


UPLOAD_JOB = jobs.JobType(
    name="upload",
    model=Upload,
    enqueue=_enqueue,
    interrupted_message=lambda upload: INTERRUPTED_MESSAGE.format(attempts=upload.attempts),
    never_started_message=NEVER_STARTED_MESSAGE,
    requeue_values=lambda upload: {"rows_read": 0},
    audit_prefix="upload.",
    audit_user=lambda upload: upload.uploaded_by,
    related=("organization", "uploaded_by"),
)


def merge_lock_key() -> list[int]:
    """The key of the transaction lock every ES-003 merge takes (pg_advisory_xact_lock). One for all
    organisations: an entry is one row whoever loads it (a broker's report and the importer's own report of
    the same entry merge into it), so two merges of overlapping files must never interleave."""
    return lock_key("merge", 0)


def upload_running_lock(upload_id: int) -> contextlib.AbstractContextManager[bool]:
    """Hold the upload's liveness lock for the duration of the block (the task wraps the service in it)."""
    return running_lock("upload", upload_id)


def upload_is_alive(upload_id: int) -> bool:
    """Whether some process holds the upload's liveness lock right now."""
    return is_alive("upload", upload_id)


# ----------------------------------------------------------------------------- uploads
@dataclass
class RecoveryResult:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    still_running: list[int] = field(default_factory=list)
    never_started: list[int] = field(default_factory=list)
    organizations_reclassified: list[int] = field(default_factory=list)
    builds_requeued: list[int] = field(default_factory=list)
    builds_failed: list[int] = field(default_factory=list)
    runs_requeued: list[int] = field(default_factory=list)
    runs_failed: list[int] = field(default_factory=list)


def upload_release_if_orphaned(*, upload_id: int, enqueue: bool = False) -> str:
    """If the upload is ``running`` but no live process holds its lock, put it back to ``pending``
    (or fail it after too many attempts). Returns "requeued", "failed", "alive" or "not_running"."""
    return jobs.release_if_orphaned(UPLOAD_JOB, upload_id, enqueue=enqueue)


def uploads_recover(*, stale_after: timedelta | None = None) -> RecoveryResult:
    """Requeue (or fail) every upload left ``running`` by a worker that is gone; fail those no worker ever
    started."""
    swept = jobs.sweep(UPLOAD_JOB, stale_after=stale_after)
    return RecoveryResult(requeued=swept.requeued, failed=swept.failed + swept.never_started,
                          still_running=swept.still_running, never_started=swept.never_started)


# ----------------------------------------------------------------------------- every kind of work
def interrupted_work_recover(*, stale_after: timedelta | None = None, at_worker_start: bool = False) -> RecoveryResult:
    """Requeue (or fail) the uploads, declaration builds and classification runs a dead worker left running,
    and enqueue the classifications it left undone. Only work older than ``stale_after`` (default: the grace
    period) is taken, except that ``at_worker_start`` takes every job whose liveness lock is free at once.

    A starting worker can trust the lock without the clock: every runner (a worker's task, the ingest_es003
    command) takes a job's lock before it claims the row and holds it to the end, so a row left ``running``
    with a free lock has no process behind it, however recent its claim. Without that an upload interrupted
    by a restart waited for the beat sweep after the grace period (2-3 minutes). The search for entries left
    unclassified holds no lock, so it keeps the grace period.

    The builds and classifications are cape's: it recovers them in its receiver of
    ``entries.signals.work_recovering`` (cape/recovery.py), sent after the uploads, which fills in
    ``organizations_reclassified``, ``builds_requeued``, ``builds_failed``, ``runs_requeued`` and ``runs_failed``."""
    locked_stale_after = timedelta(0) if at_worker_start else stale_after
    result = uploads_recover(stale_after=locked_stale_after)
    work_recovering.send(sender=RecoveryResult, result=result, stale_after=stale_after, locked_stale_after=locked_stale_after)
    return result
