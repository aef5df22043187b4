"""Offline: every page works with the network cut off except the app itself (no CDN, no web fonts, no outside
scripts). Every request Chromium makes to anything but the live server is aborted and recorded; none may happen."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from cape.classify import today_eastern
from cape.models import Path as P
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory, TariffLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


def _cut_off(page: Any) -> list[str]:
    """Abort every request not to the live server; return the list the aborted URLs are written to."""
    own = urlsplit(page.base_url)
    allowed = {own.netloc, own.netloc.replace("localhost", "127.0.0.1"), own.netloc.replace("127.0.0.1", "localhost")}
    aborted: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.netloc not in allowed:
            aborted.append(url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", handle)
    return aborted


def _visit(page: Any, path: str) -> None:
    response = page.goto(page.base_url + path, wait_until="networkidle")
    assert response is not None and response.status == 200, f"{path} -> {response.status if response else None}"


def test_every_page_works_with_no_network_but_the_app(page, alice, bob, importer_org, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    entries = []
    for path, duty, days in ((P.CAPE_PHASE1, "1200.00", 6), (P.PROTEST, "450.50", 90)):
        entry = EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal(duty))
        TariffLineFactory(entry=entry)
        ClassificationFactory(
            entry=entry, path=path, deadline=today_eastern() + timedelta(days=days), urgent=days <= 14
        )
        entries.append(entry)
    aborted = _cut_off(page)

    # The cut-off is real: a request to the outside is caught and recorded (made from a blank page: on the app's
    # pages the Content-Security-Policy refuses it before it reaches the network).
    page.goto("about:blank")
    page.evaluate("fetch('https://cdn.example.com/lib.js').catch(() => null)")
    assert aborted == ["https://cdn.example.com/lib.js"]
    aborted.clear()
    login(page, "alice")
    _visit(page, "/dashboard/")
    chart = page.get_by_role("img", name="IEEPA duty by refund path")
    assert chart.count() == 1
    assert chart.evaluate("el => el.tagName.toLowerCase()") == "svg"
    box = chart.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 20  # drawn, not an empty box
    assert chart.locator('g[data-label="File in CAPE (Phase 1)"]').get_attribute("data-value") == "1200.00"

    _visit(page, "/entries/")
    assert page.get_by_text(entries[0].entry_number_display).count() >= 1
    _visit(page, f"/entries/{entries[0].pk}/")
    assert page.get_by_test_id("path").is_visible()
    _visit(page, "/cape/")
    _visit(page, "/ach/")
    _visit(page, "/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)  # Swagger UI ran from the vendored assets
    assert page.locator(".swagger-ui .opblock").count() > 5  # and read the schema from /api/schema/

    # The broker's portfolio, in the same cut-off browser.
    page.context.clear_cookies()
    login(page, "bob")
    _visit(page, "/dashboard/")
    assert "Blue Heron" in page.content()

    assert not aborted, f"requests to the outside (the page would break offline): {aborted}"
