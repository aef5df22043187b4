"""Bulk jobs give way to people (refundready.pacing): they pause between chunks while pages are being
served, in proportion to their own work, never inside a request, and not at all when nobody browses."""

from __future__ import annotations

import time
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection

from cape.classify import classify_entries
from cape.selectors import classifications_for
from refundready import pacing
from tests.factories import EntryFactory

pytestmark = pytest.mark.usefixtures("fresh_cache")


@pytest.fixture(autouse=True)
def _no_recent_mark(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pacing, "_last_mark", 0.0)  # each test starts as a process that has not marked yet


class Recorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def work(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_job_pauses_for_twice_its_work_while_pages_are_served(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEB_BUSY_SECONDS = 2.0
    sleep = Recorder()
    pacer = pacing.Pacer(ratio=2.0, sleep=sleep)
    pacing.mark_web_busy(now=time.time())
    work(0.05)
    slept = pacer.pace()
    assert sleep.calls == [slept] and 0.1 <= slept < 0.2  # 2 x the ~0.05 s of work, not more
    work(0.02)
    assert 0.04 <= pacer.pace() < 0.1  # measured from the end of the last pause, not from the start
    assert pacer.paused == pytest.approx(sum(sleep.calls))


def test_a_long_chunk_never_pauses_more_than_the_cap(settings) -> None:  # type: ignore[no-untyped-def]
    sleep = Recorder()
    pacer = pacing.Pacer(ratio=1000.0, sleep=sleep)
    pacing.mark_web_busy(now=time.time())
    work(0.01)
    assert pacer.pace() == pacing.MAX_PAUSE and sleep.calls == [pacing.MAX_PAUSE]


def test_no_pause_when_nobody_browses_or_the_last_page_is_older_than_the_window(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEB_BUSY_SECONDS = 2.0
    sleep = Recorder()
    pacer = pacing.Pacer(ratio=2.0, sleep=sleep)
    work(0.01)
    assert pacer.pace() == 0.0  # no page served at all
    cache.set(pacing.KEY, time.time() - 5.0)  # the last page five seconds ago
    work(0.01)
    assert pacer.pace() == 0.0 and sleep.calls == [] and not pacing.web_busy()


def test_yield_zero_never_pauses(settings) -> None:  # type: ignore[no-untyped-def]
    settings.JOB_YIELD = 0
    sleep = Recorder()
    pacer = pacing.Pacer(sleep=sleep)
    pacing.mark_web_busy(now=time.time())
    work(0.01)
    assert pacer.pace() == 0.0 and sleep.calls == []


@pytest.mark.django_db
def test_pages_mark_the_web_busy_but_health_probes_do_not(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A long interval: the first page of a run (templates compiled cold) may itself take over half a second.
    monkeypatch.setattr(pacing, "MARK_EVERY", 60.0)
    assert client.get("/healthz").status_code == 200
    assert cache.get(pacing.KEY) is None and not pacing.web_busy()
    client.get("/accounts/login/")
    assert pacing.web_busy()
    first = cache.get(pacing.KEY)
    client.get("/accounts/login/")  # within MARK_EVERY: no second cache write from this process
    assert cache.get(pacing.KEY) == first


@pytest.mark.django_db
def test_a_job_run_inside_a_request_never_waits_for_its_own_page(rf, settings) -> None:  # type: ignore[no-untyped-def]
    sleep = Recorder()
    seen: list[float] = []

    def view(request):  # type: ignore[no-untyped-def]
        pacer = pacing.Pacer(ratio=2.0, sleep=sleep)
        work(0.01)
        seen.append(pacer.pace())
        from django.http import HttpResponse

        return HttpResponse("ok")

    pacing.WebActivityMiddleware(view)(rf.get("/entries/"))
    assert pacing.web_busy() and seen == [0.0] and sleep.calls == []
    pacer = pacing.Pacer(ratio=2.0, sleep=sleep)  # the same job outside the request does pause
    work(0.01)
    assert pacer.pace() > 0


@pytest.mark.django_db
def test_a_background_classification_pauses_between_chunks_while_pages_are_served(importer_org, own_importer, settings,
                                                                                  monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import cape.classify as service

    for _ in range(9):
        EntryFactory(organization=importer_org, importer=own_importer)
    monkeypatch.setattr(service, "CHUNK", 2)
    monkeypatch.setattr(service, "CHUNK_PG", 2)
    settings.JOB_YIELD = 2.0
    sleep = Recorder()
    monkeypatch.setattr(pacing, "_sleep", sleep)
    pacing.mark_web_busy(now=time.time() + 60)  # pages being served throughout the run
    assert classify_entries(organization=importer_org, as_of=date(2026, 11, 22), pace=True) == 9
    assert len(sleep.calls) == 4  # between the five chunks, none before the first
    assert classifications_for(importer_org).count() == 9
    sleep.calls.clear()
    classify_entries(organization=importer_org, as_of=date(2026, 11, 23))  # an inline run (an edit): never
    assert sleep.calls == []


def test_time_spent_waiting_for_work_is_not_counted_as_work() -> None:
    sleep = Recorder()
    pacer = pacing.Pacer(ratio=2.0, sleep=sleep)
    pacing.mark_web_busy(now=time.time())
    time.sleep(0.2)  # waiting for the next chunk
    pacer.start()
    work(0.02)
    assert 0.04 <= pacer.pace() < 0.2


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the writer threads are PostgreSQL's path (CI runs it there)")
@pytest.mark.django_db(transaction=True)
def test_a_background_classifications_writers_pace_themselves_too(importer_org, own_importer, settings,
                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    import cape.classify as service

    for _ in range(9):
        EntryFactory(organization=importer_org, importer=own_importer)
    monkeypatch.setattr(service, "CHUNK_PG", 2)
    settings.JOB_YIELD = 2.0
    threads: list[str] = []
    monkeypatch.setattr(pacing, "_sleep", lambda s: threads.append(threading.current_thread().name))
    pacing.mark_web_busy(now=time.time() + 60)
    assert classify_entries(organization=importer_org, as_of=date(2026, 11, 22), pace=True) == 9
    assert threads.count("MainThread") == 4  # between the engine's five chunks
    assert sum(1 for t in threads if t.startswith("classification-writer")) == 5  # after each chunk written


def test_threads_working_at_once_each_pause_in_proportion_to_how_many_there_are() -> None:
    # Three of a process's job threads working at the same moment take three times one thread's share of
    # the processors: each pauses three times as long, so the job as a whole still gives way JOB_YIELD : 1.
    pacing.mark_web_busy(now=time.time())
    sleep = Recorder()
    others = [pacing.Pacer(ratio=2.0, sleep=Recorder()), pacing.Pacer(ratio=2.0, sleep=Recorder())]
    pacer = pacing.Pacer(ratio=2.0, sleep=sleep)
    work(0.02)
    assert 0.12 <= pacer.pace() < 0.3  # 2 x ~0.02 s x 3 working
    others[0].stop()
    others[1].pace(resume=False)  # paused and now waiting for work: not working
    work(0.02)
    assert 0.04 <= pacer.pace() < 0.1  # alone again
    pacer.stop()


def test_a_wait_inside_the_work_is_neither_work_nor_working() -> None:
    pacing.mark_web_busy(now=time.time())
    pacer = pacing.Pacer(ratio=2.0, sleep=Recorder())
    other = pacing.Pacer(ratio=2.0, sleep=Recorder())
    work(0.02)
    with pacer.waiting():  # a full queue
        time.sleep(0.2)
        other.start()
        work(0.02)
        assert 0.04 <= other.pace() < 0.1  # the waiting one is not counted
    assert 0.08 <= pacer.pace() < 0.2  # ~0.02 s of work x 2 x 2 working (other resumed); the 0.22 s wait is not work
    other.stop()


def test_a_pacer_dropped_without_stop_stops_counting() -> None:
    import gc

    pacing.Pacer(ratio=2.0, sleep=Recorder())  # a failed job's, never stopped
    gc.collect()  # on a large heap (the end of a full run) this alone can outlast WEB_BUSY_SECONDS
    pacing.mark_web_busy(now=time.time())
    pacer = pacing.Pacer(ratio=2.0, sleep=Recorder())
    work(0.02)
    assert 0.04 <= pacer.pace() < 0.1
    pacer.stop()
