"""A real task through a real Celery worker process, on the configured broker (Redis in CI's PostgreSQL run)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from accounts.models import AuditLog
from tests.conftest import wait_for


@pytest.mark.worker
def test_a_task_runs_in_a_real_worker_process(celery_worker_process) -> None:  # type: ignore[no-untyped-def]
    from accounts.tasks import audit_ping

    audit_ping.delay("hello from the test process")
    row = wait_for(lambda: AuditLog.objects.filter(action="system.ping").first(), timeout=60)
    assert row.detail["message"] == "hello from the test process"
    assert row.detail["pid"] != os.getpid()
    output = celery_worker_process.output()
    assert "audit_ping" in output
    # The worker's own banner names the transport it connected to: Redis when REDIS_URL is set (CI's first pass).
    expected = "Connected to redis://" if settings.CELERY_BROKER_URL.startswith("redis://") else "Connected to filesystem://"
    assert expected in output, output[-2000:]
    # Jobs run below the web's CPU priority (WORKER_NICE): the task itself reports its process's niceness.
    assert row.detail["nice"] == min(19, os.nice(0) + settings.WORKER_NICE)


def test_ci_runs_the_worker_over_redis_when_redis_is_configured() -> None:
    if os.environ.get("CI") and os.environ.get("REDIS_URL"):
        # .ci/run's PostgreSQL pass sets REDIS_URL and unsets CELERY_BROKER_URL: the broker must be Redis.
        assert settings.CELERY_BROKER_URL.startswith("redis://"), settings.CELERY_BROKER_URL
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    elif settings.REDIS_URL and not os.environ.get("CELERY_BROKER_URL"):
        assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    elif not os.environ.get("CELERY_BROKER_URL"):
        assert settings.CELERY_BROKER_URL == "filesystem://"
