"""In Chromium, as a broker with many entries uses the list (issue #20): find an entry typed the way it is
read off a 7501, sort by a column header, go to page 2, and read a reason badge's code and source by
keyboard focus."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from cape import rules
from cape.models import Path
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory, entry_number_with_check_digit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


def test_a_broker_finds_sorts_pages_and_reads_a_reason(page, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    number = entry_number_with_check_digit("3BZ5500120")
    for n in range(1, 61):
        entry = EntryFactory(
            organization=importer_org,
            importer=own_importer,
            ieepa_duty=Decimal(f"{n}.00"),
            **({"entry_number": number} if n == 7 else {}),
        )
        ClassificationFactory(
            entry=entry,
            path=Path.CAPE_PHASE1,
            deadline=date(2027, 1, 1) + timedelta(days=n),
            reasons=["within_80_days"],
            reasons_text="|within_80_days|",
            liquidated=True,
        )
    login(page, "alice")
    page.goto(page.base_url + "/entries/")
    count = page.get_by_test_id("entries-count")
    expect(count).to_have_text("Entries 1–50 of 60")

    # typed as read aloud off the 7501, with spaces
    page.get_by_label("Search").fill(f"{number[:3]} {number[3:10]} {number[10]}")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**q=**")
    table = page.get_by_test_id("entries")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.get_by_role("link", name=f"{number[:3]}-{number[3:10]}-{number[10]}")).to_be_visible()

    # sort by IEEPA duty: largest first, then a second click reverses
    page.get_by_role("link", name="Clear").click()
    header = table.get_by_role("columnheader", name="IEEPA duty")
    header.get_by_role("link").click()
    page.wait_for_url("**sort=amount**")
    header = page.get_by_test_id("entries").get_by_role("columnheader", name="IEEPA duty")
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("entries").locator("tbody tr").first.locator("td.num")).to_have_text("$60.00")
    header.get_by_role("link").click()
    page.wait_for_url("**dir=asc**")
    table = page.get_by_test_id("entries")
    expect(table.get_by_role("columnheader", name="IEEPA duty")).to_have_attribute("aria-sort", "ascending")
    expect(table.locator("tbody tr").first.locator("td.num")).to_have_text("$1.00")

    # page 2 keeps the sort
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 2").click()
    page.wait_for_url("**page=2**")
    expect(page.get_by_test_id("entries-count")).to_have_text("Entries 51–60 of 60")
    expect(page.get_by_test_id("entries").locator("tbody tr").first.locator("td.num")).to_have_text("$51.00")

    # a reason badge in words; keyboard focus shows its code and public source, and describes the badge
    badge = page.get_by_test_id("entries").get_by_role("button", name="Liquidated fewer than 80 days ago").first
    tip = page.get_by_test_id("entries").get_by_role("tooltip").first
    expect(tip).to_be_hidden()
    page.get_by_role("link", name="Clear").focus()  # then Tab on through the headers to the first badge
    for _ in range(200):
        page.keyboard.press("Tab")
        if badge.evaluate("el => el === document.activeElement"):
            break
    assert badge.evaluate("el => el === document.activeElement")
    _rule, source, _text = rules.explain("within_80_days")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Code: within_80_days")
    expect(tip).to_contain_text(source)
    expect(badge).to_have_accessible_description(f"Code: within_80_days; Rule R12; Source: {source}")
