from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundready.settings")

app = Celery("refundready")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="refundready.ping")
def ping(value: str) -> str:
    return value


def lower_priority() -> int:
    """Run this process's jobs below the web's CPU priority (settings.WORKER_NICE); the new niceness."""
    from django.conf import settings

    step = int(getattr(settings, "WORKER_NICE", 0))
    return os.nice(step) if step else os.nice(0)


@worker_init.connect
def _worker_lower_priority(**kwargs: object) -> None:
    # In the worker's main process, before its pool starts: the pool's processes inherit it.
    lower_priority()
