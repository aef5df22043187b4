"""Background jobs give way to people: while pages are being served, bulk jobs pause between chunks.

A worker's lower CPU priority (WORKER_NICE) covers only its own process; the database backend doing the
job's writes runs at the same priority as the ones serving pages. So the jobs themselves pace their work:

* the web marks itself busy (``WebActivityMiddleware``): a cache key holding the time of the latest
  request, refreshed at most every ``MARK_EVERY`` seconds per process, so one cache write per process
  per half second however many requests arrive;
* a bulk job (the ES-003 ingest, a classification run) calls ``Pacer.pace()`` between chunks: when a page
  was served within ``WEB_BUSY_SECONDS``, it sleeps ``JOB_YIELD`` times as long as its work since the
  last pause took (at most ``MAX_PAUSE`` seconds at a time). With ``JOB_YIELD = 3`` a job uses at most a
  quarter of the time it would while people are browsing, and runs at full speed when nobody is.

The web and the workers must share the cache (Redis in production; ``make run`` gives both one file
cache). Without a shared cache the job never sees the web busy and simply runs at full speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

KEY = "rr:web:last-request"
MARK_EVERY = 0.5  # seconds between cache writes per web process
MAX_PAUSE = 5.0  # seconds: a job never sleeps longer than this at once
_QUIET_PATHS = ("/healthz", "/static/")  # probes and assets do not count as people browsing

_last_mark = 0.0
_sleep = time.sleep
_serving = threading.local()  # set while this thread serves a request: a page never waits for its own job


def mark_web_busy(now: float | None = None) -> None:
    """Record that a page is being served (at most every MARK_EVERY seconds per process)."""
    global _last_mark
    mono = time.monotonic()
    if mono - _last_mark < MARK_EVERY:
        return
    _last_mark = mono
    busy_for = float(getattr(settings, "WEB_BUSY_SECONDS", 2.0))
    try:
        cache.set(KEY, time.time() if now is None else now, timeout=max(1, int(busy_for) + 1))
    except Exception:  # the cache is a hint: a page never fails because it is down
        pass


def web_busy(now: float | None = None) -> bool:
    """A page was served within WEB_BUSY_SECONDS."""
    try:
        last = cache.get(KEY)
    except Exception:
        return False
    if last is None:
        return False
    busy_for = float(getattr(settings, "WEB_BUSY_SECONDS", 2.0))
    return (time.time() if now is None else now) - float(last) <= busy_for


class WebActivityMiddleware:
    """Marks the web busy for the jobs' pacing (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(_QUIET_PATHS):
            mark_web_busy()
        _serving.active = True
        try:
            return self.get_response(request)
        finally:
            _serving.active = False


class Pacer:
    """Call ``pace()`` between a job's chunks: it sleeps while the web is busy, in proportion to the work
    done since the previous call (``JOB_YIELD``). ``paused`` is the total time slept. A job run inside a
    request (an eager task, a reclassification after an edit) never pauses."""

    def __init__(self, *, ratio: float | None = None, sleep: Callable[[float], Any] | None = None) -> None:
        self.ratio = float(getattr(settings, "JOB_YIELD", 0.0)) if ratio is None else ratio
        self.sleep = sleep or _sleep
        self.paused = 0.0
        self._since = time.monotonic()

    def start(self) -> None:
        """Work starts now (after a wait that is not work: a writer waiting for its next chunk)."""
        self._since = time.monotonic()

    def pace(self) -> float:
        """Sleep if the web is busy; the seconds slept."""
        now = time.monotonic()
        worked, slept = now - self._since, 0.0
        if self.ratio > 0 and worked > 0 and not getattr(_serving, "active", False) and web_busy():
            slept = min(MAX_PAUSE, worked * self.ratio)
            self.sleep(slept)
            self.paused += slept
        self._since = time.monotonic()
        return slept
