"""Today as the ruleset counts it: the U.S. Eastern calendar day (rules.md: the default as_of). ORM-free, so
every layer may use it (cape.classify re-exports it)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

EASTERN = ZoneInfo("America/New_York")


def today_eastern(now: datetime | None = None) -> date:
    """Today in U.S. Eastern time (rules.md: the default as_of)."""
    return (now or timezone.now()).astimezone(EASTERN).date()
