"""The one job runtime (issue #21 item 2): claim, fail, release-if-orphaned and the orphan sweep for every
model built on ``entries.models.Job`` (Upload; cape's DeclarationBuildJob and ClassificationRun). The
ORM-free half (liveness locks, the progress channel, max_attempts, the grace period) is refundready.jobs.

A kind of job is described once by a ``JobType``: its model, how to send its task again, and its words (the
messages a user reads when it is failed). Its body stays with it (entries.ingest.service, cape.build_jobs,
cape.classify). The protocol every runner follows:

1. take the job's liveness lock (``running_lock``; ``wait=False`` for a message that may be a duplicate);
2. ``release_orphan`` a row found ``running`` (its lock was free, so its worker is gone);
3. ``claim`` it (a conditional UPDATE pending → running, attempts + 1), and run only if that changed a row;
4. write progress through a ``ProgressChannel``, and end it done (the body's words) or ``fail`` it.

``sweep`` (beat, and once when a worker starts) requeues a job left running whose lock is free, fails it
once it has been claimed ``max_attempts()`` times (a job that kills its worker every time must not loop),
and fails a job no worker claimed within ``NEVER_STARTED_LIMIT`` (its message was lost): the same policy for
all three kinds. Every change of state is a conditional UPDATE, so two recoverers never both act on one row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.services import audit
from entries.models import Job
from refundready.jobs import (
    NEVER_STARTED_LIMIT,
    ProgressChannel,
    forget_lock,
    grace_period,
    is_alive,
    max_attempts,
    running_lock,
)

logger = logging.getLogger(__name__)

S = Job.Status

__all__ = [
    "JobRecovery", "JobType", "ProgressChannel", "claim", "fail", "forget_lock", "grace_period", "is_alive",
    "max_attempts", "release_if_orphaned", "release_orphan", "running_lock", "sweep",
]


def _no_values(job: Any) -> dict[str, Any]:
    return {}


def _nobody(job: Any) -> Any:
    return None


@dataclass(frozen=True)
class JobType:
    """One kind of job: its model, how its task is sent again, and its words."""

    name: str  # for the logs ("upload", "declaration build", "classification run")
    model: type[Job]
    enqueue: Callable[[int], None]  # send the job's task again (called on commit)
    interrupted_message: Callable[[Any], str]  # failed after max_attempts() claims by workers that died
    never_started_message: str  # failed when no worker claimed it within NEVER_STARTED_LIMIT
    requeue_values: Callable[[Any], dict[str, Any]] = _no_values  # reset on a requeue, besides status/started_at
    audit_prefix: str = ""  # "<prefix>fail" / "<prefix>requeue" audit actions ("" = not audited)
    audit_user: Callable[[Any], Any] = _nobody  # the user a failure is recorded against
    related: tuple[str, ...] = ("organization",)  # select_related when a job is loaded for recovery

    @property
    def lock_kind(self) -> str:
        return self.model.lock_kind

    def rows(self) -> models.QuerySet[Any]:
        """Every row of the concrete model (the abstract Job declares no manager)."""
        return self.model._default_manager.all()

    def load(self, pk: int) -> Any:
        return self.rows().select_related(*self.related).filter(pk=pk).first()

    def message_value(self, message: str) -> str:
        """The message cut to its field's length (a CharField; a TextField takes it whole)."""
        limit = getattr(self.model._meta.get_field(self.model.message_field), "max_length", None)
        return message[:limit] if limit else message

    def channel(self, pk: int, *, separate: str = "in_transaction") -> ProgressChannel:
        return ProgressChannel(self.model._meta.db_table, pk, separate=separate)


@dataclass
class JobRecovery:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    still_running: list[int] = field(default_factory=list)
    never_started: list[int] = field(default_factory=list)


def _audit(jt: JobType, verb: str, job: Any, *, user: Any, **details: Any) -> None:
    if jt.audit_prefix:
        audit(action=f"{jt.audit_prefix}{verb}", user=user, organization=job.organization, obj=job, **details)


def claim(jt: JobType, pk: int, *, statuses: tuple[str, ...] = (S.PENDING,), **values: Any) -> bool:
    """Take job ``pk`` (one of ``statuses`` → running, attempts + 1, ``values`` set). True if this call took
    it: a duplicate delivery or a second worker finds nothing to change."""
    return bool(
        jt.rows().filter(pk=pk, status__in=statuses).update(
            status=S.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, **values
        )
    )


