"""A real task through a real Celery worker process, on the configured broker (Redis in CI's PostgreSQL run)."""

from __future__ import annotations

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
    assert row.detail["pid"] != __import__("os").getpid()
    assert "audit_ping" in celery_worker_process.output()


def test_ci_runs_the_worker_over_redis_when_redis_is_configured() -> None:
    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    else:
        assert settings.CELERY_BROKER_URL == "filesystem://"
