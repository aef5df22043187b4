"""A worker that starts takes back at once what a dead worker left running (issue #17 item 17).

The dead worker's leftovers: an upload and a declaration build claimed moments ago (well inside the grace
period, UPLOAD_RECOVERY_GRACE_SECONDS, set to ten minutes here), still ``running``, with no process holding
their liveness locks and their messages gone with the worker. A real worker process starts (no beat): its
worker_ready hook requeues both at once, and it runs them to the end. Before, the start-up sweep kept the
grace period, so both waited for the beat sweep minutes later."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditLog
from ach.models import AchEnrollment
from cape import build_jobs
from cape.models import DeclarationBuildJob
from entries.ingest.intake import upload_create
from entries.models import Upload
from entries.recovery import upload_running_lock
from tests.cape.factories import eligible_entry
from tests.conftest import start_worker, wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "entries" / "fixtures" / "es003_sample.csv"


def _left_running(model: Any, pk: int) -> None:
    """As a worker killed just after its claim leaves the row: running, claimed now, attempt 1."""
    model.objects.filter(pk=pk).update(status="running", attempts=1, started_at=timezone.now())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_requeues_a_dead_workers_upload_and_build_at_once(importer_org, alice, own_importer, tmp_path,
                                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cape.tasks import build_declarations
    from entries.tasks import process_upload

    # The messages went with the dead worker: nothing is enqueued for either job.
    monkeypatch.setattr(process_upload, "delay", lambda *args, **kwargs: None)
    monkeypatch.setattr(build_declarations, "delay", lambda *args, **kwargs: None)
    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    for _ in range(3):
        eligible_entry(own_importer)
    with transaction.atomic():
        upload = upload_create(organization=importer_org, user=alice, file=_named(SAMPLE))
    job = build_jobs.declaration_build_job_start(organization=importer_org, user=alice)
    _left_running(Upload, upload.pk)
    _left_running(DeclarationBuildJob, job.pk)

    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(tmp_path, queue, {"UPLOAD_RECOVERY_GRACE_SECONDS": "600"})
    try:
        done = wait_for(lambda: Upload.objects.filter(pk=upload.pk, status__in=["done", "failed"]).first(), timeout=60)
        assert done.status == "done", (done.error_message, worker.output()[-3000:])
        assert done.attempts == 2
        built = wait_for(lambda: DeclarationBuildJob.objects.filter(pk=job.pk, status__in=["done", "failed"]).first(), timeout=60)
        assert built.status == "done", (built.message, worker.output()[-3000:])
        requeued = set(AuditLog.objects.filter(organization=importer_org, action__in=["upload.requeue", "declaration.build_job_requeue"])
                       .values_list("action", "object_id"))
        assert requeued == {("upload.requeue", str(upload.pk)), ("declaration.build_job_requeue", str(job.pk))}
    finally:
        worker.proc.terminate()
        worker.proc.wait(timeout=30)


def _named(path: Path) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(path.name, path.read_bytes())


@pytest.mark.django_db
def test_a_running_upload_whose_lock_is_held_is_left_to_its_process_at_worker_start(importer_org, alice,
                                                                                      django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from entries.recovery import interrupted_work_recover

    with django_capture_on_commit_callbacks(execute=False):
        upload = upload_create(organization=importer_org, user=alice, file=_named(SAMPLE))
    _left_running(Upload, upload.pk)
    with upload_running_lock(upload.pk):  # a live worker (or the ingest_es003 command) is processing it
        assert interrupted_work_recover(at_worker_start=True).still_running == [upload.pk]
    # The beat sweep keeps the grace period for a fresh claim whatever the lock says.
    assert interrupted_work_recover().requeued == []
    assert interrupted_work_recover(at_worker_start=True).requeued == [upload.pk]


@pytest.mark.django_db
def test_the_ingest_command_holds_the_uploads_lock_while_it_runs(importer_org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The command claims uploads as a worker does; a worker starting meanwhile must see them alive."""
    from entries.ingest import cli
    from entries.recovery import upload_is_alive

    seen = []
    real = cli.run

    def run(upload, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(upload_is_alive(upload.pk))
        return real(upload, **kwargs)

    monkeypatch.setattr(cli, "run", run)
    call_command("ingest_es003", str(SAMPLE), "--org", importer_org.slug, stdout=io.StringIO(), stderr=io.StringIO())
    assert seen == [True]
    assert not upload_is_alive(Upload.objects.get().pk)