def fail(jt: JobType, job: Any, message: str, **audit_details: Any) -> None:
    """Record the job failed with ``message`` (its words, shown on its page); audited with the reason."""
    message = jt.message_value(message)
    now = timezone.now()
    jt.rows().filter(pk=job.pk).update(status=S.FAILED, finished_at=now, **{jt.model.message_field: message})
    job.status, job.finished_at = S.FAILED, now
    setattr(job, jt.model.message_field, message)
    _audit(jt, "fail", job, user=jt.audit_user(job), reason=message[:500], **audit_details)


def release_orphan(jt: JobType, job: Any, *, enqueue: bool) -> str:
    """Put a running job whose worker is known to be gone back to pending (its task sent again when
    ``enqueue``), or fail it with its interrupted message once it has been claimed ``max_attempts()`` times.
    Returns "requeued", "failed" or "not_running" (another recoverer acted first)."""
    running = jt.rows().filter(pk=job.pk, status=S.RUNNING, attempts=job.attempts)
    if job.attempts >= max_attempts():
        message = jt.message_value(jt.interrupted_message(job))
        with transaction.atomic():
            changed = running.update(status=S.FAILED, finished_at=timezone.now(), **{jt.model.message_field: message})
            if changed:
                _audit(jt, "fail", job, user=jt.audit_user(job), reason="interrupted", attempts=job.attempts)
        forget_lock(jt.lock_kind, job.pk)
        return "failed" if changed else "not_running"
    with transaction.atomic():
        changed = running.update(status=S.PENDING, started_at=None, **jt.requeue_values(job))
        if changed:
            _audit(jt, "requeue", job, user=None, reason="worker stopped", attempts=job.attempts)
            if enqueue:
                pk = job.pk
                transaction.on_commit(lambda: jt.enqueue(pk))
    return "requeued" if changed else "not_running"


def release_if_orphaned(jt: JobType, pk: int, *, enqueue: bool = False) -> str:
    """If job ``pk`` is running but no live process holds its lock, ``release_orphan`` it. Returns
    "requeued", "failed", "alive" or "not_running"."""
    job = jt.load(pk)
    if job is None or job.status != S.RUNNING:
        return "not_running"
    if is_alive(jt.lock_kind, pk):
        return "alive"
    return release_orphan(jt, job, enqueue=enqueue)


def fail_never_started(jt: JobType) -> list[int]:
    """Fail jobs never claimed (attempts 0) NEVER_STARTED_LIMIT after they were created. A requeued job has
    been claimed before, and its task was sent again by the sweep that requeued it."""
    old = jt.rows().filter(status=S.PENDING, attempts=0, created_at__lte=timezone.now() - NEVER_STARTED_LIMIT)
    message = jt.message_value(jt.never_started_message)
    failed = []
    for job in old.select_related(*jt.related).order_by("pk"):
        with transaction.atomic():
            if jt.rows().filter(pk=job.pk, status=S.PENDING, attempts=0).update(
                status=S.FAILED, finished_at=timezone.now(), **{jt.model.message_field: message}
            ):
                _audit(jt, "fail", job, user=jt.audit_user(job), reason="never started")
                failed.append(job.pk)
    return failed


def sweep(jt: JobType, *, stale_after: timedelta | None = None) -> JobRecovery:
    """Requeue (or fail) every job of ``jt`` left running by a worker that is gone, and fail those no worker
    ever claimed. Jobs claimed less than ``stale_after`` (default: the grace period) ago are left alone."""
    result = JobRecovery(never_started=fail_never_started(jt))
    cutoff = timezone.now() - (grace_period() if stale_after is None else stale_after)
    running: models.QuerySet[Any] = jt.rows().filter(status=S.RUNNING)
    candidates = list(running.filter(started_at__lte=cutoff).order_by("pk").values_list("pk", flat=True))
    # A row claimed with no started_at cannot come from the runtime, but never leave one stuck.
    candidates += list(running.filter(started_at__isnull=True).order_by("pk").values_list("pk", flat=True))
    for pk in candidates:
        outcome = release_if_orphaned(jt, pk, enqueue=True)
        if outcome == "requeued":
            result.requeued.append(pk)
        elif outcome == "failed":
            result.failed.append(pk)
        elif outcome == "alive":
            result.still_running.append(pk)
    if result.requeued or result.failed or result.never_started:
        logger.warning("%s recovery: requeued %s, failed %s, never started %s", jt.name, result.requeued,
                       result.failed, result.never_started)
    return result
