"""A declaration build job whose worker died (issue 9): the sweep requeues it or, after too many attempts,
fails it with a clear message shown on the build page and in the API; a re-run gives exactly what a clean
run gives, whether the worker died while writing the declarations or while checking them.

The worker's death is simulated in this process by an exception no handler catches (``WorkerKilled`` is a
BaseException, like the SystemExit of a dying process): the build's transaction rolls back exactly as the
server rolls back a killed worker's, and the job row is left as the dead worker leaves it. The same
scenarios with a real worker process and SIGKILL are in test_build_job_kill.py (PostgreSQL + Redis).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from ach.models import AchEnrollment
from cape import build_jobs
from cape import declarations as svc
from cape.build_jobs import (
    INTERRUPTED_CHECKING_MESSAGE,
    INTERRUPTED_MESSAGE,
    NEVER_STARTED_LIMIT,
    NEVER_STARTED_MESSAGE,
    build_jobs_recover,
    declaration_build_job_run,
    declaration_build_job_start,
)
from cape.models import Declaration, DeclarationBuildJob, DeclarationEntry
from entries.recovery import interrupted_work_recover, max_attempts, running_lock
from tests.cape.factories import eligible_entry
from tests.factories import ImporterFactory
from tests.reliability.conftest import dump_builds, wipe_builds

pytestmark = pytest.mark.django_db
J = DeclarationBuildJob.Status


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the build catches it (it is not an Exception)."""


@pytest.fixture
def build_entries(importer_org, alice, own_importer):  # type: ignore[no-untyped-def]
    """Two importers of the organisation with eligible entries (two declarations per build), every build
    sent to the worker as one over SYNC_LIMIT candidates would be."""
    second = ImporterFactory(owner=importer_org, ir_number="93-417726200", name="Blue Heron Outlet LLC")
    for importer in (own_importer, second):
        AchEnrollment.objects.create(importer=importer, status=AchEnrollment.Status.ACTIVE)
        for _ in range(4):
            eligible_entry(importer)
    return importer_org


@pytest.fixture
def background(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)


def _start(org, user, capture) -> DeclarationBuildJob:  # type: ignore[no-untyped-def]
    with capture(execute=False) as callbacks:
        job = declaration_build_job_start(organization=org, user=user)
    assert job.status == J.PENDING and len(callbacks) == 1  # the enqueue, not run here
    return job


def _clean_run(org, user, capture) -> dict:  # type: ignore[no-untyped-def]
    job = _start(org, user, capture)
    assert declaration_build_job_run(job_id=job.pk).status == J.DONE
    reference = dump_builds(org.pk)
    assert len(reference["declarations"]) == 2
    wipe_builds(org.pk)
    return reference


def _dies_while_writing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The worker dies after the first declaration row is written, before its entries are."""

    def killed(declaration_id, entry_ids):  # type: ignore[no-untyped-def]
        raise WorkerKilled

    monkeypatch.setattr(svc, "_insert_items", killed)


def _dies_while_checking(monkeypatch, at_call: int = 2) -> None:  # type: ignore[no-untyped-def]
    """The worker dies during the checks of the ``at_call``-th declaration checked (the ones before are stored)."""
    real = svc.declaration_preflight
    calls = []

    def preflight(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == at_call:
            raise WorkerKilled
        return real(**kwargs)

    monkeypatch.setattr(svc, "declaration_preflight", preflight)


def _stale(job: DeclarationBuildJob) -> None:
    """The dead worker's claim is older than the grace period."""
    DeclarationBuildJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize("phase", ["writing", "checking"])
