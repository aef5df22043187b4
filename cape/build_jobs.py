"""Declaration builds as jobs: a row with status and progress that the page and the API poll.

A small build (fewer than ``SYNC_LIMIT`` candidate entries) runs at once, in the request, through the
same job so the page and the API answer the same way whatever the size; a large one (a broker with up
to a million entries) is handed to a worker on commit (cape.tasks.build_declarations). The worker claims
the row with a conditional UPDATE (pending → running) so a duplicate delivery never builds twice; the
build itself is ``cape.declarations.declaration_build``, unchanged.

A worker killed mid-build (issue 9): the run holds the job's liveness lock (refundready.jobs.running_lock)
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

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from cape import declarations as svc
from cape.models import Declaration, DeclarationBuildJob
from entries import jobs
from refundready.jobs import (
    NEVER_STARTED_LIMIT,  # noqa: F401 - re-exported: the runtime's rule, shown in the words
    forget_lock,
    is_transient_db_error,
    max_attempts,
    running_lock,
)

logger = logging.getLogger(__name__)

J = DeclarationBuildJob.Status
# Below this many candidate entries the build answers in the request (about a second on SQLite);
# above it a worker builds while the page shows the progress bar.
SYNC_LIMIT = 20_000
# Left-out entries kept on the job row (the count is always exact): every one of a small build's, so the
# page and the API list them all as they did before builds became jobs; the first ones of a large build.
LEFT_OUT_KEPT = SYNC_LIMIT
LOCK_KIND = DeclarationBuildJob.lock_kind

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
# A job no worker claimed within NEVER_STARTED_LIMIT (refundready.jobs, 24 hours) is failed by the sweep with
# these words rather than leave "Waiting for a worker" up forever.
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
                # Here, not at the top: cape.tasks imports this module (a task calls its service).
                from cape.tasks import build_declarations

                build_declarations.delay(pk)

            transaction.on_commit(enqueue)
    if not background:
        return declaration_build_job_run(job_id=job.pk)
    return job


def _enqueue(job_id: int) -> None:
    # Here, not at the top: cape.tasks imports this module (a task calls its service).
    from cape.tasks import build_declarations

    build_declarations.delay(job_id)


def _interrupted_message(job: DeclarationBuildJob) -> str:
    count = len(job.declaration_ids or [])
    if count:
        return INTERRUPTED_CHECKING_MESSAGE.format(attempts=job.attempts, count=count, s="" if count == 1 else "s",
                                                   were="was" if count == 1 else "were")
    return INTERRUPTED_MESSAGE.format(attempts=job.attempts)


BUILD_JOB = jobs.JobType(
    name="declaration build",
    model=DeclarationBuildJob,
    enqueue=_enqueue,
    interrupted_message=_interrupted_message,
    never_started_message=NEVER_STARTED_MESSAGE,
    requeue_values=lambda job: {"message": REQUEUED_MESSAGE.format(next=job.attempts + 1, max=max_attempts())[:500]},
    audit_prefix="declaration.build_job_",
    audit_user=lambda job: job.created_by,
    related=("organization", "created_by"),
)


def _claim(job_id: int, message: str = "Selecting the entries…") -> bool:
    return jobs.claim(BUILD_JOB, job_id, done=0, message=message)


def _fail(job: DeclarationBuildJob, message: str) -> None:
    jobs.fail(BUILD_JOB, job, message)


def _job_for_recovery(job_id: int) -> DeclarationBuildJob | None:
    return BUILD_JOB.load(job_id)


def build_job_release_if_orphaned(*, job_id: int, enqueue: bool = False) -> str:
    """If the job is ``running`` but no live process holds its liveness lock, put it back to pending (or
    fail it after too many attempts). Returns "requeued", "failed", "alive" or "not_running"."""
    return jobs.release_if_orphaned(BUILD_JOB, job_id, enqueue=enqueue)


def build_jobs_recover(*, stale_after: timedelta | None = None) -> jobs.JobRecovery:
    """Requeue (or fail) every build job left ``running`` by a worker that is gone. Jobs claimed less than
    ``stale_after`` (default: UPLOAD_RECOVERY_GRACE_SECONDS) ago are left alone. Jobs no worker ever
    claimed are failed after NEVER_STARTED_LIMIT."""
    return jobs.sweep(BUILD_JOB, stale_after=stale_after)


def declaration_build_job_run(*, job_id: int, progress: Callable[[int, int, str], None] | None = None,
                              retry_transient: bool = False) -> DeclarationBuildJob:
    """Claim a pending job and build (or finish the checks of a build whose declarations were saved before
    its worker died). Returns the job (done or failed), or as found if it was not pending.

    The job's liveness lock is held from before the claim to the end, so holding it proves that a job
    found ``running`` has lost its worker (a message redelivered after the worker was killed); a delivery
    that cannot take it returns at once.

    ``retry_transient`` (the worker's task): a transient database error (the server restarted, the connection
    was cut) is raised with the job left running, for the task's retry to release and claim it again, instead
    of failing the job; in a request the job is failed with its message as before."""
    with running_lock(LOCK_KIND, job_id, wait=False) as held:
        if not held:  # a duplicate delivery while a live process builds it: leave the job to that one
            return DeclarationBuildJob.objects.select_related("organization", "created_by").get(pk=job_id)
        found = _job_for_recovery(job_id)
        if found is not None and found.status == J.RUNNING:
            jobs.release_orphan(BUILD_JOB, found, enqueue=False)
        resuming = found is not None and bool(found.declaration_ids)
        claimed = _claim(job_id, "Checking the saved declarations (preflight)…" if resuming else "Selecting the entries…")
        job = DeclarationBuildJob.objects.select_related("organization", "created_by").get(pk=job_id)
        if claimed:
            _run_claimed(job, progress, retry_transient=retry_transient)
    if job.is_finished:
        forget_lock(LOCK_KIND, job_id)
    return job


def _run_claimed(job: DeclarationBuildJob, progress: Callable[[int, int, str], None] | None, *,
                 retry_transient: bool = False) -> None:
    p = job.params
    channel = BUILD_JOB.channel(job.pk)
    last_total = [job.total]
    saved = bool(job.declaration_ids)

    def report(done: int, total: int, message: str) -> None:
        last_total[0] = total
        channel.write(done=done, total=total, message=message[:500])
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
        if retry_transient and is_transient_db_error(exc):
            # Nothing unfinished was committed; left running, the task's retry takes it again (raised as Django's
            # error: a COPY on the raw cursor raises psycopg's).
            raise OperationalError(f"{exc.__class__.__name__}: {exc}") from exc
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
        channel.close()
    job.refresh_from_db()
