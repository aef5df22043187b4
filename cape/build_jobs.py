"""Declaration builds as jobs: a row with status and progress that the page and the API poll.

A small build (fewer than ``SYNC_LIMIT`` candidate entries) runs at once, in the request, through the
same job so the page and the API answer the same way whatever the size; a large one (a broker with up
to a million entries) is handed to a worker on commit (cape.tasks.build_declarations). The worker claims
the row with a conditional UPDATE (pending → running) so a duplicate delivery never builds twice; the
build itself is ``cape.declarations.declaration_build``, unchanged.

A worker killed mid-build (issue 9): the run holds the job's liveness lock (entries.recovery.running_lock)
from before its claim to the end, so a job left ``running`` with no lock held is known to be orphaned.
``build_jobs_recover`` (beat, and a worker starting) and a redelivered message (the task is acks_late)
put it back to pending and build again, or fail it with a clear message after ``UPLOAD_MAX_ATTEMPTS``
claims. The run has two phases and each re-run gives what a clean run gives:

* writing: the declarations, their entries and the job's record of them (``declaration_ids``, the
  entries left out) are one transaction, so a dead worker leaves no declaration at all and the re-run
  builds from scratch;
* checking (preflight, after that commit): a re-run finds ``declaration_ids`` already recorded, writes
  nothing, and checks only the declarations whose checks had not been stored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from cape import declarations as svc
from cape.models import Declaration, DeclarationBuildJob
from entries.recovery import forget_lock, grace_period, is_alive, max_attempts, running_lock, sweep_orphaned

logger = logging.getLogger(__name__)

J = DeclarationBuildJob.Status
# Below this many candidate entries the build answers in the request (about a second on SQLite);
# above it a worker builds while the page shows the progress bar.
SYNC_LIMIT = 20_000
# Left-out entries kept on the job row (the count is always exact): every one of a small build's, so the
# page and the API list them all as they did before builds became jobs; the first ones of a large build.
LEFT_OUT_KEPT = SYNC_LIMIT
LOCK_KIND = "build"

INTERRUPTED_MESSAGE = (
    "This build was interrupted {attempts} times (the worker building it stopped: it ran out of memory or was "
    "restarted), so it was not tried again. No declaration was saved and every entry is still free to build. "
    "Build again for fewer importers at a time; if it happens again, contact support."
)
INTERRUPTED_CHECKING_MESSAGE = (
    "This build was interrupted {attempts} times while checking its declarations (the worker stopped: it ran out "
    "of memory or was restarted), so it was not tried again. The {count} declaration{s} it built {were} saved as "
    "drafts on the CAPE page, but not all of them have been checked: open each one and run its checks (preflight) "
    "before you export it."
)
# A job no worker has claimed this long after it was started will not be (its message was lost with the
# broker's data, or no worker runs): the sweep fails it rather than leave "Waiting for a worker" up forever.
# Far longer than any queue backlog (a million-entry build takes minutes) and than CELERY_VISIBILITY_TIMEOUT.
NEVER_STARTED_LIMIT = timedelta(hours=24)
NEVER_STARTED_MESSAGE = (
    "No worker started this build within 24 hours (the job queue lost it, or no worker was running), so it was "
    "stopped. Nothing was built and every entry is still free to build: start the build again."
)
REQUEUED_MESSAGE = (
    "The worker building this stopped before it finished; the build will start again (attempt {next} of {max}). "
    "Nothing unfinished was saved."
)


def build_jobs_for(organization: Organization | None) -> QuerySet[DeclarationBuildJob]:
    """The organisation's builds that touched only importers it may see now: a build for an importer whose
    grant was revoked disappears with the importer's declarations (cape.declarations.declarations_for)."""
    if organization is None:
        return DeclarationBuildJob.objects.none()
    through = DeclarationBuildJob.importers.through
    hidden = through.objects.filter(declarationbuildjob_id=OuterRef("pk")).exclude(importer__in=importers_for(organization))
    return DeclarationBuildJob.objects.filter(organization=organization).exclude(Exists(hidden))


