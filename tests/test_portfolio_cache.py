"""The broker portfolio's per-process rows and rendered table rows (portfolio.dashboard._portfolio_rows,
portfolio.views_dashboard._rows_html): kept under a digest of what they show, so every change to an
importer, its ACH refund route, its open rejections, its grant or its classifications is on the very
next page, and an unchanged portfolio is neither rebuilt nor rendered again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ImporterGrant
from ach.models import AchEnrollment, AchRejection, NotifyParty
from cape.models import Path
from cape.selectors import bump_totals_version
from portfolio.dashboard import PortfolioFilters, portfolio_for
from tests.factories import GrantFactory, ImporterFactory
from tests.test_dashboard import classified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def clients(broker_org, own_importer):  # type: ignore[no-untyped-def]
    cedar = ImporterFactory(name="Cedar Lane Imports LLC", ir_number="27-418830200", owner=None)
    GrantFactory(importer=cedar, organization=broker_org)
    classified(own_importer, broker_org, Path.CAPE_PHASE1, "1000.00", deadline_in=20)
    classified(cedar, broker_org, Path.CAPE_PHASE1, "4000.00", deadline_in=60)
    return {"blue": own_importer, "cedar": cedar}


def _row(org, importer):  # type: ignore[no-untyped-def]
    return next(r for r in portfolio_for(org).rows if r.importer == importer)


def _builds(org) -> bool:  # type: ignore[no-untyped-def]
    """Whether portfolio_for rebuilt the rows (the select_related read of every importer)."""
    with CaptureQueriesContext(connection) as q:
        portfolio_for(org)
    return any('"ach_achenrollment"."account_number_encrypted"' in x["sql"] for x in q.captured_queries)


def test_an_unchanged_portfolio_is_not_rebuilt_whatever_the_filter_or_sort(broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    assert _builds(broker_org) is True
    assert _builds(broker_org) is False
    by_duty = portfolio_for(broker_org, PortfolioFilters(sort="duty"))
    assert [r.importer.name for r in by_duty.rows] == ["Cedar Lane Imports LLC", "Blue Heron Housewares Inc"]
    only = portfolio_for(broker_org, PortfolioFilters(q="cedar"))
    assert [r.importer.name for r in only.rows] == ["Cedar Lane Imports LLC"] and only.total_importers == 2


def test_ach_notify_party_and_rejection_changes_show_at_once_without_an_audit_row(broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    cedar = clients["cedar"]
    row = _row(broker_org, cedar)
    assert (row.ach_status, row.has_route, row.at_risk) == ("not_started", False, Decimal("4000.00"))
    enrollment = AchEnrollment.objects.create(importer=cedar, status=AchEnrollment.Status.ENTERED)
    assert _row(broker_org, cedar).ach_status == "entered"
    AchEnrollment.objects.filter(pk=enrollment.pk).update(status=AchEnrollment.Status.ACTIVE)  # no audit, no signal
    row = _row(broker_org, cedar)
    assert (row.ach_status, row.has_route, row.at_risk) == ("active", True, Decimal("0.00"))
    AchEnrollment.objects.filter(pk=enrollment.pk).update(status=AchEnrollment.Status.ENTERED)
    party = NotifyParty.objects.create(importer=cedar, name="Pacific Notify Co", ir_number="12-345678900",
                                       on_ace_profile=True, in_box_28=True, ach_enrolled=False)
    assert _row(broker_org, cedar).has_route is False
    NotifyParty.objects.filter(pk=party.pk).update(ach_enrolled=True)
    row = _row(broker_org, cedar)
    assert row.has_route is True and row.recipient.receiver == "notify_party" and row.recipient.name == "Pacific Notify Co"
    AchRejection.objects.create(importer=cedar, rejected_on=date(2026, 11, 2))
    assert _row(broker_org, cedar).open_rejections == 1


def test_importer_name_grant_and_classification_changes_show_at_once(broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    cedar = clients["cedar"]
    portfolio_for(broker_org)
    type(cedar).objects.filter(pk=cedar.pk).update(name="Cedar Lane Holdings")
    assert [r.importer.name for r in portfolio_for(broker_org).rows] == ["Blue Heron Housewares Inc", "Cedar Lane Holdings"]
    ImporterGrant.objects.filter(importer=cedar, organization=broker_org).update(revoked_at=timezone.now())
    assert [r.importer.name for r in portfolio_for(broker_org).rows] == ["Blue Heron Housewares Inc"]
    classified(clients["blue"], broker_org, Path.PROTEST, "250.00", deadline_in=3)
    bump_totals_version(broker_org.pk)  # what every classification run does on commit
    row = _row(broker_org, clients["blue"])
    assert row.figures.paths[Path.PROTEST].duty == Decimal("250.00") and row.figures.urgent == 1


def test_clearing_the_cache_drops_the_kept_rows(broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    portfolio_for(broker_org)
    assert _builds(broker_org) is False
    cache.clear()
    assert _builds(broker_org) is True


def test_web_processes_sharing_one_cache_keep_each_others_rows(broker_org, clients, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two web processes, one cache (Redis in production): the second's build must not invalidate the
    first's rows (a new token per build made every portfolio request of two workers rebuild)."""
    from collections import OrderedDict

    from portfolio import dashboard

    first: OrderedDict = OrderedDict()
    second: OrderedDict = OrderedDict()
    monkeypatch.setattr(dashboard, "_portfolio_memo", first)
    assert _builds(broker_org) is True  # process one builds
    monkeypatch.setattr(dashboard, "_portfolio_memo", second)
    assert _builds(broker_org) is True  # process two has nothing of its own yet: builds once
    assert _builds(broker_org) is False
    monkeypatch.setattr(dashboard, "_portfolio_memo", first)
    assert _builds(broker_org) is False  # process one's rows are still good
    cache.clear()  # ... until the cache is cleared: then each builds once more, and only once
    assert _builds(broker_org) is True and _builds(broker_org) is False
    monkeypatch.setattr(dashboard, "_portfolio_memo", second)
    assert _builds(broker_org) is True and _builds(broker_org) is False


