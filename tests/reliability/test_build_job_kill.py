"""A real worker SIGKILLed in the middle of a declaration build (issue 9), on PostgreSQL (Redis as the
broker when REDIS_URL is set, as in CI).

To kill at a known point rather than after a guessed sleep, this test holds a table lock the build needs
next, waits until the worker's backend is seen waiting for it (pg_stat_activity), and only then kills:

* writing: SHARE on the declaration entries table, so the worker stops after inserting the first
  declaration row and before its entries: the most half-built a declaration can be;
* checking: ACCESS EXCLUSIVE on the notify parties table, which only the checks (preflight) read, so the
  worker stops after the declarations and the job's record of them were committed.

Then a new worker starts, its start-up sweep requeues the job, and the result must equal a clean run's.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditLog
from ach.models import AchEnrollment, NotifyParty
from cape import build_jobs
from cape.build_jobs import declaration_build_job_start
from cape.models import Declaration, DeclarationBuildJob, DeclarationEntry
from entries.recovery import is_alive
from tests.cape.factories import eligible_entry
from tests.conftest import start_worker, wait_for
from tests.factories import ImporterFactory
from tests.reliability.conftest import dump_builds, eager, wait_while_progressing, wipe_builds

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="stopping the worker at a known point uses PostgreSQL table locks"
    ),
]
J = DeclarationBuildJob.Status


def _admin() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s.get("HOST") or "127.0.0.1",
        port=s.get("PORT") or 5432,
        user=s.get("USER") or "postgres",
        password=s.get("PASSWORD") or None,
        dbname=s["NAME"],
    )


def _backend_waiting_on(admin: psycopg.Connection, table: str) -> tuple[str, bool] | None:
    """(statement, whether its transaction has written) of another backend waiting for a lock in a
    statement that names ``table``, if there is one."""
    with psycopg.connect(admin.info.dsn, autocommit=True) as probe:
        row = probe.execute(
            "SELECT query, backend_xid IS NOT NULL FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> %s AND wait_event_type = 'Lock' AND query ILIKE %s",
            [admin.info.backend_pid, f"%{table}%"],
        ).fetchone()
    return (row[0], row[1]) if row else None


@pytest.mark.worker
@pytest.mark.parametrize("phase", ["writing", "checking"])
def test_a_worker_killed_mid_build_leaves_no_half_declaration_and_the_rerun_equals_a_clean_run(
    phase, celery_worker_process, importer_org, alice, own_importer, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)  # in this process, which starts the job: run it on the worker
    second = ImporterFactory(owner=importer_org, ir_number="93-417726200", name="Blue Heron Outlet LLC")
    for importer in (own_importer, second):
        AchEnrollment.objects.create(importer=importer, status=AchEnrollment.Status.ACTIVE)
        for _ in range(5):
            eligible_entry(importer)

    with eager():
        declaration_build_job_start(organization=importer_org, user=alice)
    reference = dump_builds(importer_org.pk)
    assert reference["jobs"][0][0] == J.DONE and len(reference["declarations"]) == 2
    wipe_builds(importer_org.pk)

    table = (DeclarationEntry if phase == "writing" else NotifyParty)._meta.db_table
    mode = "SHARE" if phase == "writing" else "ACCESS EXCLUSIVE"
    admin = _admin()
    try:
        admin.execute(f"LOCK TABLE {table} IN {mode} MODE")  # held until the rollback below
        job = declaration_build_job_start(organization=importer_org, user=alice)  # enqueued on commit to the worker
        statement, has_written = wait_while_progressing(
            lambda: _backend_waiting_on(admin, table), bool, worker=celery_worker_process, stall=180
        )
        job.refresh_from_db()
        assert job.status == J.RUNNING and job.attempts == 1
        if phase == "writing":
            # The worker's transaction has inserted the first declaration and waits to COPY its entries;
            # none of it is visible.
            assert statement.startswith("COPY") and has_written, statement
            assert not Declaration.objects.filter(organization=importer_org).exists()
        else:
            saved = list(Declaration.objects.filter(organization=importer_org).order_by("pk"))
            assert job.declaration_ids == [d.pk for d in saved] and len(saved) == 2
            assert not any(d.preflight for d in saved)
        celery_worker_process.kill()
    finally:
        admin.rollback()
        admin.close()

    # The worker is gone: its liveness lock with it, and nothing half-built is visible.
    wait_for(lambda: not is_alive(build_jobs.LOCK_KIND, job.pk), timeout=120)
    job.refresh_from_db()
    assert job.status == J.RUNNING
    if phase == "writing":
        assert not Declaration.objects.filter(organization=importer_org).exists()
        assert not DeclarationEntry.objects.filter(declaration__organization=importer_org).exists()
    else:
        assert all(d.items.count() == d.entry_count for d in Declaration.objects.filter(organization=importer_org))

    # A new worker starts; at start it recovers what the dead one left (once the grace period has passed).
    DeclarationBuildJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    replacement = start_worker(tmp_path, celery_worker_process.queue)
    try:
        wait_while_progressing(
            lambda: DeclarationBuildJob.objects.filter(pk=job.pk).values_list("status", "done", "message").get(),
            lambda row: row[0] in (J.DONE, J.FAILED),
            worker=replacement,
            stall=180,
        )
        done = DeclarationBuildJob.objects.get(pk=job.pk)
        assert done.status == J.DONE, (done.message, replacement.output()[-3000:])
        assert done.attempts == 2
        assert AuditLog.objects.filter(action="declaration.build_job_requeue", object_id=str(job.pk)).exists()
        assert dump_builds(importer_org.pk) == reference
    finally:
        replacement.proc.terminate()
        replacement.proc.wait(timeout=30)


@pytest.mark.worker
def test_a_build_whose_database_connection_dies_is_retried_and_equals_a_clean_run(
    celery_worker_process, importer_org, alice, own_importer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The database cut (pg_terminate_backend) while the worker writes the declarations: nothing of the
    attempt is stored, the task retries (transient error), the runtime releases and claims the job again."""
    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    for _ in range(5):
        eligible_entry(own_importer)
    with eager():
        declaration_build_job_start(organization=importer_org, user=alice)
    reference = dump_builds(importer_org.pk)
    wipe_builds(importer_org.pk)

    table = DeclarationEntry._meta.db_table
    admin = _admin()
    try:
        admin.execute(f"LOCK TABLE {table} IN SHARE MODE")  # the worker waits here, mid-transaction
        job = declaration_build_job_start(organization=importer_org, user=alice)
        wait_while_progressing(lambda: _backend_waiting_on(admin, table), bool, worker=celery_worker_process, stall=180)
        with psycopg.connect(admin.info.dsn, autocommit=True) as cut:
            killed = cut.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> %s AND wait_event_type = 'Lock' AND query ILIKE %s",
                [admin.info.backend_pid, f"%{table}%"],
            ).fetchall()
        assert len(killed) == 1
    finally:
        admin.rollback()
        admin.close()
    wait_while_progressing(
        lambda: DeclarationBuildJob.objects.filter(pk=job.pk).values_list("status", "done", "attempts").get(),
        lambda row: row[0] in (J.DONE, J.FAILED),
        worker=celery_worker_process,
        stall=180,
    )
    done = DeclarationBuildJob.objects.get(pk=job.pk)
    assert done.status == J.DONE, (done.message, celery_worker_process.output()[-3000:])
    assert done.attempts == 2
    assert "retry" in celery_worker_process.output().lower()
    assert dump_builds(importer_org.pk) == reference
