"""The beat schedule: deadlines move every day, so every organisation is reclassified each night and
the deadline digests go out each morning after it (Eastern time, the zone of CBP's dates)."""

from __future__ import annotations

from celery.schedules import crontab
from django.conf import settings

from refundready.celery import app


def _by_task() -> dict[str, dict]:
    return {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_the_nightly_classification_runs_at_01_30_every_day() -> None:
    entry = _by_task()["cape.tasks.classify_all_organizations"]
    assert entry["schedule"] == crontab(hour=1, minute=30)
    s = entry["schedule"]
    assert (s.hour, s.minute, s.day_of_week, s.day_of_month, s.month_of_year) == (
        {1}, {30}, set(range(7)), set(range(1, 32)), set(range(1, 13)))


def test_the_deadline_digest_runs_at_06_00_every_day_after_the_classification() -> None:
    tasks = _by_task()
    digest = tasks["cape.tasks.send_deadline_digests"]["schedule"]
    assert digest == crontab(hour=6, minute=0)
    assert (digest.hour, digest.minute, digest.day_of_week) == ({6}, {0}, set(range(7)))
    nightly = tasks["cape.tasks.classify_all_organizations"]["schedule"]
    assert (min(nightly.hour), min(nightly.minute)) < (min(digest.hour), min(digest.minute))


def test_the_schedule_is_read_in_eastern_time_and_names_real_tasks() -> None:
    assert settings.CELERY_TIMEZONE == "America/New_York"
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    import cape.tasks  # noqa: F401  (registers the tasks)

    for name in ("cape.tasks.classify_all_organizations", "cape.tasks.send_deadline_digests"):
        assert name in app.tasks, name
