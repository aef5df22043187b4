"""Background jobs give way to people: while pages are being served, bulk jobs pause between chunks.

A worker's lower CPU priority (WORKER_NICE) covers only its own process; the database backend doing the
job's writes runs at the same priority as the ones serving pages. So the jobs themselves pace their work:

* the web marks itself busy (``WebActivityMiddleware``): a cache key holding the time of the latest
  request, refreshed at most every ``MARK_EVERY`` seconds per process, so one cache write per process
  per half second however many requests arrive;
* a bulk job (the ES-003 ingest, a classification run) calls ``Pacer.pace()`` between chunks: when a page
  was served within ``WEB_BUSY_SECONDS``, it sleeps ``JOB_YIELD`` times as long as its work since the
  last pause took (at most ``MAX_PAUSE`` seconds at a time), times the number of the process's job threads
  working at that moment. With ``JOB_YIELD = 3`` a job uses at most a quarter of one processor while people
  are browsing, however many threads it has (a classification's engine and its two writers), and runs at
  full speed when nobody is.

The web and the workers must share the cache (Redis in production; ``make run`` gives both one file
cache). Without a shared cache the job never sees the web busy and simply runs at full speed.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator
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


_working_lock = threading.Lock()
# This process's pacers between start (or a pause's end) and their next pause. Weak: a pacer dropped
# without stop() (a job that failed) stops counting when it is collected.
_working: weakref.WeakSet[Pacer] = weakref.WeakSet()


class Pacer:
    """Call ``pace()`` between a job's chunks: it sleeps while the web is busy, in proportion to the work
    done since the previous call (``JOB_YIELD``) and to the number of this process's pacers working at that
    moment (three threads working at once take three times one thread's share, so each sleeps three times
    as long). ``paused`` is the total time slept. A job run inside a request (an eager task, a
    reclassification after an edit) never pauses.

    A pacer counts as working from its creation (unless ``working=False``), from ``start()`` and from the end of each pause, until its
    next ``pace()`` (or ``stop()``). A thread that waits for its next piece of work after pausing (a writer
    waiting for a chunk) calls ``pace(resume=False)`` and then ``start()`` when the work arrives."""

    def __init__(self, *, ratio: float | None = None, sleep: Callable[[float], Any] | None = None,
                 working: bool = True) -> None:
        self.ratio = float(getattr(settings, "JOB_YIELD", 0.0)) if ratio is None else ratio
        self.sleep = sleep or _sleep
        self.paused = 0.0
        self._since = time.monotonic()
        if working:
            self._enter()

    def _enter(self) -> None:
        with _working_lock:
            _working.add(self)
        self._since = time.monotonic()

    def _leave(self) -> int:
        """Stop counting as working; how many pacers (this one included) were working."""
        with _working_lock:
            n = len(_working) + (0 if self in _working else 1)
            _working.discard(self)
        return max(1, n)

    def start(self) -> None:
        """Work starts now (after a wait that is not work: a writer waiting for its next chunk)."""
        self._enter()

    def stop(self) -> None:
        """The job is over (or waits for something that is not work): no longer counted as working."""
        self._leave()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """A wait inside a piece of work (a full queue): neither counted as work nor as working."""
        with _working_lock:
            was = self in _working
            _working.discard(self)
        began = time.monotonic()
        try:
            yield
        finally:
            self._since += time.monotonic() - began
            if was:
                with _working_lock:
                    _working.add(self)

    def pace(self, *, resume: bool = True) -> float:
        """Sleep if the web is busy; the seconds slept. ``resume``: work goes on straight after."""
        now = time.monotonic()
        worked, slept = now - self._since, 0.0
        concurrent = self._leave()
        if self.ratio > 0 and worked > 0 and not getattr(_serving, "active", False) and web_busy():
            slept = min(MAX_PAUSE, worked * self.ratio * concurrent)
            self.sleep(slept)
            self.paused += slept
        if resume:
            self._enter()
        else:
            self._since = time.monotonic()
        return slept
