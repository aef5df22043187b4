"""In Chromium: a facts file with one bad row — the row's error is shown, the other rows are applied, the
audit log lists each change with old and new value, and the entries show their new paths."""

from __future__ import annotations

import pytest

from cape.classify import classify_entries, today_eastern
from tests.conftest import login
from tests.factories import EntryFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


def test_a_facts_file_with_one_bad_row(page, alice, importer_org, own_importer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b, c = (EntryFactory(organization=importer_org, importer=own_importer) for _ in range(3))
    classify_entries(organization=importer_org, as_of=today_eastern())
    facts = tmp_path / "entry_facts.csv"
    facts.write_text(
        "Entry Number,Surety Paid,Drawback\n"
        f"{a.entry_number_display},Y,\n"
        f"{b.entry_number},sometimes,\n"
        f"{c.entry_number},,yes\n",
        encoding="utf-8",
    )
    login(page, "alice")
    page.goto(page.base_url + "/entries/facts/")
    assert page.get_by_role("link", name="Download the template (CSV)").is_visible()
    page.get_by_label("Facts file (CSV or XLSX)").set_input_files(str(facts))
    page.get_by_role("button", name="Apply the facts").click()
    result = page.get_by_test_id("facts-result")
    assert "2 of 3 rows applied, 2 changes" in result.inner_text()
    errors = page.get_by_test_id("facts-errors").inner_text()
    assert "3" in errors and "Surety Paid" in errors and "sometimes" in errors and "flag is Y, Yes, True or 1" in errors
    paths = page.get_by_test_id("facts-paths").inner_text()
    assert f"{a.entry_number}\tneeds_review\tsurety_paid" in paths
    assert f"{c.entry_number}\twait\tdrawback" in paths
    assert b.entry_number not in paths

    page.goto(page.base_url + "/accounts/audit/")
    log = page.locator("table.data").inner_text()
    assert f"{a.entry_number} surety paid: no → yes" in log
    assert f"{c.entry_number} drawback: no → yes" in log
    assert b.entry_number not in log

    page.goto(page.base_url + f"/entries/{a.pk}/")
    assert "surety_paid" in page.locator("main").inner_text()
