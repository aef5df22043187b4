"""In Chromium: the importer dashboard and the broker portfolio show the right numbers; a broker moves
across clients; keyboard focus is visible; the layout fits a tablet (768px); README screenshots.

Set REFUNDREADY_SCREENSHOTS=1 to write docs/screenshots/dashboard.png and portfolio.png (demo data).
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ach.models import AchEnrollment
from cape.classify import today_eastern
from cape.models import Path as P
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory, GrantFactory, ImporterFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]
ROOT = Path(__file__).resolve().parents[2]


def classified(importer, organization, path: str, duty: str, deadline_in: int | None = None):  # type: ignore[no-untyped-def]
    entry = EntryFactory(organization=organization, importer=importer, ieepa_duty=Decimal(duty))
    deadline = today_eastern() + timedelta(days=deadline_in) if deadline_in is not None else None
    ClassificationFactory(
        entry=entry, path=path, deadline=deadline, urgent=deadline_in is not None and 0 <= deadline_in <= 14
    )
    return entry


def no_horizontal_overflow(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_importer_dashboard_shows_the_right_numbers(page, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    classified(own_importer, importer_org, P.CAPE_PHASE1, "1200.00", deadline_in=6)
    classified(own_importer, importer_org, P.CAPE_PHASE1, "800.00", deadline_in=21)
    classified(own_importer, importer_org, P.PROTEST, "450.50", deadline_in=90)
    login(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert page.get_by_test_id("duty-at-stake").inner_text() == "$2,450.50"
    assert page.get_by_test_id("urgent-count").inner_text() == "1"
    chart = page.get_by_role("img", name="IEEPA duty by refund path")
    assert chart.count() == 1
    assert chart.locator('g[data-label="File in CAPE (Phase 1)"]').get_attribute("data-value") == "2000.00"
    table = page.get_by_test_id("duty-table")
    assert "$2,000.00" in table.locator('tr[data-path="cape_phase1"]').inner_text()
    assert "$450.50" in table.locator('tr[data-path="protest"]').inner_text()
    deadlines = page.get_by_test_id("deadlines").locator("tbody tr")
    assert deadlines.count() == 2  # the protest deadline is 90 days away
    assert "$1,200.00" in deadlines.nth(0).inner_text() and "within 14 days" in deadlines.nth(0).inner_text()
    assert "deadline within 14 days" in page.get_by_test_id("next-steps").inner_text()
    assert page.get_by_test_id("readiness").locator("li.step").count() == 9

    # keyboard: the skip link then the first nav link take a visible focus ring
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    # the chart table's link goes to the entries of that path
    table.get_by_role("link", name="Protest (CBP Form 19)").click()
    page.wait_for_url("**/entries/?path=protest")

    page.set_viewport_size({"width": 768, "height": 1000})
    page.goto(page.base_url + "/dashboard/")
    assert no_horizontal_overflow(page)


def test_broker_portfolio_numbers_and_moving_across_clients(page, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    cedar = ImporterFactory(name="Cedar Lane Imports LLC", ir_number="27-418830200", owner=None)
    dune = ImporterFactory(name="Dune Outfitters", ir_number="31-555000100", owner=None)
    for imp in (cedar, dune):
        GrantFactory(importer=imp, organization=broker_org)
    AchEnrollment.objects.create(importer=cedar, status=AchEnrollment.Status.ACTIVE)
    blue_entry = classified(own_importer, broker_org, P.CAPE_PHASE1, "1000.00", deadline_in=9)
    cedar_entry = classified(cedar, broker_org, P.CAPE_PHASE1, "4000.00", deadline_in=60)
    classified(cedar, broker_org, P.WAIT, "100.00")
    classified(dune, broker_org, P.CAPE_PHASE2, "2500.00", deadline_in=40)

    login(page, "bob")
    page.goto(page.base_url + "/dashboard/")
    page.get_by_role("heading", name="Client portfolio").wait_for()
    rows = page.get_by_test_id("portfolio").locator("tbody tr")
    assert rows.count() == 3
    cedar_row = page.locator('tr[data-importer="27-418830200"]')
    assert "$4,100.00" in cedar_row.get_by_test_id("duty").inner_text()
    assert cedar_row.get_by_test_id("entries-by-path").inner_text() == "2"
    assert "$4,000.00" in cedar_row.locator('[data-testid="by-path"] [data-path="cape_phase1"]').inner_text()
    assert "Confirmed active" in cedar_row.get_by_test_id("ach").inner_text()
    dune_row = page.locator('tr[data-importer="31-555000100"]')
    assert "$2,500.00 at risk" in dune_row.get_by_test_id("ach").inner_text()
    assert page.get_by_test_id("total-at-risk").inner_text() == "$3,500.00"

    # sort by money at risk, then filter to clients without an ACH route
    page.get_by_label("Sort by").select_option("at_risk")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**sort=at_risk**")
    assert rows.nth(0).get_attribute("data-importer") == "31-555000100"
    page.get_by_label("No ACH refund route").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**no_ach=on**")
    assert rows.count() == 2 and page.locator('tr[data-importer="27-418830200"]').count() == 0

    # from the portfolio to one client's entries ...
    page.goto(page.base_url + "/dashboard/")
    page.locator('tr[data-importer="93-417726100"]').get_by_role("link", name="Entries").click()
    page.wait_for_url(f"**/entries/?importer={own_importer.pk}")
    entries = page.get_by_test_id("entries").inner_text()
    assert blue_entry.entry_number_display in entries and cedar_entry.entry_number_display not in entries
    # ... and back to another client's dashboard
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.get_by_role("link", name="Cedar Lane Imports LLC").click()
    page.wait_for_url(f"**/dashboard/importers/{cedar.pk}/")
    assert page.get_by_test_id("duty-at-stake").inner_text() == "$4,100.00"
    page.get_by_role("link", name="This client's entries").click()
    assert cedar_entry.entry_number_display in page.get_by_test_id("entries").inner_text()
    page.go_back()
    page.get_by_role("link", name="← Back to the portfolio").click()
    page.get_by_role("heading", name="Client portfolio").wait_for()

    page.set_viewport_size({"width": 768, "height": 1000})
    page.reload()
    assert no_horizontal_overflow(page)


def test_screenshots_of_the_dashboard_and_portfolio_from_demo_data(page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Demo data (manage.py seed_demo) plus a few more clients, photographed at 1280px."""
    from django.core.management import call_command

    from accounts.models import Importer, Organization

    call_command("seed_demo", importer_entries=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    broker = Organization.objects.get(slug="harbor")
    blue = Importer.objects.get(ir_number="93-417726100")
    owner_org = Organization.objects.get(slug="blue-heron")
    AchEnrollment.objects.update_or_create(importer=blue, defaults={"status": AchEnrollment.Status.ACTIVE})
    mix = [
        (P.CAPE_PHASE1, "18450.00", 8),
        (P.CAPE_PHASE1, "9320.75", 19),
        (P.CAPE_PHASE2, "6120.00", 45),
        (P.PROTEST, "4410.20", 27),
        (P.WAIT, "12880.00", None),
        (P.FILED, "7300.00", None),
        (P.NOT_ELIGIBLE, "950.00", None),
    ]
    for path, duty, days in mix:
        classified(blue, owner_org, path, duty, days)
    names = [
        ("Cedar Lane Imports LLC", "27-418830200"),
        ("Kestrel Outdoor Gear Inc", "41-220945100"),
        ("Marlow Textiles Co", "58-330112700"),
        ("Pinewood Toys LLC", "62-771045300"),
        ("Sable Kitchenware Inc", "84-119930400"),
    ]
    statuses = [
        AchEnrollment.Status.ACTIVE,
        AchEnrollment.Status.ENTERED,
        None,
        AchEnrollment.Status.ACTIVE,
        AchEnrollment.Status.REJECTED,
    ]
    for k, ((name, ir), status) in enumerate(zip(names, statuses, strict=True)):
        imp = Importer.objects.filter(ir_number=ir).first() or ImporterFactory(name=name, ir_number=ir, owner=None)
        if not imp.grants.filter(organization=broker).exists():
            GrantFactory(importer=imp, organization=broker)
        if status:
            AchEnrollment.objects.update_or_create(importer=imp, defaults={"status": status})
        for j, (path, duty, days) in enumerate(mix[: 3 + k]):
            classified(
                imp, broker, path, str(Decimal(duty) * (k + 1) / (j + 2)), None if days is None else days + 3 * k
            )
    # client work: the staff member's clients, one follow-up overdue
    from django.contrib.auth import get_user_model

    from accounts.services import importer_assign, importer_note_add

    staff = get_user_model().objects.get(username="broker-staff")
    for ir in ("93-417726100", "27-418830200"):
        importer_assign(organization=broker, importer=Importer.objects.get(ir_number=ir), member=staff, user=staff)
    importer_note_add(
        organization=broker,
        importer=Importer.objects.get(ir_number="27-418830200"),
        user=staff,
        follow_up_on=today_eastern() - timedelta(days=2),
        text="Ask for the ACH Refund Authorization confirmation from ACE.",
    )
    # The demo's uploads (Harbor's, then Blue Heron's own) classified and cached each organisation's figures;
    # the factories above wrote classifications behind the product's back, so start from an empty cache.
    from django.core.cache import cache

    cache.clear()
    out = ROOT / "docs" / "screenshots" if os.environ.get("REFUNDREADY_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)

    page.goto(page.base_url + "/accounts/login/")
    from portfolio.management.commands.seed_demo import DEMO_PASSWORD

    login(page, "importer-owner", DEMO_PASSWORD)
    page.goto(page.base_url + "/dashboard/")
    # The mix above ($58,480.95) and the 7 Blue Heron entries both demo reports carry ($3,070.00): one set, the
    # importer's, whoever loaded them.
    assert page.get_by_test_id("duty-at-stake").inner_text() == "$61,550.95"
    page.screenshot(path=str(out / "dashboard.png"), full_page=True)

    page.get_by_role("button", name="Log out importer-owner").click()
    login(page, "broker-staff", DEMO_PASSWORD)
    page.goto(page.base_url + "/dashboard/?sort=duty")
    assert page.get_by_test_id("portfolio").locator("tbody tr").count() == 6
    page.screenshot(path=str(out / "portfolio.png"), full_page=True)
    assert (out / "dashboard.png").stat().st_size > 10_000 and (out / "portfolio.png").stat().st_size > 10_000