def test_a_build_whose_worker_died_is_requeued_by_the_sweep_and_the_rerun_equals_a_clean_run(
    phase, build_entries, alice, background, monkeypatch, django_capture_on_commit_callbacks, client
) -> None:  # type: ignore[no-untyped-def]
    org = build_entries
    reference = _clean_run(org, alice, django_capture_on_commit_callbacks)

    job = _start(org, alice, django_capture_on_commit_callbacks)
    with monkeypatch.context() as m:
        (_dies_while_writing if phase == "writing" else _dies_while_checking)(m)
        with pytest.raises(WorkerKilled):
            declaration_build_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == J.RUNNING and job.attempts == 1
    if phase == "writing":
        # No half-built declaration: the declaration row written before the death went with its transaction.
        assert not Declaration.objects.filter(organization=org).exists()
        assert not DeclarationEntry.objects.filter(declaration__organization=org).exists()
        assert job.declaration_ids == []
    else:
        # The declarations and the job's record of them were committed together; one of two is checked.
        saved = list(Declaration.objects.filter(organization=org).order_by("pk"))
        assert job.declaration_ids == [d.pk for d in saved]
        assert [bool(d.preflight) for d in saved] == [True, False]
        assert all(d.items.count() == d.entry_count for d in saved)

    # Within the grace period the job is left alone (a slow worker is not a dead one).
    assert build_jobs_recover().requeued == []
    _stale(job)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert interrupted_work_recover().builds_requeued == [job.pk]
    job.refresh_from_db()
    assert job.status == J.PENDING and job.started_at is None
    assert job.message.startswith("The worker building this stopped before it finished")
    assert f"attempt 2 of {max_attempts()}" in job.message
    client.force_login(alice)
    assert client.get(f"/api/declaration-builds/{job.pk}/").json()["message"] == job.message
    assert AuditLog.objects.filter(action="declaration.build_job_requeue", object_id=str(job.pk)).exists()

    assert len(callbacks) == 1
    callbacks[0]()  # the re-enqueued task (eager in tests)
    job.refresh_from_db()
    assert job.status == J.DONE and job.attempts == 2
    assert dump_builds(org.pk) == reference
    if phase == "checking":
        # Only the declaration whose checks had not been stored was checked again.
        assert AuditLog.objects.filter(action="declaration.preflight").count() == 2 + 2


