"""A worker killed with SIGKILL in the middle of an ingest or a classification (issue 9, Faults).

Real worker processes (tests.conftest.start_worker) on the configured broker: the filesystem transport
by default, Redis when REDIS_URL is set (CI's PostgreSQL run). The job is retried (or failed with a clear
message after too many attempts); while the worker is dead no half-ingested entry is visible; the re-run
gives exactly the data a clean run gives.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditLog
from cape.selectors import classifications_for, entries_for
from entries.ingest.cli import ingest_files
from entries.ingest.intake import upload_create
from entries.models import Upload
from entries.recovery import INTERRUPTED_MESSAGE, max_attempts, uploads_recover
from tests.conftest import start_worker, wait_for
from tests.reliability.conftest import (
    assert_entries_whole,
    dump_classifications,
    dump_entries,
    eager,
    wait_while_progressing,
)


def _clean_run(org, files) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    from cape.classify import classify_organization, today_eastern

    with eager():
        result = ingest_files(organization=org, paths=[files["small"], files["large"]])
    assert not result.fatal_errors
    classify_organization(organization=org, as_of=today_eastern())
    return dump_entries(org.pk), dump_classifications(org.pk)


def _wipe(org) -> None:  # type: ignore[no-untyped-def]
    from cape.models import ClassificationChange
    from entries.models import TariffLine

    TariffLine.objects.filter(entry__in=entries_for(org)).delete()
    ClassificationChange.objects.filter(entry__in=entries_for(org)).delete()
    classifications_for(org).delete()
    entries_for(org).delete()
    Upload.objects.filter(organization=org).delete()


def _enqueue_upload(org, user, path) -> Upload:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        return upload_create(organization=org, user=user, file=SimpleUploadedFile(path.name, path.read_bytes()))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_ingest_leaves_no_half_entry_and_the_rerun_equals_a_clean_run(
    celery_worker_process, importer_org, alice, es003_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clean_entries, _ = _clean_run(importer_org, es003_files)
    assert len(clean_entries) > 20_000
    _wipe(importer_org)

    # Before: the small report is in (so "no half entry" is checked on real rows, not an empty table).
    with eager():
        ingest_files(organization=importer_org, paths=[es003_files["small"]])
    before = dump_entries(importer_org.pk)
    upload = _enqueue_upload(importer_org, alice, es003_files["large"])
    wait_for(lambda: Upload.objects.filter(pk=upload.pk, status="running", rows_read__gt=0).exists(), timeout=120)
    celery_worker_process.kill()

    # While the worker is dead: the upload is stuck running, nothing of it is visible, every entry is whole.
    upload.refresh_from_db()
    assert upload.status == "running" and upload.attempts == 1
    assert dump_entries(importer_org.pk) == before
    assert assert_entries_whole(importer_org.pk) == len(before)

    # A new worker starts; at start it recovers what the dead one left (once the grace period has passed).
    Upload.objects.filter(pk=upload.pk).update(started_at=timezone.now() - timedelta(hours=1))
    replacement = start_worker(tmp_path, celery_worker_process.queue)
    try:
        done = wait_for(lambda: Upload.objects.filter(pk=upload.pk, status__in=["done", "failed"]).first(), timeout=240)
        assert done.status == "done", (done.error_message, replacement.output()[-3000:])
        assert done.attempts == 2
        assert AuditLog.objects.filter(
            organization=importer_org, action="upload.requeue", object_id=str(upload.pk)
        ).exists()
        assert_entries_whole(importer_org.pk)
        assert dump_entries(importer_org.pk) == clean_entries
    finally:
        replacement.proc.terminate()
        replacement.proc.wait(timeout=30)


@pytest.mark.django_db
def test_an_upload_that_kills_its_worker_every_time_ends_failed_with_a_clear_message(
    importer_org, alice, es003_files, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """After UPLOAD_MAX_ATTEMPTS claims with no live worker, the sweep fails it instead of looping."""
    with django_capture_on_commit_callbacks(execute=False):
        upload = _enqueue_upload(importer_org, alice, es003_files["small"])
    Upload.objects.filter(pk=upload.pk).update(
        status="running", attempts=max_attempts(), started_at=timezone.now() - timedelta(hours=1)
    )
    result = uploads_recover()
    assert result.failed == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == "failed"
    assert upload.error_message == INTERRUPTED_MESSAGE.format(attempts=max_attempts())
    assert "Nothing from this file was stored" in upload.error_message
    assert not entries_for(importer_org).exists()


@pytest.mark.django_db
def test_a_live_upload_is_never_taken_from_its_worker(
    importer_org, alice, es003_files, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from entries.recovery import upload_running_lock

    with django_capture_on_commit_callbacks(execute=False):
        upload = _enqueue_upload(importer_org, alice, es003_files["small"])
    Upload.objects.filter(pk=upload.pk).update(
        status="running", attempts=1, started_at=timezone.now() - timedelta(hours=1)
    )
    with upload_running_lock(upload.pk):
        assert uploads_recover().still_running == [upload.pk]
    assert uploads_recover().requeued == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == "pending"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_classification_is_recovered_and_matches_a_clean_run(
    celery_worker_process, importer_org, alice, es003_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from cape.classify import today_eastern
    from cape.recovery import classifications_recover
    from cape.tasks import classify_organization

    _, clean_classifications = _clean_run(importer_org, es003_files)
    total = entries_for(importer_org).count()
    classifications_for(importer_org).delete()

    def stored() -> int:
        return classifications_for(importer_org).count()

    classify_organization.delay(importer_org.pk, today_eastern().isoformat())
    # Chunks of 2,000 commit one by one: kill once some (not all) are stored. The waits fail on a stall, a
    # dead worker or a generous ceiling, not on a fixed total time that a loaded machine can overrun (one of the old fixed waits once did).
    wait_while_progressing(stored, lambda n: n >= 2000, worker=celery_worker_process, stall=180, interval=0.05)
    celery_worker_process.kill()
    at_kill = stored()
    assert 0 < at_kill < total, "the classification finished before the kill: make the data larger"
    assert assert_entries_whole(importer_org.pk) == total

    # The replacement's own start-up sweep is told to leave the classification alone (a long grace period), so
    # that the sweep below is the one that finds the unclassified entries, however long the clean run took.
    replacement = start_worker(tmp_path, celery_worker_process.queue, {"UPLOAD_RECOVERY_GRACE_SECONDS": "86400"})
    try:
        # The sweep (beat, every minute) finds the entries left unclassified and enqueues their organisation.
        assert classifications_recover(stale_after=timedelta(0)) == [importer_org.pk]
        wait_while_progressing(stored, lambda n: n == total, worker=replacement, stall=180)
        assert dump_classifications(importer_org.pk) == clean_classifications
        assert classifications_recover(stale_after=timedelta(0)) == []
    finally:
        replacement.proc.terminate()
        replacement.proc.wait(timeout=30)
