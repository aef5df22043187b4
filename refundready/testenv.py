"""pytest plugin (loaded with -p before Django starts): the environment every test run uses."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Playwright's sync API runs an event loop in the test thread; the ORM calls beside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DATA_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "test"))
# Tests opt in to login throttling with a low limit; the rest log in (and fail) freely from 127.0.0.1.
os.environ.setdefault("LOGIN_FAILURE_LIMIT", "1000")
