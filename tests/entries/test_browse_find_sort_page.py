"""The entries list as a broker with 200 importers uses it (issue #20): find an entry however its number was
typed, or by importer or port; sort by any column header; page numbers with the total; the deadline named
for what it is (projected ones marked); the same search in the API."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cape.models import Path
from tests.cape.factories import ClassificationFactory
from tests.factories import EntryFactory, GrantFactory, ImporterFactory, entry_number_with_check_digit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

NUMBER = entry_number_with_check_digit("3BZ5500120")  # 3BZ-5500120-<check digit>


def _entry(org, importer, number: str | None = None, *, path: str = Path.CAPE_PHASE1, duty: str = "100.00",  # type: ignore[no-untyped-def]
           deadline: date | None = None, port: str = "2704", reasons: list[str] | None = None, **classification):
    kwargs = {"entry_number": number} if number else {}
    entry = EntryFactory(organization=org, importer=importer, ieepa_duty=Decimal(duty), port_code=port, **kwargs)
    reasons = reasons or ["unliquidated"]
    ClassificationFactory(entry=entry, path=path, deadline=deadline, ieepa_duty=Decimal(duty), reasons=reasons,
                          reasons_text="|" + "|".join(reasons) + "|", **classification)
    return entry


def _numbers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.entry.entry_number for c in response.context["page"].rows]


@pytest.mark.parametrize("typed", [
    f"{NUMBER[:3]} {NUMBER[3:10]} {NUMBER[10]}",  # as read aloud off a 7501
    f"{NUMBER[:3]}-{NUMBER[3:10]}-{NUMBER[10]}",
    f'="{NUMBER}"',  # Excel's text guard, pasted from a spreadsheet
    f"  {NUMBER.lower()} ",
    "5500120",  # part of the number
])
def test_an_entry_is_found_however_its_number_is_typed(client, bob, broker_org, own_importer, typed) -> None:  # type: ignore[no-untyped-def]
    org = broker_org  # the broker's own copy of its client's entries
    wanted = _entry(org, own_importer, NUMBER)
    _entry(org, own_importer)  # another entry that must not match
    client.force_login(bob)
    r = client.get(reverse("entry_list"), {"q": typed})
    assert _numbers(r) == [wanted.entry_number]
    assert "Entries 1–1 of 1" in r.content.decode()


def test_a_number_that_lost_its_leading_zeros_is_found(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    number = entry_number_with_check_digit("0045500120")
    wanted = _entry(importer_org, own_importer, number)
    _entry(importer_org, own_importer)
    client.force_login(alice)
    r = client.get(reverse("entry_list"), {"q": number.lstrip("0")})  # Excel stored it as a number
    assert _numbers(r) == [wanted.entry_number]


def test_search_finds_an_importer_by_name_or_ir_number_and_never_another_tenants_entries(  # type: ignore[no-untyped-def]
    client, bob, broker_org, own_importer, charlie,
) -> None:
    from accounts.models import Importer

    other = ImporterFactory(name="Crane Outdoor Gear", ir_number="41-235813200", owner=None)
    GrantFactory(importer=other, organization=broker_org)
    mine = _entry(broker_org, own_importer)
    theirs = _entry(broker_org, other)
    outsider = Importer.objects.get(owner__slug="outsider")
    _entry(outsider.owner, outsider)  # charlie's importer: "Outsider Trading LLC"
    client.force_login(bob)
    assert _numbers(client.get(reverse("entry_list"), {"q": "crane outdoor"})) == [theirs.entry_number]
    assert _numbers(client.get(reverse("entry_list"), {"q": "41235813200"})) == [theirs.entry_number]
    assert _numbers(client.get(reverse("entry_list"), {"q": "93-4177261"})) == [mine.entry_number]
    r = client.get(reverse("entry_list"), {"q": "Outsider"})
    assert _numbers(r) == [] and "Entries" not in r.context["page"].rows


def test_the_port_filter_keeps_one_port_and_explains_a_bad_code(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    la = _entry(importer_org, own_importer, port="2704")
    _entry(importer_org, own_importer, port="1001")
    client.force_login(alice)
    assert _numbers(client.get(reverse("entry_list"), {"port": "2704"})) == [la.entry_number]
    r = client.get(reverse("entry_list"), {"port": "LAX"})
    assert "Enter a CBP port code: 4 digits, e.g. 2704 (Los Angeles)" in r.content.decode()
    assert len(_numbers(r)) == 2  # the invalid filter is reported and ignored


def test_each_column_header_sorts_and_a_second_click_reverses(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    small = _entry(importer_org, own_importer, "AAA0000001" + "0", duty="5.00", deadline=date(2027, 3, 1))
    big = _entry(importer_org, own_importer, entry_number_with_check_digit("ZZZ0000001"), duty="900.00",
                 path=Path.PROTEST, deadline=date(2027, 1, 1))
    mid = _entry(importer_org, own_importer, entry_number_with_check_digit("MMM0000001"), duty="50.00", deadline=None)
    client.force_login(alice)
    html = client.get(reverse("entry_list")).content.decode()
    # every sortable header is a real link; the current sort (deadline, soonest first) says so
    assert re.search(r'<th scope="col" aria-sort="ascending"><a href="\?sort=deadline&amp;dir=desc"', html)
    for key in ("entry", "importer", "path", "amount"):
        assert f'href="?sort={key}&amp;dir=' in html
    assert _numbers(client.get(reverse("entry_list"))) == [big.entry_number, small.entry_number, mid.entry_number]

    r = client.get(reverse("entry_list"), {"sort": "amount", "dir": "desc"})
    assert _numbers(r) == [big.entry_number, mid.entry_number, small.entry_number]
    assert re.search(r'aria-sort="descending"[^>]*><a href="\?sort=amount&amp;dir=asc"', r.content.decode())
    assert _numbers(client.get(reverse("entry_list"), {"sort": "amount", "dir": "asc"})) == [
        small.entry_number, mid.entry_number, big.entry_number]
    assert _numbers(client.get(reverse("entry_list"), {"sort": "entry", "dir": "desc"})) == [
        big.entry_number, mid.entry_number, small.entry_number]
    # a filter submitted from the form keeps the sort (hidden fields)
    r = client.get(reverse("entry_list"), {"sort": "entry", "dir": "desc", "q": "MMM0"})
    assert 'name="sort" value="entry"' in r.content.decode() and _numbers(r) == [mid.entry_number]


def test_every_column_header_sorts_type_and_reasons_included(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """Issue #20: the Type column did not sort. Every header of the entries table is a sort link."""
    from cape.views_browse import COLUMNS

    t21 = _entry(importer_org, own_importer, entry_number_with_check_digit("AAA0000002"), reasons=["within_80_days"])
    t01 = _entry(importer_org, own_importer, entry_number_with_check_digit("BBB0000002"), reasons=["unliquidated"])
    t11 = _entry(importer_org, own_importer, entry_number_with_check_digit("CCC0000002"), reasons=["cape_rejected"])
    for entry, kind in ((t21, "21"), (t01, "01"), (t11, "11")):
        entry.entry_type = kind
        entry.save(update_fields=["entry_type"])
    client.force_login(alice)
    html = client.get(reverse("entry_list")).content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html.split('data-testid="entries"', 1)[-1].split("</thead>")[0])
    assert len(headers) == len(COLUMNS) == 7
    assert all(h.startswith('<a href="?sort=') for h in headers), headers
    assert _numbers(client.get(reverse("entry_list"), {"sort": "type"})) == [t01.entry_number, t11.entry_number, t21.entry_number]
    r = client.get(reverse("entry_list"), {"sort": "type", "dir": "desc"})
    assert _numbers(r) == [t21.entry_number, t11.entry_number, t01.entry_number]
    assert re.search(r'aria-sort="descending"[^>]*><a href="\?sort=type&amp;dir=asc"', r.content.decode())
    assert _numbers(client.get(reverse("entry_list"), {"sort": "reasons"})) == [
        t11.entry_number, t01.entry_number, t21.entry_number]  # cape_rejected, unliquidated, within_80_days


