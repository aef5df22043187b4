"""cape's part of the recovery of work a dead worker left behind (entries.recovery): the classifications it
left undone, and the classification runs and declaration builds it left running (both on the one job runtime,
entries.jobs). Run by entries.recovery.interrupted_work_recover
(beat, and once at worker start) through the ``entries.signals.work_recovering`` hook, connected in
CapeConfig.ready."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from accounts.selectors import organizations_seeing
from cape.build_jobs import build_jobs_recover
from cape.classify import classification_runs_recover, today_eastern
from cape.models import ClassificationRun
from cape.tasks import classify_organization, classify_run
from entries.models import Entry
from entries.recovery import RecoveryResult, grace_period


def organizations_needing_classification(*, stale_after: timedelta | None = None) -> list[int]:
    """Organisations with an entry never classified, or changed after its classification, for longer
    than the grace period (the classify task an upload enqueued on commit has had its chance)."""

    cutoff = timezone.now() - (grace_period() if stale_after is None else stale_after)
    stale = Entry.objects.filter(updated_at__lte=cutoff).filter(
        Q(classification__isnull=True) | Q(updated_at__gt=F("classification__computed_at"))
    )
    importers = stale.order_by().values("importer_id").distinct()
    return sorted(organizations_seeing(importers).values_list("pk", flat=True))


def classifications_recover(*, stale_after: timedelta | None = None, as_of: Any = None) -> list[int]:
    """Enqueue the nightly classification for organisations whose classification was interrupted, and run
    again the queued reclassifications (cape.classify.reclassify_later) that no worker finished."""
    day = (as_of or today_eastern()).isoformat()
    org_ids = organizations_needing_classification(stale_after=stale_after)
    for org_id in org_ids:
        classify_organization.delay(org_id, day)
    cutoff = timezone.now() - (grace_period() if stale_after is None else stale_after)
    left = ClassificationRun.objects.filter(kind=ClassificationRun.Kind.CHANGE, created_at__lte=cutoff,
                                            status__in=(ClassificationRun.Status.PENDING, ClassificationRun.Status.RUNNING))
    for run_id in left.values_list("pk", flat=True):
        classify_run.delay(run_id)
    return org_ids


def recover_interrupted_work(sender: Any, *, result: RecoveryResult, stale_after: timedelta | None,
                             locked_stale_after: timedelta | None, **kwargs: Any) -> None:
    """entries.signals.work_recovering: after the uploads, enqueue the undone classifications (grace period
    kept: they hold no lock) and requeue or fail the classification runs and builds left running (as the uploads:
    ``locked_stale_after``)."""
    result.organizations_reclassified = classifications_recover(stale_after=stale_after)
    runs = classification_runs_recover(stale_after=locked_stale_after)
    result.runs_requeued, result.runs_failed = runs.requeued, runs.failed + runs.never_started
    builds = build_jobs_recover(stale_after=locked_stale_after)
    result.builds_requeued, result.builds_failed = builds.requeued, builds.failed + builds.never_started
