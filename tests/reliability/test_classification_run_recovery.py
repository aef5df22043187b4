"""Classification runs on the one job runtime (issue #21 item 2): what the sweep and a redelivered message do
with a run whose worker died, in this process (SQLite or PostgreSQL). The real-worker kill and database cut
are in test_classification_run_kill.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cape.classify import (
    RUN_INTERRUPTED_MESSAGE,
    RUN_NEVER_STARTED_MESSAGE,
    reclassify_later,
    run_queued,
)
from cape.models import Classification, ClassificationRun
from entries.models import Upload
from entries.recovery import NEVER_STARTED_MESSAGE, interrupted_work_recover, max_attempts
from refundready.jobs import NEVER_STARTED_LIMIT, is_alive, running_lock
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db
R = ClassificationRun.Status


def _queued_run(org, importer) -> ClassificationRun:  # type: ignore[no-untyped-def]
    for _ in range(3):
        eligible_entry(importer)
    Classification.objects.filter(importer=importer).delete()
    run = reclassify_later(organization=org, importer_ids=[importer.pk])
    assert run is not None
    return run


def _left_running(run: ClassificationRun, attempts: int = 1) -> None:
    """As a worker killed mid-run leaves the row: running, claimed an hour ago, its lock free."""
    ClassificationRun.objects.filter(pk=run.pk).update(status=R.RUNNING, attempts=attempts, done=1,
                                                       started_at=timezone.now() - timedelta(hours=1))


def test_a_run_whose_worker_died_is_requeued_by_the_sweep_and_its_task_sent_again(importer_org, own_importer,
                                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cape.tasks import classify_run

    sent: list[int] = []
    monkeypatch.setattr(classify_run, "delay", lambda pk: sent.append(pk))
    run = _queued_run(importer_org, own_importer)
    _left_running(run)
    result = interrupted_work_recover(stale_after=timedelta(minutes=2))
    assert result.runs_requeued == [run.pk] and result.runs_failed == []
    run.refresh_from_db()
    assert (run.status, run.attempts, run.started_at, run.done) == (R.PENDING, 1, None, 0)


def test_a_redelivered_message_for_a_dead_workers_run_runs_it_once_more(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    run = _queued_run(importer_org, own_importer)
    _left_running(run)
    assert run_queued(run.pk) == 3
    run.refresh_from_db()
    assert (run.status, run.attempts, run.done, run.total, run.error) == (R.DONE, 2, 3, 3, "")
    assert Classification.objects.filter(importer=own_importer).count() == 3
    assert not is_alive("classify", run.pk)


def test_a_run_interrupted_too_often_is_failed_with_a_clear_message(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    run = _queued_run(importer_org, own_importer)
    _left_running(run, attempts=max_attempts())
    result = interrupted_work_recover(stale_after=timedelta(minutes=2))
    assert result.runs_failed == [run.pk] and result.runs_requeued == []
    run.refresh_from_db()
    assert run.status == R.FAILED and run.finished_at is not None
    assert run.error == RUN_INTERRUPTED_MESSAGE.format(attempts=max_attempts())
    assert "Entries keep their previous results" in run.error
    # A late redelivery of its message does not loop on it.
    ClassificationRun.objects.filter(pk=run.pk).update(status=R.RUNNING)
    assert run_queued(run.pk) == 0
    assert ClassificationRun.objects.get(pk=run.pk).status == R.FAILED


def test_a_live_run_is_never_taken_from_its_worker(importer_org, own_importer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cape.tasks import classify_organization, classify_run

    # Only the sweep acts here (the search for unclassified entries would run the run eagerly).
    monkeypatch.setattr(classify_run, "delay", lambda *args: None)
    monkeypatch.setattr(classify_organization, "delay", lambda *args: None)
    run = _queued_run(importer_org, own_importer)
    _left_running(run)
    with running_lock("classify", run.pk):
        result = interrupted_work_recover(stale_after=timedelta(0))
        assert result.runs_requeued == [] and result.runs_failed == []
        assert ClassificationRun.objects.get(pk=run.pk).status == R.RUNNING
    # And an upload's or a build's lock of the same number is not the run's.
    with running_lock("upload", run.pk), running_lock("build", run.pk):
        assert interrupted_work_recover(stale_after=timedelta(0)).runs_requeued == [run.pk]


def test_jobs_no_worker_ever_started_are_failed_after_a_day_each_in_its_own_words(importer_org, own_importer, alice,
                                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cape.tasks import classify_run

    monkeypatch.setattr(classify_run, "delay", lambda pk: None)
    run = _queued_run(importer_org, own_importer)
    upload = Upload.objects.create(organization=importer_org, uploaded_by=alice, original_name="lost.csv", file="x.csv")
    recent = Upload.objects.create(organization=importer_org, uploaded_by=alice, original_name="queued.csv", file="y.csv")
    old = timezone.now() - NEVER_STARTED_LIMIT - timedelta(minutes=1)
    ClassificationRun.objects.filter(pk=run.pk).update(created_at=old)
    Upload.objects.filter(pk=upload.pk).update(created_at=old)

    result = interrupted_work_recover(stale_after=timedelta(minutes=2))
    assert result.runs_failed == [run.pk] and result.failed == [upload.pk]
    run.refresh_from_db()
    upload.refresh_from_db()
    assert (run.status, run.error) == (R.FAILED, RUN_NEVER_STARTED_MESSAGE)
    assert (upload.status, upload.error_message) == (Upload.Status.FAILED, NEVER_STARTED_MESSAGE)
    assert Upload.objects.get(pk=recent.pk).status == Upload.Status.PENDING