def declaration_build_job_start(
    *,
    organization: Organization,
    user: Any = None,
    importer_ids: Sequence[int] | None = None,
    entry_numbers: Sequence[str] | None = None,
    paths: Sequence[str] | None = None,
    urgent_only: bool = False,
    mixed: bool = False,
    name: str = "",
) -> DeclarationBuildJob:
    """Record a build and run it now (small) or enqueue it on commit (large). Returns the job as it
    stands: done or failed for a small build, pending for a large one."""
    if importer_ids is not None:
        ids = [int(i) for i in importer_ids]
        allowed = set(importers_for(organization).filter(pk__in=ids).values_list("pk", flat=True))
        if any(i not in allowed for i in ids):
            raise ServiceError("One or more importers are not managed by this organisation.", field="importers")
    # Counted per importer (one GROUP BY instead of the COUNT): the job records whose entries it builds from.
    per_importer = dict(
        svc.eligible_classifications(
            organization, importer_ids=importer_ids, entry_numbers=entry_numbers, paths=paths, urgent_only=urgent_only
        ).order_by().values("importer_id").annotate(n=Count("entry_id")).values_list("importer_id", "n")
    )
    candidates = sum(per_importer.values())
    params = {
        "importer_ids": list(importer_ids) if importer_ids is not None else None,
        "entry_numbers": list(entry_numbers) if entry_numbers is not None else None,
        "paths": [str(p) for p in paths] if paths is not None else None,
        "urgent_only": bool(urgent_only), "mixed": bool(mixed), "name": name,
    }
    background = candidates >= SYNC_LIMIT
    with transaction.atomic():
        job = DeclarationBuildJob.objects.create(
            organization=organization, created_by=user if getattr(user, "is_authenticated", False) else None,
            params=params, candidates=candidates,
            message="Waiting for a worker to start…" if background else "",
        )
        job.importers.add(*{*per_importer, *(int(i) for i in importer_ids or [])})
        audit(action="declaration.build_job_start", user=user, organization=organization, obj=job, candidates=candidates,
              background=background, importers=params["importer_ids"], mixed=params["mixed"])
        if background:
            pk = job.pk

            def enqueue() -> None:
                from cape.tasks import build_declarations

                build_declarations.delay(pk)

            transaction.on_commit(enqueue)
    if not background:
        return declaration_build_job_run(job_id=job.pk)
    return job


def _claim(job_id: int, message: str = "Selecting the entries…") -> bool:
    return bool(
        DeclarationBuildJob.objects.filter(pk=job_id, status=J.PENDING).update(
            status=J.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, done=0, message=message
        )
    )


