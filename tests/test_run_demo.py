"""The first README command's pieces: `seed_demo` is idempotent, and `run_demo` serves the app with a real worker on
the embedded broker and stops both on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _row_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cur:
        for table in sorted(connection.introspection.table_names(cur)):
            cur.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cur.fetchone()[0]
    return counts


@pytest.mark.django_db
def test_seed_demo_twice_changes_no_table() -> None:
    call_command("seed_demo", importer_entries=25, stdout=open(os.devnull, "w"))
    first = _row_counts()
    assert first["accounts_organization"] >= 2 and first["auth_user"] >= 7
    call_command("seed_demo", importer_entries=25, stdout=open(os.devnull, "w"))
    second = _row_counts()
    assert second == first, {t: (first[t], second[t]) for t in first if first[t] != second.get(t)}


@pytest.mark.django_db(transaction=True)
def test_the_demo_importer_and_its_broker_see_one_set_of_blue_heron_entries() -> None:
    """The demo's story (issue 18): Harbor's small report and Blue Heron's own are one set of Blue Heron entries,
    which both organisations see with the same paths; Cedar Lane stays Harbor's alone. What seed_demo prints and
    the README's demo table state are these figures."""
    import io
    from decimal import Decimal

    from django.db.models import Sum

    from accounts.models import Organization
    from cape.selectors import classifications_for, entries_for
    from entries.models import Entry, Upload

    out = io.StringIO()
    call_command("seed_demo", importer_entries=25, stdout=out)
    harbor, heron = Organization.objects.get(slug="harbor"), Organization.objects.get(slug="blue-heron")
    blue = "93-417726100"
    theirs = entries_for(harbor).filter(importer__ir_number=blue)
    mine = entries_for(heron).filter(importer__ir_number=blue)
    assert mine.count() == 32 and set(theirs.values_list("pk", flat=True)) == set(mine.values_list("pk", flat=True))
    assert Entry.objects.filter(importer__ir_number=blue).count() == 32  # no copy per organisation
    assert not entries_for(heron).filter(importer__ir_number="27-418830200").exists()
    assert entries_for(harbor).filter(importer__ir_number="27-418830200").count() == 3
    paths = lambda org: sorted(classifications_for(org).filter(importer__ir_number=blue)  # noqa: E731
                               .values_list("entry__entry_number", "path", "deadline"))
    assert len(paths(heron)) == 32 and paths(harbor) == paths(heron)
    # Each organisation's upload is its own; Blue Heron's found Harbor's 7 entries already on record.
    own = Upload.objects.get(organization=heron)
    assert (own.summary["entries_in_file"], own.summary["entries_created"]) == (32, 25)
    assert Upload.objects.get(organization=harbor).summary["entries_created"] == 10
    duty = Entry.objects.filter(importer__ir_number=blue).aggregate(d=Sum("ieepa_duty"))["d"]
    text = out.getvalue()
    assert f"Blue Heron Housewares Inc: 32 entries, IEEPA duty ${duty:,.2f}; seen by Blue Heron Housewares (its owner) " \
           "and Harbor Customs Brokerage (access granted by Blue Heron Housewares)." in text
    assert "Cedar Lane Imports LLC: 3 entries, IEEPA duty $7,030.00; seen by Harbor Customs Brokerage (its broker)." in text
    assert duty > Decimal("0")


def test_the_readme_demo_table_states_the_default_demo_figures() -> None:
    """The README's figures are those of the default demo (12,000 + 7 entries), kept in step with entries.demo."""
    from entries.demo import IMPORTER_EXTRA_ENTRIES, _shared_entry_count

    readme = (ROOT / "README.md").read_text()
    total = IMPORTER_EXTRA_ENTRIES + _shared_entry_count()
    assert total == 12_007
    assert f"Blue Heron Housewares Inc ({total:,} entries" in readme and f"the same {total:,} entries Harbor sees" in readme


# ---------------------------------------------------------------- run_demo as `make run` starts it
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc: no psutil)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as fh:
                    kids = {int(k) for k in fh.read().split()}
                todo += list(kids - found)
                found |= kids
        except FileNotFoundError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _get(url: str) -> tuple[int, str]:
    with urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
        return response.status, response.read().decode(errors="replace")


@pytest.mark.worker
def test_run_demo_serves_the_app_runs_a_task_in_its_worker_and_stops_both_on_ctrl_c(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_DEFAULT_QUEUE"}}
    env.update({"DEBUG": "true", "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "refundready.settings",
                "PYTHONUNBUFFERED": "1"})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    port = _free_port()
    log = (tmp_path / "run_demo.log").open("wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "run_demo", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    output = lambda: (tmp_path / "run_demo.log").read_text(errors="replace")  # noqa: E731
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"run_demo exited early:\n{output()}"
            try:
                status, body = _get(base + "/healthz")
                break
            except (URLError, ConnectionError, OSError):
                assert time.monotonic() < deadline, f"no /healthz within 120 s:\n{output()}"
                time.sleep(0.5)
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, body = _get(base + "/accounts/login/")
        assert status == 200 and "Log in" in body
        assert "Celery broker: filesystem" in output()

        # A task enqueued from another process goes through the embedded broker to run_demo's worker.
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        "from accounts.tasks import audit_ping; audit_ping.delay('through run_demo')"],
                       cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
        db = sqlite3.connect(tmp_path / "refundready.sqlite3", timeout=30)
        deadline = time.monotonic() + 90
        row = None
        while row is None and time.monotonic() < deadline:
            row = db.execute("SELECT detail FROM accounts_auditlog WHERE action = 'system.ping'").fetchone()
            time.sleep(0.5)
        db.close()
        assert row is not None, f"the worker did not run the task within 90 s:\n{output()}"
        assert json.loads(row[0])["message"] == "through run_demo"

        children = _children(proc.pid)
        assert len(children) >= 2, children  # the worker and the web server
        # Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], f"processes left running after Ctrl-C:\n{output()}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
