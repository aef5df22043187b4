"""In real Chromium: an importer's protest-path entries → a draft → the spreadsheet and the Form 19 content sheet,
read back → the protest number recorded → the entries show the protest pending (rule R5) on the entries page
and the dashboard."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from cape.models import Classification
from protests.models import Protest
from tests.conftest import login
from tests.protests.factories import classify, protest_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_draft_download_and_file_a_protest(page, alice, importer_org, own_importer, fresh_cache, tmp_path) -> None:  # type: ignore[no-untyped-def]
    entries = [
        protest_entry(own_importer, importer_org, days_ago=d, duties=duties)
        for d, duties in ((95, ("100.00", "20.00")), (160, ("300.00",)), (130, ("45.25",)))
    ]
    classify(importer_org)
    by_deadline = sorted(entries, key=lambda e: Classification.objects.get(entry=e).protest_deadline)
    login(page, "alice")

    page.goto(page.base_url + "/entries/?path=protest")
    table = page.get_by_test_id("entries")
    for e in entries:
        assert e.entry_number_display in table.inner_text()
    page.get_by_test_id("protests-link").get_by_role("link").click()
    page.get_by_role("heading", name="Protests and court").wait_for()
    page.get_by_label(str(own_importer)).check()
    page.get_by_role("button", name="Draft protests").click()
    result = page.get_by_test_id("draft-result")
    result.get_by_role("heading", name="Drafted 1 protest").wait_for()
    result.get_by_role("link").first.click()
    page.wait_for_url("**/protests/*/")
    assert page.get_by_test_id("protest-status").inner_text() == "Draft"
    assert page.get_by_test_id("protest-duty").inner_text() == "$465.25"

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the Protest Details Spreadsheet (XLSX)").click()
    xlsx = tmp_path / info.value.suggested_filename
    info.value.save_as(xlsx)
    sheet = list(load_workbook(io.BytesIO(xlsx.read_bytes()))["Protest Details"].iter_rows(values_only=True))
    assert list(sheet[0][:4]) == ["Entry Number", "Entry Line Number", "Change From", "Change To"]
    assert [r[0] for r in sheet[1:]] == [
        by_deadline[0].entry_number,
        by_deadline[1].entry_number,
        by_deadline[2].entry_number,
        by_deadline[2].entry_number,
    ]
    assert round(sum(Decimal(str(r[6])) for r in sheet[1:]), 2) == Decimal("465.25")
    assert {r[3] for r in sheet[1:]} == {"9903.01.25 duty 0.00"}

    page.reload()  # the download marked the draft exported
    assert page.get_by_test_id("protest-status").inner_text() == "Exported (ready to file)"
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the Form 19 content sheet (PDF)").click()
    pdf = tmp_path / info.value.suggested_filename
    info.value.save_as(pdf)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Blue Heron Housewares Inc" in text and "93-417726100" in text
    assert all(e.entry_number_display in text for e in entries)
    assert "$465.25" in text and "Learning Resources" in text
    assert text.index(by_deadline[0].entry_number_display) < text.index("Port of entry")  # the lead entry first

    number = f"2704-{timezone.localdate():%y}-100412"
    page.get_by_label("Protest number (from the ACE Protest Module)").fill(number)
    page.get_by_label("Date filed").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Record the filing").click()
    page.get_by_test_id("protest-number").wait_for()
    assert page.get_by_test_id("protest-number").inner_text() == number
    assert Protest.objects.get().status == Protest.Status.FILED

    page.goto(page.base_url + "/entries/?path=protest")
    badges = page.locator('[data-testid="entries"] button[data-code="protest_pending"]')
    assert badges.count() == 3
    assert "protest (CBP Form 19) is open" in badges.first.inner_text()

    page.goto(page.base_url + "/dashboard/")
    card = page.get_by_test_id("protest-pending")
    assert "Protest pending: 3 entries" in card.inner_text() and "$465.25" in card.inner_text()
    card.get_by_role("link").click()
    page.wait_for_url("**reason=protest_pending**")
    assert page.locator('[data-testid="entries"] tbody tr').count() == 3