def test_a_redelivered_message_for_a_dead_workers_build_rebuilds_once(
    build_entries, alice, background, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Redis delivers the message again (acks_late): the task itself finds the job orphaned and builds."""
    from cape.tasks import build_declarations

    org = build_entries
    reference = _clean_run(org, alice, django_capture_on_commit_callbacks)
    job = _start(org, alice, django_capture_on_commit_callbacks)
    with monkeypatch.context() as m:
        _dies_while_writing(m)
        with pytest.raises(WorkerKilled):
            declaration_build_job_run(job_id=job.pk)
    # No grace period here: a redelivery means the delivery before it was lost, and the lock proves it.
    assert build_declarations(job.pk) == J.DONE
    assert build_declarations(job.pk) == J.DONE  # a further duplicate is a no-op
    job.refresh_from_db()
    assert job.attempts == 2
    assert dump_builds(org.pk) == reference


@pytest.mark.parametrize("phase", ["writing", "checking"])
def test_a_build_interrupted_too_often_is_failed_with_a_clear_message_on_its_page_and_in_the_api(
    phase, build_entries, alice, background, monkeypatch, django_capture_on_commit_callbacks, client
) -> None:  # type: ignore[no-untyped-def]
    org = build_entries
    job = _start(org, alice, django_capture_on_commit_callbacks)
    for attempt in range(1, max_attempts() + 1):
        with monkeypatch.context() as m:
            if phase == "writing":
                _dies_while_writing(m)
            else:
                _dies_while_checking(m, at_call=1)
            with pytest.raises(WorkerKilled):
                declaration_build_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == J.RUNNING and job.attempts == attempt
        _stale(job)
        with django_capture_on_commit_callbacks(execute=False):
            result = build_jobs_recover()
        assert (result.requeued, result.failed) == (([job.pk], []) if attempt < max_attempts() else ([], [job.pk]))

    job.refresh_from_db()
    assert job.status == J.FAILED and job.finished_at is not None
    if phase == "writing":
        assert job.message == INTERRUPTED_MESSAGE.format(attempts=max_attempts())
        assert "No declaration was saved" in job.message
        assert not Declaration.objects.filter(organization=org).exists()
    else:
        assert job.message == INTERRUPTED_CHECKING_MESSAGE.format(attempts=max_attempts(), count=2, s="s", were="were")
        assert "2 declarations it built were saved as drafts" in job.message
        assert Declaration.objects.filter(organization=org).count() == 2
    assert AuditLog.objects.filter(action="declaration.build_job_fail", object_id=str(job.pk)).exists()

    client.force_login(alice)
    body = client.get(f"/api/declaration-builds/{job.pk}/").json()
    assert body["status"] == "failed" and body["message"] == job.message
    page = client.get(f"/cape/builds/{job.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-status="failed"' in html and 'role="alert"' in html
    assert job.message.split(" (")[0] in html  # the message itself, not only a status badge
    assert "hx-trigger" not in html  # the page stops polling
    # A failed job stays failed: a late redelivery of its message builds nothing.
    assert declaration_build_job_run(job_id=job.pk).status == J.FAILED


def test_a_live_build_is_never_taken_from_its_worker(
    build_entries, alice, background, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    job = _start(build_entries, alice, django_capture_on_commit_callbacks)
    DeclarationBuildJob.objects.filter(pk=job.pk).update(status=J.RUNNING, attempts=1)
    _stale(job)
    with running_lock(build_jobs.LOCK_KIND, job.pk):  # what a live worker holds while it builds
        assert build_jobs_recover().still_running == [job.pk]
        # A duplicate delivery meanwhile returns at once, building nothing and leaving the job to its worker.
        assert declaration_build_job_run(job_id=job.pk).status == J.RUNNING
        job.refresh_from_db()
        assert job.status == J.RUNNING and job.attempts == 1
        assert not Declaration.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        assert build_jobs_recover().requeued == [job.pk]


def test_an_upload_lock_does_not_count_as_a_build_lock(
    build_entries, alice, background, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Uploads and builds have ids of their own: upload 5's lock must not keep build 5 'alive'."""
    from entries.recovery import upload_running_lock

    job = _start(build_entries, alice, django_capture_on_commit_callbacks)
    DeclarationBuildJob.objects.filter(pk=job.pk).update(status=J.RUNNING, attempts=1)
    _stale(job)
    with upload_running_lock(job.pk), django_capture_on_commit_callbacks(execute=False):
        assert build_jobs_recover().requeued == [job.pk]


def test_a_build_no_worker_ever_started_is_failed_after_a_day_with_a_clear_message(
    build_entries, alice, background, django_capture_on_commit_callbacks, client
) -> None:  # type: ignore[no-untyped-def]
    """Its message was lost (the broker's data went, no worker ran): it must not wait forever."""
    job = _start(build_entries, alice, django_capture_on_commit_callbacks)
    DeclarationBuildJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - NEVER_STARTED_LIMIT + timedelta(minutes=5)
    )
    assert build_jobs_recover().never_started == []  # a long queue is not a lost message
    DeclarationBuildJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - NEVER_STARTED_LIMIT - timedelta(minutes=1)
    )
    # A requeued job (claimed before) is not "never started": its new message was just sent.
    requeued = _start(build_entries, alice, django_capture_on_commit_callbacks)
    DeclarationBuildJob.objects.filter(pk=requeued.pk).update(
        attempts=1, created_at=timezone.now() - NEVER_STARTED_LIMIT - timedelta(hours=1)
    )
    assert build_jobs_recover().never_started == [job.pk]
    job.refresh_from_db()
    assert job.status == J.FAILED and job.message == NEVER_STARTED_MESSAGE
    assert DeclarationBuildJob.objects.get(pk=requeued.pk).status == J.PENDING
    client.force_login(alice)
    assert client.get(f"/api/declaration-builds/{job.pk}/").json()["message"] == NEVER_STARTED_MESSAGE
    assert "No worker started this build within 24 hours" in client.get(f"/cape/builds/{job.pk}/").content.decode()
    # Its message arriving after all builds nothing.
    assert declaration_build_job_run(job_id=job.pk).status == J.FAILED
    assert not Declaration.objects.exists()
