"""A classification run (cape.models.ClassificationRun) on a real worker that is SIGKILLed, or whose database
connection is cut, in the middle of the run (issue #21 item 2: the three kinds of job share one runtime and
one set of fault tests). PostgreSQL, Redis as the broker when REDIS_URL is set (as in CI).

Killed: the run is left ``running`` with its liveness lock free; a new worker's start-up sweep requeues it at
once and runs it to the end, and the classifications equal a clean run's. Cut: the task's retry claims the run
again (attempt 2) and finishes it, with the same result."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from accounts.models import Organization
from cape.classify import reclassify_later
from cape.models import ClassificationRun
from cape.selectors import classifications_for, entries_for
from entries.ingest.cli import ingest_files
from refundready.jobs import is_alive
from tests.conftest import start_worker, wait_for
from tests.reliability.conftest import dump_classifications, eager, wait_while_progressing

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="cutting a backend's connection needs PostgreSQL"),
]
R = ClassificationRun.Status


def _clean_classifications(org: Organization, files: dict[str, Any]) -> list[tuple[Any, ...]]:
    from cape.classify import classify_organization, today_eastern

    with eager():
        result = ingest_files(organization=org, paths=[files["small"], files["large"]])
    assert not result.fatal_errors
    classify_organization(organization=org, as_of=today_eastern())
    clean = dump_classifications(org.pk)
    assert len(clean) > 20_000
    classifications_for(org).delete()
    ClassificationRun.objects.filter(organization=org).delete()
    return clean


def _start_run(org: Organization) -> ClassificationRun:
    """A reclassification over the importers of the organisation's entries, sent to the worker on commit."""
    importer_ids = sorted(set(entries_for(org).order_by().values_list("importer_id", flat=True).distinct()))
    with transaction.atomic():
        run = reclassify_later(organization=org, importer_ids=importer_ids)
    assert run is not None
    return run


def _row(run: ClassificationRun) -> tuple[Any, ...]:
    return ClassificationRun.objects.filter(pk=run.pk).values_list("status", "done", "attempts").get()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_is_recovered_at_worker_start_and_matches_a_clean_run(
    celery_worker_process, importer_org, alice, es003_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clean = _clean_classifications(importer_org, es003_files)
    total = entries_for(importer_org).count()

    def stored() -> int:
        return classifications_for(importer_org).count()

    run = _start_run(importer_org)
    # Chunks commit one by one: kill once some (not all) are stored.
    wait_while_progressing(stored, lambda n: n >= 2000, worker=celery_worker_process, stall=180, interval=0.05)
    celery_worker_process.kill()
    assert 0 < stored() < total, "the run finished before the kill: make the data larger"
    wait_for(lambda: not is_alive("classify", run.pk), timeout=120)
    status, done, attempts = _row(run)
    assert (status, attempts) == (R.RUNNING, 1) and done < total

    # The replacement's start-up sweep takes the run at once (its lock is free) even with a day's grace period,
    # which keeps the search for unclassified entries out of it: the run itself is what is recovered.
    replacement = start_worker(tmp_path, celery_worker_process.queue, {"UPLOAD_RECOVERY_GRACE_SECONDS": "86400"})
    try:
        wait_while_progressing(lambda: _row(run), lambda row: row[0] in (R.DONE, R.FAILED), worker=replacement,
                               stall=180)
        run.refresh_from_db()
        assert run.status == R.DONE, (run.error, replacement.output()[-3000:])
        assert (run.attempts, run.done, run.total, run.error) == (2, total, total, "")
        assert stored() == total
        assert dump_classifications(importer_org.pk) == clean
    finally:
        replacement.proc.terminate()
        replacement.proc.wait(timeout=30)


def _admin() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(host=s.get("HOST") or "127.0.0.1", port=s.get("PORT") or 5432, user=s.get("USER") or "postgres",
                           password=s.get("PASSWORD") or None, dbname=s["NAME"], autocommit=True)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_database_connection_dies_is_retried_and_matches_a_clean_run(
    celery_worker_process, importer_org, alice, es003_files
) -> None:  # type: ignore[no-untyped-def]
    clean = _clean_classifications(importer_org, es003_files)
    total = entries_for(importer_org).count()

    def stored() -> int:
        return classifications_for(importer_org).count()

    run = _start_run(importer_org)
    wait_while_progressing(stored, lambda n: n >= 2000, worker=celery_worker_process, stall=180, interval=0.05)
    with _admin() as admin:
        killed = 0
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:  # whatever the run is doing on its tables right now
            killed = len(admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle' AND query ILIKE %s", ["%cape_classification%"],
            ).fetchall())
        assert killed >= 1
    wait_while_progressing(lambda: _row(run), lambda row: row[0] == R.DONE, worker=celery_worker_process, stall=180)
    run.refresh_from_db()
    assert run.attempts >= 2 and (run.done, run.total, run.error) == (total, total, "")
    assert "retry" in celery_worker_process.output().lower()
    assert dump_classifications(importer_org.pk) == clean
