"""A broker's entries list spans its importers, and the classifications carry only per-importer indexes (issue
18): on PostgreSQL the list sorted by deadline, amount or path reads each importer's rows in order and merges
them (cape.selectors._ids_by_importer). Whatever the way of reading, every page holds exactly the rows one
sort of the whole list would put there: every sort, both directions, every page, the API's cursor pages, a
filter, and a page deep enough to be read by one sort instead."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from accounts.models import Organization
from cape import selectors
from cape.models import Classification, Path
from tests.cape.factories import ClassificationFactory
from tests.factories import BrokerFactory, EntryFactory, ImporterFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

PATHS = [Path.CAPE_PHASE1, Path.PROTEST, Path.CIT, Path.WAIT, Path.NOT_ELIGIBLE]


@pytest.fixture
def broker() -> Organization:
    """A broker with three importers (one more not its own) and 45 classified entries: deadlines with ties
    and blanks, amounts with ties, several paths, some urgent."""
    rng = random.Random(18)
    org = BrokerFactory()
    importers = [ImporterFactory() for _ in range(3)]
    for i in range(45):
        importer = importers[i % 3]
        duty = Decimal(rng.choice(["0.00", "100.00", "250.50", "999.99", "1200.00"]))
        entry = EntryFactory(organization=org, importer=importer, ieepa_duty=duty)
        deadline = None if i % 7 == 0 else date(2026, 12, 1) + timedelta(days=rng.randrange(0, 9))
        ClassificationFactory(entry=entry, importer=importer, ieepa_duty=duty, path=PATHS[i % len(PATHS)],
                              deadline=deadline, urgent=i % 4 == 0)
    stranger = ImporterFactory()
    ClassificationFactory(entry=EntryFactory(importer=stranger), importer=stranger)
    return org


def _expected(org: Organization, columns: tuple[str, ...], descending: bool, rows: Any = None) -> list[int]:
    """The whole list sorted in Python: NULLs last ascending; descending is the exact reverse (NULLs first)."""
    rows = list(rows if rows is not None else selectors.classifications_for(org))

    def key(c: Classification) -> tuple[Any, ...]:
        return tuple((getattr(c, col) is None, getattr(c, col) or 0) for col in columns)

    return [c.entry_id for c in sorted(rows, key=key, reverse=descending)]


def _all_pages(org: Organization, filters: selectors.EntryFilters, size: int) -> list[int]:
    count = selectors.entry_count(org, filters)
    seen: list[int] = []
    for number in range(1, -(-count // size) + 1):
        page = selectors.entry_numbered_page(org, filters, number=number, count=count, size=size)
        seen += [c.entry_id for c in page.rows]
    return seen


@pytest.mark.parametrize("sort", ["deadline", "amount", "path"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_page_of_a_list_over_several_importers_is_the_one_sorted_list(broker, sort, direction) -> None:  # type: ignore[no-untyped-def]
    columns, _default = selectors.LIST_SORTS[sort]
    filters = selectors.EntryFilters(sort=sort, direction=direction)
    assert _all_pages(broker, filters, size=4) == _expected(broker, columns, direction == "desc")
    if connection.vendor == "postgresql":  # the merge is what read them, not the one-query fallback
        assert selectors._ids_by_importer(broker, filters, columns, descending=direction == "desc", start=4, stop=8) \
            == _expected(broker, columns, direction == "desc")[4:8]
    else:
        assert selectors._ids_by_importer(broker, filters, columns, descending=False, start=0, stop=4) is None


def test_a_filtered_list_over_several_importers(broker) -> None:  # type: ignore[no-untyped-def]
    filters = selectors.EntryFilters(sort="deadline", urgency="urgent")
    urgent = Classification.objects.filter(importer__in=selectors.importers_for(broker), urgent=True)
    assert _all_pages(broker, filters, size=3) == _expected(broker, ("deadline", "entry_id"), False, urgent)
    filters = selectors.EntryFilters(sort="amount", path=Path.PROTEST, direction="asc")
    protest = Classification.objects.filter(importer__in=selectors.importers_for(broker), path=Path.PROTEST)
    assert _all_pages(broker, filters, size=2) == _expected(broker, ("ieepa_duty", "entry_id"), False, protest)


def test_a_deep_page_is_read_by_one_sort_and_is_the_same(broker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    filters = selectors.EntryFilters(sort="deadline")
    merged = _all_pages(broker, filters, size=5)
    monkeypatch.setattr(selectors, "PER_IMPORTER_ROWS", 20)  # 3 importers x 10 rows: pages past the second sort once
    assert selectors._ids_by_importer(broker, filters, ("deadline", "entry_id"), descending=False, start=5, stop=10) is None
    assert _all_pages(broker, filters, size=5) == merged == _expected(broker, ("deadline", "entry_id"), False)


@pytest.mark.parametrize("sort,columns,descending", [("deadline", ("deadline", "entry_id"), False),
                                                     ("amount", ("ieepa_duty", "entry_id"), True)])
def test_the_api_cursor_pages_over_several_importers(broker, sort, columns, descending) -> None:  # type: ignore[no-untyped-def]
    filters = selectors.EntryFilters(sort=sort)
    page = selectors.entry_page(broker, filters, size=4)
    seen = [c.entry_id for c in page.rows]
    while page.next_cursor:
        page = selectors.entry_page(broker, filters, after=page.next_cursor, size=4)
        seen += [c.entry_id for c in page.rows]
    assert seen == _expected(broker, columns, descending)


def test_the_list_sorted_by_importer_reads_each_importer_in_deadline_order(broker) -> None:  # type: ignore[no-untyped-def]
    filters = selectors.EntryFilters(sort="importer")
    rows = list(selectors.classifications_for(broker).select_related("importer"))
    expected: list[int] = []
    for importer in sorted({c.importer for c in rows}, key=lambda i: (i.name, i.pk)):
        expected += _expected(broker, ("deadline", "entry_id"), False, [c for c in rows if c.importer_id == importer.pk])
    assert _all_pages(broker, filters, size=4) == expected
