"""In real Chromium: the TAO records the refund bank account and sees only its last four digits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ach.models import AchEnrollment
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCOUNT = "60718293041"


def test_entering_an_enrollment_shows_only_the_masked_number(page, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    login(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="ACH").click()
    page.get_by_role("link", name="Blue Heron Housewares Inc").click()
    assert page.get_by_test_id("ach-status").inner_text() == "Not started"

    # A typo in the second copy: refused, and neither copy is written back into the form.
    page.get_by_label("Bank name").fill("First Bank of Testing")
    page.get_by_label("Routing number (ABA)").fill("021000021")
    page.locator("#id_account_number").fill(ACCOUNT)
    page.get_by_label("Account number again").fill(ACCOUNT[:-1] + "9")
    page.get_by_label("Checking").check()
    page.get_by_role("button", name="Save bank details").click()
    expect(page.get_by_text("The two account numbers differ")).to_be_visible()
    assert page.locator("#id_account_number").input_value() == ""
    assert page.get_by_label("Bank name").input_value() == "First Bank of Testing"
    assert ACCOUNT not in page.content()

    page.locator("#id_account_number").fill(ACCOUNT)
    page.get_by_label("Account number again").fill(ACCOUNT)
    page.get_by_label("Checking").check()
    page.get_by_role("button", name="Save bank details").click()
    assert page.get_by_test_id("account-masked").inner_text() == "••••3041"
    assert ACCOUNT not in page.content()

    page.get_by_label("Date entered in ACE").fill("2026-03-02")
    page.get_by_label("Entered by").fill("Alice (TAO)")
    page.get_by_role("button", name="Record as entered in ACE").click()
    assert page.get_by_test_id("ach-status").inner_text() == "Entered in ACE"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="ACH").click()
    row = page.locator("table.ach-table tbody tr").filter(has_text="Blue Heron")
    assert "••••3041" in row.inner_text() and "Entered in ACE" in row.inner_text()
    assert ACCOUNT not in page.content()
    assert AchEnrollment.objects.get(importer=own_importer).account_last4 == "3041"
