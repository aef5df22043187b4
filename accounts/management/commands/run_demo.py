"""Run the web app and a real Celery worker side by side; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


def child_env() -> dict[str, str]:
    """What the web and worker processes need to share beyond the settings: without Redis, one cache in
    files (a memory cache per process would keep the web's cached totals stale after the worker's changes)."""
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        return {"CACHE_DIR": str(settings.DATA_DIR / "cache")}
    return {}


class Command(BaseCommand):
    help = "Start the development web server and a Celery worker (and beat) together."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        os.environ.update(child_env())  # inherited by both processes
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        self.stdout.write(f"Celery broker: {broker}; database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        procs = [
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "refundready", "worker", "--beat", "--pool=solo",
                              "-l", "info", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule")]),
            subprocess.Popen([sys.executable, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"]),
        ]
        self.stdout.write(self.style.SUCCESS(f"RefundReady on http://{options['host']}:{options['port']}/ (Ctrl-C stops web and worker)"))

        def stop(*_: Any) -> None:
            for p in procs:
                if p.poll() is None:
                    p.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