def test_the_page_renders_each_row_once_and_again_when_what_it_shows_changes(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    first = client.get(reverse("dashboard"))
    assert "dashboard/portfolio_row.html" in [t.name for t in first.templates]
    again = client.get(reverse("dashboard"), {"sort": "name"})
    assert "dashboard/portfolio_row.html" not in [t.name for t in again.templates]
    assert again.content.decode().count("<tr data-importer=") == 2
    AchEnrollment.objects.create(importer=clients["cedar"], status=AchEnrollment.Status.ACTIVE)
    changed = client.get(reverse("dashboard"))
    assert "dashboard/portfolio_row.html" in [t.name for t in changed.templates]
    html = changed.content.decode()
    cedar_row = html[html.index('data-importer="27-418830200"'):]
    assert "Confirmed active" in cedar_row[: cedar_row.index("</tr>")]


def test_a_viewer_gets_rows_without_the_selection_boxes_even_after_an_editor(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Membership
    from tests.factories import MembershipFactory

    client.force_login(bob)
    assert 'name="importers"' in client.get(reverse("dashboard")).content.decode()
    viewer = MembershipFactory(organization=broker_org, role=Membership.Role.VIEWER, user__username="vic").user
    client.force_login(viewer)
    assert 'name="importers"' not in client.get(reverse("dashboard")).content.decode()


def test_a_background_classification_publishes_its_figures_warm(broker_org, clients, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from cape.classify import classify_entries, today_eastern
    from cape.selectors import importer_path_figures, totals_version
    from portfolio.dashboard import portfolio_for as portfolio
    from tests.factories import EntryFactory

    EntryFactory(organization=broker_org, importer=clients["cedar"], ieepa_duty=Decimal("90.00"))
    before = totals_version(broker_org.pk)
    with django_capture_on_commit_callbacks(execute=True):
        classify_entries(organization=broker_org, as_of=today_eastern(), pace=True)  # as the nightly and upload tasks run
    assert totals_version(broker_org.pk) == before + 1
    ids = sorted([clients["blue"].pk, clients["cedar"].pk])
    with CaptureQueriesContext(connection) as q:
        importer_path_figures(broker_org, ids, as_of=today_eastern())
        portfolio(broker_org)
    scans = [x["sql"] for x in q.captured_queries if '"cape_classification"' in x["sql"] or '"entries_entry"' in x["sql"]]
    assert scans == []  # figures and readiness summaries were computed by the run, not by the first page
    inline_before = totals_version(broker_org.pk)
    with django_capture_on_commit_callbacks(execute=True):
        classify_entries(organization=broker_org, as_of=today_eastern())  # an edit's inline run: a bump only
    assert totals_version(broker_org.pk) == inline_before + 1
    with CaptureQueriesContext(connection) as q:
        importer_path_figures(broker_org, ids, as_of=today_eastern())
    assert any('"cape_classification"' in x["sql"] and "GROUP BY" in x["sql"] for x in q.captured_queries)  # computed now


def test_warming_that_fails_still_publishes_the_new_version(broker_org, clients, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cape import selectors

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("cache down")

    monkeypatch.setattr(selectors, "importer_path_figures", broken)
    before = selectors.totals_version(broker_org.pk)
    selectors.refresh_totals(broker_org)
    assert selectors.totals_version(broker_org.pk) == before + 1
