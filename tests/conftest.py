"""Shared fixtures: three personas, a real Celery worker process, and a real Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import Membership
from tests.factories import (
    PASSWORD,
    BrokerFactory,
    GrantFactory,
    ImporterFactory,
    MembershipFactory,
    OrganizationFactory,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


# ---------------------------------------------------------------- a clean cache
@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """An empty cache before and after: cached dashboard, portfolio and totals figures must not carry
    over between tests (browser tests share one live server)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# ---------------------------------------------------------------- personas
@pytest.fixture
def importer_org(db):  # type: ignore[no-untyped-def]
    return OrganizationFactory(name="Blue Heron Housewares", slug="blue-heron")


@pytest.fixture
def own_importer(importer_org):  # type: ignore[no-untyped-def]
    return ImporterFactory(ir_number="93-417726100", name="Blue Heron Housewares Inc", owner=importer_org)


@pytest.fixture
def alice(importer_org, own_importer):  # type: ignore[no-untyped-def]
    """Owner of the importer organisation."""
    return MembershipFactory(organization=importer_org, role=Membership.Role.OWNER, user__username="alice").user


@pytest.fixture
def broker_org(db, own_importer):  # type: ignore[no-untyped-def]
    broker = BrokerFactory(name="Harbor Customs Brokerage", slug="harbor")
    GrantFactory(importer=own_importer, organization=broker)
    return broker


@pytest.fixture
def bob(broker_org):  # type: ignore[no-untyped-def]
    """Staff at a broker that manages Alice's importer."""
    return MembershipFactory(organization=broker_org, role=Membership.Role.STAFF, user__username="bob").user


@pytest.fixture
def charlie(db):  # type: ignore[no-untyped-def]
    """An outsider: owner of an unrelated organisation with an importer of its own."""
    org = OrganizationFactory(name="Outsider Trading", slug="outsider")
    ImporterFactory(owner=org, ir_number="55-555555500", name="Outsider Trading LLC")
    return MembershipFactory(organization=org, role=Membership.Role.OWNER, user__username="charlie").user


@pytest.fixture
def vera(importer_org):  # type: ignore[no-untyped-def]
    """A viewer (compliance staff) in the importer organisation."""
    return MembershipFactory(organization=importer_org, role=Membership.Role.VIEWER, user__username="vera").user


@pytest.fixture
def password() -> str:
    return PASSWORD


# ---------------------------------------------------------------- a real Celery worker
def _worker_database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        host = s.get("HOST") or "127.0.0.1"
        port = s.get("PORT") or 5432
        return f"postgres://{s.get('USER') or 'postgres'}@{host}:{port}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, queue: str) -> None:
        self.proc, self.log, self.queue = proc, log, queue

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task with no chance to clean up."""
        self.proc.kill()
        self.proc.wait(timeout=30)


def start_worker(tmp_path: Path, queue: str, extra_env: dict[str, str] | None = None) -> WorkerProcess:
    env = os.environ.copy()
    env.update(
        {
            "DATABASE_URL": _worker_database_url(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "DJANGO_SETTINGS_MODULE": "refundready.settings",
        }
    )
    env.update(extra_env or {})
    log = tmp_path / f"worker-{queue}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "refundready", "worker", "--pool=solo", "-Q", queue,
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "info"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited early:\n{log.read_text(errors='replace')}")
        if "ready." in log.read_text(errors="replace"):
            return WorkerProcess(proc, log, queue)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"Celery worker did not start in 90 s:\n{log.read_text(errors='replace')}")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """A real `celery worker` process on the configured broker (Redis when REDIS_URL is set), sharing
    the test database. The test process enqueues for real (eager mode off) on a queue of its own."""
    from refundready.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    old = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    worker = start_worker(tmp_path, queue)
    try:
        yield worker
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = old
        if worker.proc.poll() is None:
            worker.proc.terminate()
            try:
                worker.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# ---------------------------------------------------------------- a real Chromium
@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}: run `make system-deps` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser, live_server, request) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.base_url = live_server.url  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        shots = ROOT / "data" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
