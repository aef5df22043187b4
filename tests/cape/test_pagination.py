"""The refunds and rejected-entries pages show 50 rows a page with page links; the refunds overview
reads every importer's figures in a fixed number of queries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cape.models import Declaration, DeclarationEntry, RefundEvent
from cape.refunds import refund_overview
from tests.cape.factories import DeclarationEntryFactory, DeclarationFactory, eligible_entry
from tests.factories import ImporterFactory

pytestmark = pytest.mark.django_db


def _importers_with_refunds(org, n: int) -> list:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        imp = ImporterFactory(owner=org, name=f"Importer {i:03d}")
        RefundEvent.objects.create(organization=org, importer=imp, kind=RefundEvent.Kind.TREASURY_ISSUED,
                                   event_date=date(2026, 7, 1), amount=Decimal("10.00") + i, source="rev603")
        out.append(imp)
    return out


def test_the_refunds_page_shows_fifty_importers_a_page_with_page_links(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    _importers_with_refunds(importer_org, 51)
    client.force_login(alice)
    r = client.get(reverse("cape_refunds"))
    assert r.status_code == 200
    assert [s.importer.name for s in r.context["rows"]] == [f"Importer {i:03d}" for i in range(50)]
    html = r.content.decode()
    assert "Page 1 of 2" in html and 'href="?page=2" rel="next"' in html and "Importer 050" not in html
    r = client.get(reverse("cape_refunds"), {"page": 2})
    assert [s.importer.name for s in r.context["rows"]] == ["Importer 050"]
    assert r.context["rows"][0].received_principal == Decimal("60.00")
    assert 'href="?page=1" rel="prev"' in r.content.decode()


def test_the_refunds_overview_takes_the_same_queries_for_2_or_30_importers(importer_org, own_importer, charlie) -> None:  # type: ignore[no-untyped-def]
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            refund_overview(importer_org)
        return len(ctx.captured_queries)

    _importers_with_refunds(importer_org, 2)
    few = queries()
    _importers_with_refunds(importer_org, 28)
    assert queries() == few
    assert len(refund_overview(importer_org)) == 30


def test_the_overview_figures_match_each_importers_own_summary(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from cape.refunds import refund_summary

    a = eligible_entry(own_importer)
    d = DeclarationFactory(organization=importer_org, importer=own_importer, status=Declaration.Status.ACCEPTED,
                           accepted_on=date(2026, 5, 1))
    DeclarationEntryFactory(declaration=d, entry=a, outcome=DeclarationEntry.Outcome.ACCEPTED)
    RefundEvent.objects.create(organization=importer_org, importer=own_importer, entry=a, kind=RefundEvent.Kind.TREASURY_ISSUED,
                               event_date=date(2026, 7, 1), amount=Decimal("1230.00"), principal=Decimal("1200.00"),
                               interest=Decimal("30.00"), source="rev603")
    RefundEvent.objects.create(organization=importer_org, importer=own_importer, kind=RefundEvent.Kind.RETURNED,
                               event_date=date(2026, 7, 3), amount=Decimal("-5.00"), source="rev603")
    others = _importers_with_refunds(importer_org, 2)
    overview = {s.importer.pk: s for s in refund_overview(importer_org)}
    for imp in [own_importer, *others]:
        own = refund_summary(importer_org, imp)
        got = overview[imp.pk]
        assert (got.expected_principal, got.received_principal, got.received_interest, got.returned, got.next_window) == (
            own.expected_principal, own.received_principal, own.received_interest, own.returned, own.next_window)
    mine = overview[own_importer.pk]
    assert (mine.expected_principal, mine.received_principal, mine.received_interest, mine.returned) == (
        Decimal("1200.00"), Decimal("1200.00"), Decimal("30.00"), Decimal("5.00"))
    assert mine.next_window is not None and mine.next_window.refund_from == date(2026, 6, 30)


def _rejected(org, importer, n: int, error: str) -> None:  # type: ignore[no-untyped-def]
    d = DeclarationFactory(organization=org, importer=importer, status=Declaration.Status.REJECTED)
    later = timezone.now() + timedelta(minutes=5)  # after the entries were written: no newer ES-003 data
    for _ in range(n):
        DeclarationEntryFactory(declaration=d, entry=eligible_entry(importer), outcome=DeclarationEntry.Outcome.REJECTED,
                                error_text=error, outcome_at=later)


def test_the_refile_page_shows_fifty_entries_a_page_in_each_list(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    _rejected(importer_org, own_importer, 51, "UNABLE TO CALCULATE DUTY")  # ready at once
    _rejected(importer_org, own_importer, 52, "INVALID HTS")  # waiting for a post-summary correction
    client.force_login(alice)
    r = client.get(reverse("cape_refile"))
    assert r.status_code == 200
    html = r.content.decode()
    assert len(r.context["ready"].object_list) == 50 and len(r.context["waiting"].object_list) == 50
    assert "Ready to declare again (51)" in html and "Waiting for a post-summary correction (52)" in html
    assert 'href="?ready_page=2&amp;waiting_page=1" rel="next"' in html
    assert 'href="?waiting_page=2&amp;ready_page=1" rel="next"' in html
    assert "Build a new declaration from all 51" in html
    r = client.get(reverse("cape_refile"), {"ready_page": 2, "waiting_page": 2})
    assert len(r.context["ready"].object_list) == 1 and len(r.context["waiting"].object_list) == 2
    assert r.context["ready"].number == 2 and r.context["waiting"].number == 2
