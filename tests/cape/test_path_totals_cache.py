"""Totals by path on the entries list: summed from the one cached GROUP BY (importer, path) that the
portfolio shares (cape.selectors.importer_path_figures), equal to a direct count for all importers and
for each one, limited to the visible importers, and new after every classification run."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ImporterGrant
from cape.classify import classify_entries, today_eastern
from cape.models import Path
from cape.selectors import EntryFilters, classifications_for, path_totals
from tests.factories import EntryFactory, GrantFactory, ImporterFactory
from tests.test_dashboard import classified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def book(broker_org, own_importer):  # type: ignore[no-untyped-def]
    cedar = ImporterFactory(name="Cedar Lane Imports LLC", owner=None)
    GrantFactory(importer=cedar, organization=broker_org)
    gone = ImporterFactory(name="Former Client", owner=None)
    GrantFactory(importer=gone, organization=broker_org, revoked_at=timezone.now())
    for imp, path, duty in [(own_importer, Path.CAPE_PHASE1, "1000.00"), (own_importer, Path.CAPE_PHASE1, "0.50"),
                            (own_importer, Path.PROTEST, "250.25"), (cedar, Path.CAPE_PHASE1, "4000.00"),
                            (cedar, Path.WAIT, "100.00"), (gone, Path.CAPE_PHASE1, "777.00")]:
        classified(imp, broker_org, path, duty)
    return {"blue": own_importer, "cedar": cedar, "gone": gone}


def _direct(org, importer_id=None):  # type: ignore[no-untyped-def]
    qs = classifications_for(org).filter(importer__grants__organization=org,
                                       importer__grants__revoked_at__isnull=True)
    if importer_id is not None:
        qs = qs.filter(importer_id=importer_id)
    got = {r["path"]: (r["n"], r["d"]) for r in qs.values("path").annotate(n=Count("entry_id"), d=Sum("ieepa_duty"))}
    return {p: got.get(p, (0, Decimal("0.00"))) for p in Path.values}


def _totals(org, importer_id=None):  # type: ignore[no-untyped-def]
    return {t.path: (t.count, t.ieepa_duty) for t in path_totals(org, EntryFilters(importer_id=importer_id))}


def test_totals_for_all_and_for_each_importer_equal_a_direct_count_of_the_visible_ones(broker_org, book) -> None:  # type: ignore[no-untyped-def]
    assert _totals(broker_org) == _direct(broker_org)
    assert _totals(broker_org)[Path.CAPE_PHASE1] == (3, Decimal("5000.50"))  # not the revoked client's 777.00
    for imp in (book["blue"], book["cedar"]):
        assert _totals(broker_org, imp.pk) == _direct(broker_org, imp.pk)
    assert all(n == 0 for n, _d in _totals(broker_org, book["gone"].pk).values())


def test_one_group_by_serves_every_importer_and_the_portfolio(client, bob, broker_org, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    client.get(reverse("dashboard"))
    with CaptureQueriesContext(connection) as q:
        for imp in (book["blue"], book["cedar"], None):
            client.get(reverse("entry_list"), {"importer": imp.pk} if imp else {})
    assert not [x["sql"] for x in q.captured_queries if "GROUP BY" in x["sql"] and "cape_classification" in x["sql"]]


def test_totals_follow_a_classification_run(broker_org, book) -> None:  # type: ignore[no-untyped-def]
    assert _totals(broker_org, book["cedar"].pk)[Path.PROTEST] == (0, Decimal("0.00"))
    entry = EntryFactory(organization=broker_org, importer=book["cedar"], ieepa_duty=Decimal("90.00"),
                         entry_type="11", liquidation_status="liquidated",
                         liquidation_date=today_eastern().replace(day=1))
    with pytest.MonkeyPatch.context() as mp:
        from django.db import transaction

        mp.setattr(transaction, "on_commit", lambda fn, *a, **k: fn())  # the run's commit, inside the test's transaction
        classify_entries(organization=broker_org, entry_ids=[entry.pk], as_of=today_eastern())
    assert _totals(broker_org, book["cedar"].pk) == _direct(broker_org, book["cedar"].pk)
    assert _totals(broker_org) == _direct(broker_org)


def test_a_revoked_grant_drops_the_importer_from_the_totals_at_once(broker_org, book) -> None:  # type: ignore[no-untyped-def]
    before = _totals(broker_org)[Path.CAPE_PHASE1]
    ImporterGrant.objects.filter(importer=book["cedar"], organization=broker_org).update(revoked_at=timezone.now())
    assert _totals(broker_org)[Path.CAPE_PHASE1] == (before[0] - 1, before[1] - Decimal("4000.00"))
    assert _totals(broker_org) == _direct(broker_org)
