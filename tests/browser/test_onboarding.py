"""The whole workspace application in real Chromium, reading the verification code from the test mailbox
(the live server runs in the test process, so django.core.mail.outbox is shared)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import AccountApplication, AuditLog, Importer, Membership
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, BrokerFactory, GrantFactory, ImporterFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IR = "12-345678900"
POC = "pat.poc@cedarlane.example"
EMAIL = "dana@cedarlane.example"


@pytest.fixture
def cedar(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    broker = BrokerFactory(name="Harbor Customs Brokerage", slug="harbor")
    importer = ImporterFactory(ir_number=IR, name="Cedar Lane Imports LLC", owner=None, status=Importer.Status.PENDING)
    GrantFactory(importer=importer, organization=broker)
    Form5106RecordFactory(importer=importer, company_name="Cedar Lane Imports, LLC", poc_email=POC)
    return importer


def code_from_mailbox() -> str:
    body = [m for m in mail.outbox if m.to == [POC]][-1].body
    return re.search(r"Verification code: (\d{6})", body).group(1)  # type: ignore[union-attr]


def fill_step_1(page, company: str = "cedar lane imports llc") -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base_url + "/onboarding/apply/")
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Importer record number (IR#)").fill("12345678900")
    page.get_by_label("Business email address").fill(EMAIL)
    page.get_by_role("button", name="Next >").click()


def test_a_visitor_applies_and_gets_a_workspace(page, cedar) -> None:  # type: ignore[no-untyped-def]
    fill_step_1(page)
    page.wait_for_url("**/onboarding/apply/verify/")
    assert re.fullmatch(r"(9:5\d|10:00)", page.get_by_test_id("time-left").locator("strong").inner_text())
    page.get_by_label("Verification code").fill(code_from_mailbox())
    page.get_by_role("button", name="Next >").click()

    page.wait_for_url("**/onboarding/apply/details/")
    assert page.get_by_test_id("ro-company").inner_text() == "cedar lane imports llc"
    page.get_by_label("Company organizational structure").select_option("llc")
    page.get_by_label("Account owner first name").fill("Dana")
    page.get_by_label("Account owner last name").fill("Reyes")
    page.get_by_label("Street address").fill("12 Cedar Lane")
    page.get_by_label("City").fill("Newark")
    page.get_by_label("Zip code").fill("07102")
    page.get_by_label("Telephone number").fill("973 555 014")  # a digit short: refused beside the field
    page.get_by_role("button", name="Next >").click()
    expect(page.get_by_text("The state is required for U.S. addresses.")).to_be_visible()
    assert page.get_by_text("is not a U.S. telephone number").is_visible()
    page.get_by_label("State", exact=True).fill("NJ")
    page.get_by_label("Telephone number").fill("(973) 555 0142")  # stored as 973-555-0142 (issue #20 item 10)
    page.get_by_role("button", name="Next >").click()

    page.wait_for_url("**/onboarding/apply/authorize/")
    owner = page.get_by_test_id("owner-name")
    assert owner.input_value() == "Dana Reyes" and owner.get_attribute("readonly") is not None
    assert page.get_by_test_id("ack-date").get_attribute("readonly") is not None
    page.get_by_label("By selecting this box").check()
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Submit").click()

    page.wait_for_url("**/onboarding/apply/done/")
    # Named as on the 5106 record, not as typed (issue #20 item 4).
    assert "Cedar Lane Imports, LLC now has its own workspace" in page.get_by_test_id("done").inner_text()
    assert page.get_by_test_id("active-org").inner_text().startswith("Cedar Lane Imports, LLC")
    cedar.refresh_from_db()
    assert Membership.objects.get(organization=cedar.owner).user.email == EMAIL
    assert AccountApplication.objects.get(organization=cedar.owner).details["telephone"] == "973-555-0142"
    assert len([m for m in mail.outbox if m.to == [EMAIL]]) == 2
    assert {"onboarding.code_verified", "onboarding.application_submit", "importer.link"} <= set(
        AuditLog.objects.values_list("action", flat=True)
    )
    # The new owner lands on the readiness checklist of the importer.
    page.get_by_role("link", name=re.compile("Readiness checklist")).click()
    expect(page.locator("[data-step='tao']").get_by_text("Dana Reyes")).to_be_visible()


def test_back_restarts_the_application_with_empty_fields(page, cedar) -> None:  # type: ignore[no-untyped-def]
    fill_step_1(page)
    page.wait_for_url("**/onboarding/apply/verify/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="< Back").click()
    page.wait_for_url("**/onboarding/apply/")
    assert page.get_by_label("Company name").input_value() == ""
    assert page.get_by_text("the application restarted").is_visible()
    assert AuditLog.objects.filter(action="onboarding.application_restart", detail__reason="back").exists()


def test_a_failed_check_shows_its_guidance(page, cedar) -> None:  # type: ignore[no-untyped-def]
    fill_step_1(page, company="Cedar Lane Trading")
    failure = page.get_by_test_id("check-failure")
    assert failure.get_attribute("data-check") is None  # which check failed is not told (issue #17 item 14)
    assert "could not start with these details" in failure.inner_text() and "CBP Form 5106" in failure.inner_text()
