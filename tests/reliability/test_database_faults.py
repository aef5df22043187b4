"""The database going away mid-request and mid-job (PostgreSQL: the backend is terminated with
pg_terminate_backend from a second connection; the shared server is never restarted)."""

from __future__ import annotations

import threading
import time
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import psycopg
import pytest
from django.db import connection

from entries.models import Upload
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="terminating a backend needs PostgreSQL"),
]


def _admin() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s.get("HOST") or "127.0.0.1",
        port=s.get("PORT") or 5432,
        user=s.get("USER") or "postgres",
        password=s.get("PASSWORD") or None,
        dbname=s["NAME"],
        autocommit=True,
    )


def _terminate(admin: psycopg.Connection, where: str, params: list | None = None) -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        f"AND pid <> pg_backend_pid() AND {where}",
        params or [],
    ).fetchall()
    return len(rows)


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_gone_then_200(client) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    with _admin() as admin:
        assert _terminate(admin, "pid = %s", [pid]) == 1
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "error"
    connection.close()  # what Django does between requests for an unusable connection
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_database_connection_dies_fails_cleanly_and_the_next_succeeds(live_server, alice) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    # A logged-in session for the live server.
    c = Client()
    c.force_login(alice)
    cookie = f"sessionid={c.cookies['sessionid'].value}"
    url = live_server.url + "/accounts/importers/"

    def get() -> tuple[int, str]:
        try:
            with urlopen(Request(url, headers={"Cookie": cookie}), timeout=60) as r:
                return r.status, r.read().decode(errors="replace")
        except HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    assert get()[0] == 200
    with _admin() as admin:
        # Hold the importers table so the page's query waits, then cut that request's connection.
        admin.autocommit = False
        admin.execute("LOCK TABLE accounts_importer IN ACCESS EXCLUSIVE MODE")
        result: list[tuple[int, str]] = []
        t = threading.Thread(target=lambda: result.append(get()))
        t.start()
        with _admin() as killer:
            wait_for(
                lambda: killer.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone(),
                timeout=30,
                interval=0.05,
            )
            assert _terminate(killer, "wait_event_type = 'Lock'") >= 1
        t.join(timeout=60)
        admin.rollback()
    status, body = result[0]
    assert status in (500, 503)
    for leak in ("Traceback", "OperationalError", "psycopg", "terminating connection", 'File "'):
        assert leak not in body
    status, body = get()
    assert status == 200 and "Blue Heron" in body


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_connection_dies_is_retried_and_completes(
    celery_worker_process, importer_org, alice, es003_files
) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from entries.ingest.intake import upload_create
    from tests.reliability.conftest import assert_entries_whole

    path = es003_files["large"]
    with transaction.atomic():
        upload = upload_create(
            organization=importer_org, user=alice, file=SimpleUploadedFile(path.name, path.read_bytes())
        )
    wait_for(lambda: Upload.objects.filter(pk=upload.pk, status="running", rows_read__gt=0).exists(), timeout=120)
    with _admin() as admin:
        killed = 0
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:  # the COPY into the staging table
            killed = _terminate(admin, "query ILIKE %s AND state <> 'idle'", ["%es003_%"])
        assert killed >= 1
    done = wait_for(lambda: Upload.objects.filter(pk=upload.pk, status__in=["done", "failed"]).first(), timeout=300)
    assert done.status == "done", (done.error_message, celery_worker_process.output()[-3000:])
    assert done.attempts >= 2
    assert "retry" in celery_worker_process.output().lower()
    assert assert_entries_whole(importer_org.pk) > 20_000
