"""Small defects of issue #20, in Chromium: entry numbers that wrapped in the dashboard's deadline table, the
portfolio that needed a sideways scroll at 1280 px (its readiness column narrow and tall), and the reason
tooltip that Escape did not dismiss (WCAG 2.2, 1.4.13 Content on Hover or Focus)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.services import importer_assign, importer_note_add
from cape.classify import today_eastern
from cape.models import Path as P
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory, GrantFactory, ImporterFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]
SHOTS = Path(__file__).resolve().parents[2] / "data" / "screenshots"


def _classified(importer, org, path: str, duty: str, days: int | None = None, reasons=("unliquidated",)):  # type: ignore[no-untyped-def]
    entry = EntryFactory(organization=org, importer=importer, ieepa_duty=Decimal(duty))
    ClassificationFactory(
        entry=entry,
        path=path,
        deadline=today_eastern() + timedelta(days=days) if days is not None else None,
        urgent=days is not None and 0 <= days <= 14,
        reasons=list(reasons),
        reasons_text="|" + "|".join(reasons) + "|",
    )
    return entry


@pytest.mark.parametrize("width", [1366, 390])
def test_entry_numbers_in_the_dashboard_deadline_table_stay_on_one_line(
    page, alice, importer_org, own_importer, width
) -> None:  # type: ignore[no-untyped-def]
    for days in (3, 12, 25):
        _classified(own_importer, importer_org, P.CAPE_PHASE1, "43097491.00", days)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "alice")
    page.goto(page.base_url + "/dashboard/")
    links = page.get_by_test_id("deadlines").locator("a.mono")
    assert links.count() == 3
    lines = links.evaluate_all("els => els.map(e => e.getClientRects().length)")
    assert lines == [1, 1, 1], lines  # one box each: the number never breaks across lines
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0


def test_the_portfolio_fits_1280_px_without_a_sideways_scroll(page, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    names = [
        "Consolidated Pacific Rim Housewares and Kitchen Supply Corporation",
        "Cedar Lane Imports LLC",
        "Dune Outfitters International Trading Company",
    ]
    importers = [own_importer]
    for i, name in enumerate(names):
        imp = ImporterFactory(name=name, ir_number=f"{27 + i}-41883{i}200", owner=None)
        GrantFactory(importer=imp, organization=broker_org)
        importers.append(imp)
    for imp in importers:  # every path, large amounts: the widest "by refund path" cell there is
        for k, path in enumerate(P):
            _classified(imp, broker_org, path, f"{4309749 + k}.25", 5 + k if k < 4 else None)
    importer_assign(organization=broker_org, importer=importers[1], member=bob, user=bob)
    importer_note_add(
        organization=broker_org,
        importer=importers[1],
        user=bob,
        follow_up_on=today_eastern() - timedelta(days=1),
        text="Ask the client for the ACH Refund Authorization and the 4811 notify party before Friday",
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "bob")
    page.goto(page.base_url + "/dashboard/")
    box = page.get_by_test_id("portfolio").locator("xpath=..")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "portfolio_1280.png"), full_page=True)
    overflow = box.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, f"the portfolio table scrolls sideways by {overflow}px at 1280 px"
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    readiness = page.locator("td[data-testid=readiness]").first
    width = readiness.evaluate("el => el.getBoundingClientRect().width")
    assert width >= 150, f"the readiness column is {width}px wide"
    follow_up = page.locator(f'tr[data-importer="{importers[1].ir_display}"]').get_by_test_id("follow-up")
    assert "Follow-up overdue" in follow_up.inner_text()


def test_escape_dismisses_the_reason_tooltip_without_moving_focus_or_pointer(
    page, alice, importer_org, own_importer
) -> None:  # type: ignore[no-untyped-def]
    _classified(own_importer, importer_org, P.CAPE_PHASE1, "100.00", 20, reasons=("within_80_days",))
    login(page, "alice")
    page.goto(page.base_url + "/entries/")
    badge = page.get_by_test_id("entries").locator(".reason button.badge").first
    tip = page.get_by_test_id("entries").locator(".reason .reason-tip").first
    assert not tip.is_visible()
    badge.focus()
    assert tip.is_visible()
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('badge')")  # focus stayed on the badge
    page.evaluate("document.activeElement.blur()")
    badge.focus()
    assert tip.is_visible()  # shown again on the next focus
    page.evaluate("document.activeElement.blur()")
    assert not tip.is_visible()
    box = badge.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    assert tip.is_visible()
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    page.mouse.move(centre[0] + 2, centre[1])  # moving within the badge keeps it hidden
    assert not tip.is_visible()
    page.mouse.move(0, 0)
    page.mouse.move(*centre)
    assert tip.is_visible()  # and shown on the next hover


def test_a_checkbox_sits_under_its_label_not_in_the_middle_of_the_form(page, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    login(page, "bob")
    page.goto(page.base_url + f"/accounts/importers/{own_importer.pk}/")
    box = page.get_by_label("CIT plaintiff (the importer's number was reported for the court-ordered CAPE phase)")
    label = page.locator("label[for=id_cit_plaintiff]")
    assert abs(box.bounding_box()["x"] - label.bounding_box()["x"]) < 24
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "importer_page.png"), full_page=True)


def test_the_duty_chart_is_readable_on_a_phone(page, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """Scaled into a phone's width, the laptop drawing's text was about 6 px tall: the phone gets its own."""
    for k, path in enumerate(P):
        _classified(own_importer, importer_org, path, f"{43097491 + k}.00")
    for width, smallest in ((1366, 12), (390, 11)):
        page.set_viewport_size({"width": width, "height": 900})
        login(page, "alice") if width == 1366 else None
        page.goto(page.base_url + "/dashboard/")
        chart = page.get_by_role("img", name="IEEPA duty by refund path")
        assert chart.count() == 1  # one drawing shown at each width
        heights = chart.locator("text").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
        assert len(heights) == 16 and min(heights) >= smallest, (width, heights)
        right = chart.evaluate("el => el.getBoundingClientRect().right")
        ends = chart.locator("text").evaluate_all("els => els.map(e => e.getBoundingClientRect().right)")
        assert max(ends) <= right + 1, (width, max(ends), right)


def test_the_readiness_table_fits_1280_px(page, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    imp = ImporterFactory(name="Consolidated Pacific Rim Housewares and Kitchen Supply Corporation", owner=None)
    GrantFactory(importer=imp, organization=broker_org)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "bob")
    page.goto(page.base_url + "/onboarding/readiness/")
    box = page.locator("table.ob-readiness").locator("xpath=..")
    overflow = box.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, f"the readiness table scrolls sideways by {overflow}px at 1280 px"
