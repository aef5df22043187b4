"""In real Chromium at tablet (768×1024) and laptop (1280×800) sizes: the main pages never scroll
sideways, and Tab reaches the main navigation and the page's primary action."""

from __future__ import annotations

import pytest

from ach.models import AchEnrollment
from tests.cape.factories import eligible_entry
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# page → a CSS selector for its primary action
PAGES = {
    "/dashboard/": "main a[href], main button",
    "/entries/": "main form button[type=submit], main button",
    "/entries/{entry}/": "main a[href], main button",
    "/cape/": "form.cape-build button.primary",
    "/ach/": "main a[href], main button",
    "/onboarding/readiness/": "main a[href], main button",
}


def _tab_until(page, selector: str, limit: int = 250) -> bool:  # type: ignore[no-untyped-def]
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return True
    return False


@pytest.mark.parametrize("size", [(768, 1024), (1280, 800)], ids=["tablet", "laptop"])
def test_main_pages_fit_the_screen_and_tab_reaches_nav_and_primary_action(
    page, live_server, alice, own_importer, size
) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    entry = eligible_entry(own_importer)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, "alice")
    for path, primary in PAGES.items():
        page.goto(live_server.url + path.format(entry=entry.pk))
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} at {size}: {overflow}px of horizontal overflow"
        assert _tab_until(page, "nav a[href]"), f"{path}: Tab never reached the main navigation"
        assert _tab_until(page, primary), f"{path}: Tab never reached the primary action ({primary})"
