"""pytest plugin (loaded with -p before Django starts): the environment every test run uses."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Playwright's sync API runs an event loop in the test thread; the ORM calls beside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DATA_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "test"))
# pytest-xdist (`make test` runs `-n 2`): each worker process (gw0, gw1, ...) gets its own data directory (uploads,
# exports, mail, the embedded broker's folders, the SQLite test database) and, below, its own Redis databases,
# so one worker's cache.clear() or files never reach the other's tests. pytest-django already gives each
# worker its own PostgreSQL test database (test_<name>_gw0, ...).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_XDIST_N = int(_XDIST_WORKER[2:]) if _XDIST_WORKER.startswith("gw") and _XDIST_WORKER[2:].isdigit() else 0
if _XDIST_WORKER:
    os.environ["DATA_DIR"] = os.path.join(os.environ["DATA_DIR"], _XDIST_WORKER)
# Tests opt in to login throttling with a low limit; the rest log in (and fail) freely from 127.0.0.1.
os.environ.setdefault("LOGIN_FAILURE_LIMIT", "1000")
# Test pages and eager jobs share one process: jobs would pause for the test's own requests. The pacing
# tests set it themselves.
os.environ.setdefault("JOB_YIELD", "0")

# Tests clear the cache (cache.clear() is a FLUSHDB on Redis): keep it off the broker's database, or a
# worker started earlier in the run would lose its queue bindings and silently drop the next tasks.
# Under xdist, worker n takes the pair two below worker n-1's (broker 15, cache 14; then 13 and 12; ...).
# The xdist controller runs this first and its workers inherit its environment: a cache URL derived here is
# marked as such, so that each worker derives its own again.
if os.environ.get("REDIS_URL") and (os.environ.get("REFUNDREADY_TEST_CACHE_DERIVED") or not os.environ.get("REDIS_CACHE_URL")):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _db = int(_url.path.strip("/") or 0)
    if _XDIST_N:
        if _db - 2 * _XDIST_N < 1:
            raise RuntimeError(f"REDIS_URL database {_db} leaves no Redis database pair for xdist worker {_XDIST_WORKER}")
        _db -= 2 * _XDIST_N
        os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
    os.environ["REDIS_CACHE_URL"] = urlunsplit(_url._replace(path=f"/{_db - 1 if _db > 0 else 1}"))
    os.environ["REFUNDREADY_TEST_CACHE_DERIVED"] = "1"
