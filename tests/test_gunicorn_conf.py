"""gunicorn.conf.py (read by gunicorn from the working directory): each worker, once the app is loaded,
imports every view and freezes what is loaded out of the cyclic garbage collector's walks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import gc, runpy, sys
import django
django.setup()
hooks = runpy.run_path("gunicorn.conf.py")
assert gc.get_freeze_count() == 0
hooks["post_worker_init"](None)
frozen = gc.get_freeze_count()
assert "cape.views_browse" in sys.modules and "portfolio.views_dashboard" in sys.modules
print(frozen)
"""


def test_the_worker_hook_loads_the_views_and_freezes_them() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "refundready.settings", "DEBUG": "true"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) > 50_000  # Django and the app: tens of thousands of objects


def test_gunicorn_reads_the_hook_from_the_working_directory() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "refundready.settings", "DEBUG": "true"}
    out = subprocess.run([sys.executable, "-m", "gunicorn", "refundready.wsgi:application", "--print-config"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    line = next(x for x in out.stdout.splitlines() if x.startswith("post_worker_init"))
    assert "<post_worker_init()>" in line  # ours, not gunicorn's default PostWorkerInit.post_worker_init
