"""Ruleset 2026.12 wording: the CAPE window is "liquidation + 79 days (filed fewer than 80 days after
liquidation)" in the calendar, the PDF and the pages; a deadline that falls today says "today"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from cape.classify import today_eastern
from cape.exports import calendar_events
from cape.models import Classification, Path
from portfolio.readiness_pdf import readiness_context
from tests.cape.factories import eligible_entry

WORDS = "liquidation + 79 days (filed fewer than 80 days after liquidation)"
pytestmark = pytest.mark.django_db


def test_the_calendar_states_the_cape_window_in_the_same_words(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    e = eligible_entry(own_importer)
    Classification.objects.filter(entry=e).update(cape_window_closes=timezone.localdate() + timedelta(days=3))
    (event,) = calendar_events(importer_org)
    assert WORDS in event.description and "README" not in event.description


def test_the_pdf_states_the_cape_window_and_today(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    e = eligible_entry(own_importer)
    Classification.objects.filter(entry=e).update(deadline=today, cape_window_closes=today, urgent=True)
    html = render_to_string("pdf/readiness.html", readiness_context(importer_org, own_importer, as_of=today))
    assert WORDS in html and "(today)" in html and "within 14 days" not in html


def test_the_entry_page_states_the_window_and_says_today(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    today = today_eastern()
    e = eligible_entry(own_importer, path=Path.CAPE_PHASE1)
    Classification.objects.filter(entry=e).update(deadline=today, cape_window_closes=today, urgent=True,
                                                  reasons=["within_80_days", "urgent"])
    client.force_login(alice)
    html = client.get(f"/entries/{e.pk}/").content.decode()
    assert WORDS in html
    assert '<span class="badge urgent">today</span>' in html
