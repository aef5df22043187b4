"""In Chromium: see entries by path, open one, read why, set a fact."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cape.classify import classify_entries, today_eastern
from tests.conftest import login
from tests.factories import EntryFactory, TariffLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_sees_entries_by_path_and_opens_one(page, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    today = today_eastern()
    cape = EntryFactory(
        organization=importer_org,
        importer=own_importer,
        liquidation_status="liquidated",
        liquidation_date=today - timedelta(days=20),
        ieepa_duty=Decimal("500.00"),
    )
    protest = EntryFactory(
        organization=importer_org,
        importer=own_importer,
        liquidation_status="liquidated",
        liquidation_date=today - timedelta(days=100),
        ieepa_duty=Decimal("90.00"),
    )
    TariffLineFactory(entry=cape, hts="9903012500", duty=Decimal("500.00"))
    classify_entries(organization=importer_org, as_of=today)

    login(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Entries").click()
    page.wait_for_url("**/entries/")
    totals = page.get_by_test_id("path-totals")
    assert "File in CAPE (Phase 1)" in totals.inner_text()

    totals.get_by_role("link", name="Protest (CBP Form 19)").click()
    page.wait_for_url("**path=protest**")
    table = page.get_by_test_id("entries")
    assert protest.entry_number_display in table.inner_text()
    assert cape.entry_number_display not in table.inner_text()

    page.get_by_label("Path", exact=True).select_option("cape_phase1")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**path=cape_phase1**")
    page.get_by_role("link", name=cape.entry_number_display).click()
    page.wait_for_url(f"**/entries/{cape.pk}/")
    assert "File in CAPE (Phase 1)" in page.get_by_test_id("path").inner_text()
    assert "CAPE window closes" in page.get_by_test_id("timeline").inner_text()
    reasons = page.get_by_test_id("reasons").inner_text()
    assert "within_80_days" in reasons and "R12" in reasons
    assert "9903012500" in page.get_by_test_id("lines").inner_text()

    # an editor records a drawback claim: the entry moves to protest at once
    page.get_by_label("Drawback claimed on this entry (CBP Form 7551)").check()
    page.get_by_role("button", name="Save facts").click()
    page.wait_for_url(f"**/entries/{cape.pk}/")
    assert "Protest (CBP Form 19)" in page.get_by_test_id("path").inner_text()
    assert "drawback" in page.get_by_test_id("reasons").inner_text()