def test_pages_are_numbered_with_the_total_and_the_last_page_reads_from_the_end(  # type: ignore[no-untyped-def]
    client, alice, importer_org, own_importer,
) -> None:
    entries = [_entry(importer_org, own_importer, duty=f"{n}.00", deadline=date(2027, 1, 1) + timedelta(days=n % 7))
               for n in range(1, 121)]
    client.force_login(alice)
    order = sorted(entries, key=lambda e: (e.classification.deadline, e.pk))
    r = client.get(reverse("entry_list"))
    html = r.content.decode()
    assert "Entries 1–50 of 120" in html
    assert 'aria-label="Page 2"' in html and 'aria-label="Page 3"' in html and 'aria-current="page"' in html
    assert _numbers(r) == [e.entry_number for e in order[:50]]
    r2 = client.get(reverse("entry_list"), {"page": "2"})
    assert _numbers(r2) == [e.entry_number for e in order[50:100]]
    r3 = client.get(reverse("entry_list"), {"page": "3"})
    assert _numbers(r3) == [e.entry_number for e in order[100:]] and "Entries 101–120 of 120" in r3.content.decode()
    by_amount = client.get(reverse("entry_list"), {"page": "3", "sort": "amount"})
    assert [c.ieepa_duty for c in by_amount.context["page"].rows] == [Decimal(f"{n}.00") for n in range(20, 0, -1)]
    assert _numbers(client.get(reverse("entry_list"), {"page": "99"})) == _numbers(r3)  # past the end: the last page


