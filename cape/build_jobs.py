"""Declaration builds as jobs: a row with status and progress that the page and the API poll.

A small build (fewer than ``SYNC_LIMIT`` candidate entries) runs at once, in the request, through the
same job so the page and the API answer the same way whatever the size; a large one (a broker with up
to a million entries) is handed to a worker on commit (cape.tasks.build_declarations). The worker claims
the row with a conditional UPDATE (pending → running) so a duplicate delivery never builds twice; the
build itself is ``cape.declarations.declaration_build``, unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from cape import declarations as svc
from cape.models import DeclarationBuildJob

logger = logging.getLogger(__name__)

J = DeclarationBuildJob.Status
# Below this many candidate entries the build answers in the request (about a second on SQLite);
# above it a worker builds while the page shows the progress bar.
SYNC_LIMIT = 20_000
# Left-out entries kept on the job row (the count is always exact): every one of a small build's, so the
# page and the API list them all as they did before builds became jobs; the first ones of a large build.
LEFT_OUT_KEPT = SYNC_LIMIT


def build_jobs_for(organization: Organization | None) -> QuerySet[DeclarationBuildJob]:
    if organization is None:
        return DeclarationBuildJob.objects.none()
    return DeclarationBuildJob.objects.filter(organization=organization)


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
    candidates = svc.eligible_classifications(
        organization, importer_ids=importer_ids, entry_numbers=entry_numbers, paths=paths, urgent_only=urgent_only
    ).count()
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


def _claim(job_id: int) -> bool:
    return bool(
        DeclarationBuildJob.objects.filter(pk=job_id, status=J.PENDING).update(
            status=J.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, done=0
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


def declaration_build_job_run(*, job_id: int, progress: Callable[[int, int, str], None] | None = None) -> DeclarationBuildJob:
    """Claim a pending job and build. Returns the job (done or failed), or as found if it was not pending."""
    claimed = _claim(job_id)
    job = DeclarationBuildJob.objects.select_related("organization", "created_by").get(pk=job_id)
    if not claimed:
        return job
    p = job.params
    writer = _ProgressWriter(job.pk)
    last_total = [0]

    def report(done: int, total: int, message: str) -> None:
        last_total[0] = total
        writer(done, total, message)
        if progress is not None:
            progress(done, total, message)

    try:
        result = svc.declaration_build(
            organization=job.organization, user=job.created_by, importer_ids=p.get("importer_ids"),
            entry_numbers=p.get("entry_numbers"), paths=p.get("paths"), urgent_only=bool(p.get("urgent_only")),
            mixed=bool(p.get("mixed")), name=p.get("name") or "", progress=report,
        )
    except ServiceError as exc:
        _fail(job, exc.message)
    except Exception as exc:
        logger.exception("declaration build job %s failed", job_id)
        _fail(job, f"The build stopped on an unexpected error ({exc.__class__.__name__}); no declaration was saved. "
                   "Try again; if it happens again, contact support.")
    else:
        built = len(result.declarations)
        DeclarationBuildJob.objects.filter(pk=job.pk).update(
            status=J.DONE, finished_at=timezone.now(), done=last_total[0], total=last_total[0],
            declaration_ids=[d.pk for d in result.declarations], considered=result.considered,
            left_out=[{"entry_number": x.entry_number, "reason": x.reason} for x in result.left_out[:LEFT_OUT_KEPT]],
            left_out_count=len(result.left_out),
            message=(f"Built {built} declaration{'' if built == 1 else 's'} with {result.entry_count:,} entries."
                     if built else "No declaration built: no eligible entry that is not already on a declaration."),
        )
        audit(action="declaration.build_job_done", user=job.created_by, organization=job.organization, obj=job,
              declarations=[d.pk for d in result.declarations], left_out=len(result.left_out))
    finally:
        writer.close()
    job.refresh_from_db()
    return job
