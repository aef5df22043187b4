"""Log in as each demo role in real Chromium and see only what that role may see."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from portfolio.management.commands.seed_demo import DEMO_PASSWORD
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CASES = [
    ("broker-owner", {"Blue Heron Housewares Inc", "Cedar Lane Imports LLC"}, True),
    ("broker-staff", {"Blue Heron Housewares Inc", "Cedar Lane Imports LLC"}, True),
    ("broker-viewer", {"Blue Heron Housewares Inc", "Cedar Lane Imports LLC"}, False),
    ("importer-owner", {"Blue Heron Housewares Inc"}, True),
    ("importer-staff", {"Blue Heron Housewares Inc"}, True),
    ("importer-viewer", {"Blue Heron Housewares Inc"}, False),
]


@pytest.fixture
def demo(transactional_db):  # type: ignore[no-untyped-def]
    call_command("seed_demo", importer_entries=0, stdout=open("/dev/null", "w"))


@pytest.mark.parametrize(("username", "visible", "can_edit"), CASES)
def test_each_demo_role_sees_only_its_importers(page, demo, username, visible, can_edit) -> None:  # type: ignore[no-untyped-def]
    login(page, username, DEMO_PASSWORD)
    page.get_by_role("link", name="Importers").click()
    # all_inner_texts() does not wait: read the list only once the importers page has loaded and drawn its rows
    # (CI read the page before the click's navigation had finished, and saw no rows).
    page.wait_for_url("**/accounts/importers/")
    names_cells = page.locator("table.data tbody td:first-child a")
    expect(names_cells).to_have_count(len(visible))
    names = {t.strip() for t in names_cells.all_inner_texts()}
    assert names == visible
    assert page.get_by_role("link", name="Add an importer").count() == (1 if can_edit else 0)
    if username.startswith("importer"):
        assert "Cedar Lane" not in page.content()


def test_a_wrong_password_is_refused_beside_the_form(page, demo) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_label("Username").fill("broker-owner")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    assert "/accounts/login/" in page.url