def test_the_total_of_a_search_is_counted_once_until_classifications_change(  # type: ignore[no-untyped-def]
    client, alice, importer_org, own_importer,
) -> None:
    from cape.selectors import bump_totals_version

    for _ in range(3):
        _entry(importer_org, own_importer, port="2704")
    client.force_login(alice)

    def counts(params: dict[str, str]) -> int:
        with CaptureQueriesContext(connection) as q:
            assert client.get(reverse("entry_list"), params).status_code == 200
        return sum(1 for x in q.captured_queries if x["sql"].startswith("SELECT COUNT(*)"))

    assert counts({"port": "2704"}) == 1
    assert counts({"port": "2704", "page": "1", "sort": "amount"}) == 0  # cached
    assert counts({}) == 0  # unfiltered: the totals by path the page shows anyway
    bump_totals_version(importer_org.pk)  # what a classification run does when it finishes
    assert counts({"port": "2704"}) == 1


def test_the_deadline_column_names_the_deadline_and_marks_projected_ones(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    _entry(importer_org, own_importer, path=Path.CAPE_PHASE1, deadline=date(2027, 2, 10),
           cape_window_closes=date(2027, 2, 10), liquidated=True)
    _entry(importer_org, own_importer, path=Path.PROTEST, deadline=date(2027, 5, 1), protest_deadline=date(2027, 5, 1))
    _entry(importer_org, own_importer, path=Path.CIT, deadline=date(2028, 1, 28), cit_deadline=date(2028, 1, 28))
    # not liquidated: CBP liquidates on day 314 (19 U.S.C. 1504), so its deadlines are projected from that;
    # the CAPE window then closes 79 days after (2026-11-30 + 79 days)
    _entry(importer_org, own_importer, path=Path.CAPE_PHASE1, deadline=None, liquidated=False,
           projected_liquidation_date=date(2026, 11, 30), protest_deadline=date(2027, 5, 29),
           protest_deadline_projected=True)
    client.force_login(alice)
    html = client.get(reverse("entry_list")).content.decode()
    cells = re.findall(r"<td>(<span class=\"deadline-kind\">.*?)</td>", html)
    text = [re.sub(r"<[^>]+>", " ", c) for c in cells]
    text = [" ".join(t.split()) for t in text]
    assert "CAPE window closes 2027-02-10" in text
    assert "Protest deadline 2027-05-01" in text
    assert "CIT deadline 2028-01-28" in text
    assert "CAPE window closes 2027-02-17 projected Protest deadline 2027-05-29 projected" in text


def test_the_api_list_searches_and_filters_by_port_like_the_page(client, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    org = broker_org  # the broker's own copy of its client's entries
    wanted = _entry(org, own_importer, NUMBER, port="2704")
    _entry(org, own_importer, port="1001")
    client.force_login(bob)
    url = reverse("entry-list")
    r = client.get(url, {"q": f"{NUMBER[:3]} {NUMBER[3:10]} {NUMBER[10]}"})
    assert r.status_code == 200 and [e["entry_number"] for e in r.json()["results"]] == [wanted.entry_number]
    assert [e["entry_number"] for e in client.get(url, {"port": "2704"}).json()["results"]] == [wanted.entry_number]
    bad = client.get(url, {"port": "LA"})
    assert bad.status_code == 400 and "4 digits" in str(bad.json())


def test_sorting_by_importer_walks_importers_by_name_across_page_boundaries(  # type: ignore[no-untyped-def]
    client, bob, broker_org, own_importer,
) -> None:
    zebra = ImporterFactory(name="Zebra Imports", ir_number="41-235813200", owner=None)
    acme = ImporterFactory(name="Acme Supply", ir_number="41-235813300", owner=None)
    for imp in (zebra, acme):
        GrantFactory(importer=imp, organization=broker_org)
    made = {imp.pk: [_entry(broker_org, imp) for _ in range(n)] for imp, n in ((zebra, 30), (acme, 40), (own_importer, 5))}
    expected = [e.entry_number for imp in (acme, own_importer, zebra) for e in made[imp.pk]]  # Acme, Blue Heron, Zebra
    client.force_login(bob)
    pages = [_numbers(client.get(reverse("entry_list"), {"sort": "importer", "page": str(n)})) for n in (1, 2)]
    assert pages[0] + pages[1] == expected
    desc = [_numbers(client.get(reverse("entry_list"), {"sort": "importer", "dir": "desc", "page": str(n)})) for n in (1, 2)]
    assert desc[0] + desc[1] == expected[::-1]
    # with a filter the importer counts do not apply: the database sorts, same order
    r = client.get(reverse("entry_list"), {"sort": "importer", "port": "2704"})
    assert _numbers(r) == expected[:50]


def test_a_whole_number_with_a_wrong_check_digit_is_still_found(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    wrong = NUMBER[:10] + str((int(NUMBER[10]) + 1) % 10)  # listed for review (rule R1); people search for it
    wanted = _entry(importer_org, own_importer, wrong, path=Path.NEEDS_REVIEW, reasons=["bad_entry_number"])
    _entry(importer_org, own_importer)
    client.force_login(alice)
    assert _numbers(client.get(reverse("entry_list"), {"q": f"{wrong[:3]}-{wrong[3:10]}-{wrong[10]}"})) == [wanted.entry_number]
    assert _numbers(client.get(reverse("entry_list"), {"q": "Blue Heron 2026"})) == []  # a name is not scanned for
