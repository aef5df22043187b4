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
# Test pages and eager jobs share one process: jobs would pause for the test's own requests. The pacing
# tests set it themselves.
os.environ.setdefault("JOB_YIELD", "0")

# Tests clear the cache (cache.clear() is a FLUSHDB on Redis): keep it off the broker's database, or a
# worker started earlier in the run would lose its queue bindings and silently drop the next tasks.
if os.environ.get("REDIS_URL") and not os.environ.get("REDIS_CACHE_URL"):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _db = int(_url.path.strip("/") or 0)
    os.environ["REDIS_CACHE_URL"] = urlunsplit(_url._replace(path=f"/{_db - 1 if _db > 0 else 1}"))