class _ProgressWriter:
    """Stores the build's progress where the polling page can read it before the build commits.

    PostgreSQL: through a second connection (autocommit), as the ES-003 load does. SQLite has one
    writer at a time: progress inside the build's transaction would wait for itself, so only the
    updates made outside it (after the plan, during the checks) are stored."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.side = connections.create_connection("default") if connection.vendor == "postgresql" else None

    def __call__(self, done: int, total: int, message: str) -> None:
        table = DeclarationBuildJob._meta.db_table
        if self.side is not None:
            with self.side.cursor() as cur:
                cur.execute(f"UPDATE {table} SET done = %s, total = %s, message = %s WHERE id = %s",
                            [done, total, message[:500], self.job_id])
        elif not connection.in_atomic_block:
            DeclarationBuildJob.objects.filter(pk=self.job_id).update(done=done, total=total, message=message[:500])

    def close(self) -> None:
        if self.side is not None:
            with contextlib.suppress(Exception):
                self.side.close()


def _fail(job: DeclarationBuildJob, message: str) -> None:
    DeclarationBuildJob.objects.filter(pk=job.pk).update(status=J.FAILED, message=message[:500], finished_at=timezone.now())
    audit(action="declaration.build_job_fail", user=job.created_by, organization=job.organization, obj=job,
          reason=message[:500])


def _release_orphan(job: DeclarationBuildJob, *, enqueue: bool) -> str:
    """Put a running job whose worker is known to be gone back to pending (enqueued again when asked),
    or fail it once it has been claimed ``max_attempts()`` times (a build that kills its worker every time
    must not loop). Conditional on status and attempts, so two recoverers never both act on one row."""
    if job.attempts >= max_attempts():
        count = len(job.declaration_ids or [])
        if count:
            message = INTERRUPTED_CHECKING_MESSAGE.format(attempts=job.attempts, count=count, s="" if count == 1 else "s",
                                                          were="was" if count == 1 else "were")
        else:
            message = INTERRUPTED_MESSAGE.format(attempts=job.attempts)
        with transaction.atomic():
            changed = DeclarationBuildJob.objects.filter(pk=job.pk, status=J.RUNNING, attempts=job.attempts).update(
                status=J.FAILED, message=message[:500], finished_at=timezone.now())
            if changed:
                audit(action="declaration.build_job_fail", user=job.created_by, organization=job.organization, obj=job,
                      reason="interrupted", attempts=job.attempts)
        forget_lock(LOCK_KIND, job.pk)
        return "failed" if changed else "not_running"
    with transaction.atomic():
        changed = DeclarationBuildJob.objects.filter(pk=job.pk, status=J.RUNNING, attempts=job.attempts).update(
            status=J.PENDING, started_at=None,
            message=REQUEUED_MESSAGE.format(next=job.attempts + 1, max=max_attempts())[:500])
        if changed:
            audit(action="declaration.build_job_requeue", user=None, organization=job.organization, obj=job,
                  reason="worker stopped", attempts=job.attempts)
            if enqueue:
                pk = job.pk

                def again() -> None:
                    from cape.tasks import build_declarations

                    build_declarations.delay(pk)

                transaction.on_commit(again)
    return "requeued" if changed else "not_running"


def _job_for_recovery(job_id: int) -> DeclarationBuildJob | None:
    return DeclarationBuildJob.objects.select_related("organization", "created_by").filter(pk=job_id).first()


def build_job_release_if_orphaned(*, job_id: int, enqueue: bool = False) -> str:
    """If the job is ``running`` but no live process holds its liveness lock, put it back to pending (or
    fail it after too many attempts). Returns "requeued", "failed", "alive" or "not_running"."""
    job = _job_for_recovery(job_id)
    if job is None or job.status != J.RUNNING:
        return "not_running"
    if is_alive(LOCK_KIND, job_id):
        return "alive"
    return _release_orphan(job, enqueue=enqueue)


@dataclass
class BuildRecovery:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    still_running: list[int] = field(default_factory=list)
    never_started: list[int] = field(default_factory=list)


def _fail_never_started() -> list[int]:
    """Fail jobs never claimed (attempts 0) NEVER_STARTED_LIMIT after they were started. A requeued job has
    been claimed before, and its new message was sent just now by the sweep."""
    old = DeclarationBuildJob.objects.filter(status=J.PENDING, attempts=0,
                                             created_at__lte=timezone.now() - NEVER_STARTED_LIMIT)
    failed = []
    for job in old.select_related("organization", "created_by").order_by("pk"):
        with transaction.atomic():
            if DeclarationBuildJob.objects.filter(pk=job.pk, status=J.PENDING, attempts=0).update(
                    status=J.FAILED, message=NEVER_STARTED_MESSAGE, finished_at=timezone.now()):
                audit(action="declaration.build_job_fail", user=job.created_by, organization=job.organization, obj=job,
                      reason="never started")
                failed.append(job.pk)
    return failed


def build_jobs_recover(*, stale_after: timedelta | None = None) -> BuildRecovery:
    """Requeue (or fail) every build job left ``running`` by a worker that is gone. Jobs claimed less than
    ``stale_after`` (default: UPLOAD_RECOVERY_GRACE_SECONDS) ago are left alone. Jobs no worker ever
    claimed are failed after NEVER_STARTED_LIMIT."""
    result = BuildRecovery(never_started=_fail_never_started())
    cutoff = timezone.now() - (grace_period() if stale_after is None else stale_after)
    sweep_orphaned(DeclarationBuildJob.objects.filter(status=J.RUNNING), cutoff=cutoff, result=result,
                   release=lambda pk: build_job_release_if_orphaned(job_id=pk, enqueue=True))
    if result.requeued or result.failed or result.never_started:
        logger.warning("declaration build recovery: requeued %s, failed %s, never started %s", result.requeued,
                       result.failed, result.never_started)
    return result


def declaration_build_job_run(*, job_id: int, progress: Callable[[int, int, str], None] | None = None) -> DeclarationBuildJob:
    """Claim a pending job and build (or finish the checks of a build whose declarations were saved before
    its worker died). Returns the job (done or failed), or as found if it was not pending.

    The job's liveness lock is held from before the claim to the end, so holding it proves that a job
    found ``running`` has lost its worker (a message redelivered after the worker was killed); a delivery
    that cannot take it returns at once."""
    with running_lock(LOCK_KIND, job_id, wait=False) as held:
        if not held:  # a duplicate delivery while a live process builds it: leave the job to that one
            return DeclarationBuildJob.objects.select_related("organization", "created_by").get(pk=job_id)
        found = _job_for_recovery(job_id)
        if found is not None and found.status == J.RUNNING:
            _release_orphan(found, enqueue=False)
        resuming = found is not None and bool(found.declaration_ids)
        claimed = _claim(job_id, "Checking the saved declarations (preflight)…" if resuming else "Selecting the entries…")
        job = DeclarationBuildJob.objects.select_related("organization", "created_by").get(pk=job_id)
        if claimed:
            _run_claimed(job, progress)
    if job.is_finished:
        forget_lock(LOCK_KIND, job_id)
    return job


def _run_claimed(job: DeclarationBuildJob, progress: Callable[[int, int, str], None] | None) -> None:
    p = job.params
    writer = _ProgressWriter(job.pk)
    last_total = [job.total]
    saved = bool(job.declaration_ids)

    def report(done: int, total: int, message: str) -> None:
        last_total[0] = total
        writer(done, total, message)
        if progress is not None:
            progress(done, total, message)

    try:
        if job.declaration_ids:
            # Saved by an earlier attempt whose worker died while checking: write nothing, finish the checks.
            by_id = {d.pk: d for d in Declaration.objects.filter(pk__in=job.declaration_ids).select_related("organization")}
            declarations = [by_id[i] for i in job.declaration_ids if i in by_id]
        else:
            with transaction.atomic():
                result = svc.declaration_build(
                    organization=job.organization, user=job.created_by, importer_ids=p.get("importer_ids"),
                    entry_numbers=p.get("entry_numbers"), paths=p.get("paths"), urgent_only=bool(p.get("urgent_only")),
                    mixed=bool(p.get("mixed")), name=p.get("name") or "", progress=report, run_checks=False,
                )
                declarations = result.declarations
                # In the build's transaction: the declarations and the job's record of them commit together.
                # (Last in it: the progress writer's own connection would wait on this row's lock.)
                job.importers.add(*result.importer_ids)  # entries classified since the job started included
                DeclarationBuildJob.objects.filter(pk=job.pk).update(
                    declaration_ids=[d.pk for d in declarations], considered=result.considered,
                    left_out=[{"entry_number": x.entry_number, "reason": x.reason} for x in result.left_out[:LEFT_OUT_KEPT]],
                    left_out_count=len(result.left_out), total=last_total[0],
                )
            saved = bool(declarations)
        entries = sum(d.entry_count for d in declarations)
        total, done = 2 * entries, entries
        for n, decl in enumerate(declarations, start=1):
            if not decl.preflight:  # a declaration checked before a worker died keeps its stored result
                svc.declaration_preflight(declaration=decl, user=job.created_by)
            done += decl.entry_count
            report(done, total, f"Checked declaration {n} of {len(declarations)} (preflight)")
    except ServiceError as exc:
        _fail(job, exc.message)
    except Exception as exc:
        logger.exception("declaration build job %s failed", job.pk)
        if saved:
            _fail(job, f"The build stopped on an unexpected error ({exc.__class__.__name__}) while checking its "
                       "declarations. They were saved as drafts on the CAPE page: open each one and run its checks "
                       "(preflight) before you export it; if it happens again, contact support.")
        else:
            _fail(job, f"The build stopped on an unexpected error ({exc.__class__.__name__}); no declaration was saved. "
                       "Try again; if it happens again, contact support.")
    else:
        built = len(declarations)
        DeclarationBuildJob.objects.filter(pk=job.pk).update(
            status=J.DONE, finished_at=timezone.now(), done=last_total[0], total=last_total[0],
            message=(f"Built {built} declaration{'' if built == 1 else 's'} with {entries:,} entries."
                     if built else "No declaration built: no eligible entry that is not already on a declaration."),
        )
        job.refresh_from_db(fields=["left_out_count"])
        audit(action="declaration.build_job_done", user=job.created_by, organization=job.organization, obj=job,
              declarations=[d.pk for d in declarations], left_out=job.left_out_count)
    finally:
        writer.close()
    job.refresh_from_db()
