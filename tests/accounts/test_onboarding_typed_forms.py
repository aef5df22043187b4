"""Issue #20 item 10: the log-in page leads to the account application, and IR and telephone numbers are
accepted as people type them (with or without dashes, spaces, dots, parentheses) and stored in CBP's form."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.irnumber import canonical_ir_number
from accounts.models import AccountApplication, Form5106Record, Importer
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the code email leaves on commit

POC = "pat.poc@osprey.example"
EMAIL = "owner@osprey.example"
DETAILS = {
    "org_structure": "llc",
    "fiscal_year_end": "",
    "duns": "",
    "website": "",
    "owner_first_name": "Dana",
    "owner_middle_name": "",
    "owner_last_name": "Reyes",
    "country": "US",
    "street": "1 Harbor Way",
    "city": "Miami",
    "state": "FL",
    "postal_code": "33101",
    "telephone": "305-821-8995",
}


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _pending_importer(ir: str, broker_org) -> Importer:  # type: ignore[no-untyped-def]
    importer = ImporterFactory(
        ir_number=ir, name="Osprey Marine Supply Inc", owner=None, status=Importer.Status.PENDING
    )
    GrantFactory(importer=importer, organization=broker_org)
    Form5106RecordFactory(importer=importer, company_name="Osprey Marine Supply Inc", poc_email=POC)
    return importer


def _code() -> str:
    message = [m for m in mail.outbox if POC in m.to][-1]
    return re.search(r"Verification code: (\d{6})", message.body).group(1)  # type: ignore[union-attr]


def test_the_log_in_page_links_to_the_account_application(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("onboarding_apply")}"' in page
    assert client.get(reverse("onboarding_apply")).status_code == 200


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("456789012-00", "45-678901200"),
        ("456789012 00", "45-678901200"),
        ("12-3456789-00", "12-345678900"),
        ("12 3456789 00", "12-345678900"),
        ("12-345678900", "12-345678900"),
    ],
)
def test_an_ein_typed_with_its_suffix_apart_is_stored_in_cbps_form(typed: str, stored: str) -> None:
    assert canonical_ir_number(typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [("456789012-00", "45-678901200"), ("12-3456789-00", "12-345678900")])
def test_the_application_page_accepts_an_ein_with_its_suffix_after_a_dash(client, broker_org, typed, stored) -> None:  # type: ignore[no-untyped-def]
    importer = _pending_importer(stored, broker_org)
    response = client.post(
        reverse("onboarding_apply"), {"company_name": "Osprey Marine Supply Inc", "ir_number": typed, "email": EMAIL}
    )
    assert response.status_code == 302 and response.url == reverse("onboarding_verify"), response.content.decode()
    application = AccountApplication.objects.get()
    assert application.ir_number == stored and application.importer == importer


@pytest.mark.parametrize(("typed", "stored"), [("456789012-00", "45-678901200"), ("12-3456789-00", "12-345678900")])
def test_the_5106_page_accepts_an_ein_with_its_suffix_after_a_dash(client, bob, broker_org, typed, stored) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(
        reverse("onboarding_5106_new"),
        {
            "ir_number": typed,
            "company_name": "Osprey Marine Supply Inc",
            "poc_email": POC,
            "address": "",
            "last_updated": "",
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert Form5106Record.objects.get().importer.ir_number == stored


def _details_page(client, broker_org) -> AccountApplication:  # type: ignore[no-untyped-def]
    _pending_importer("45-678901200", broker_org)
    client.post(
        reverse("onboarding_apply"),
        {"company_name": "Osprey Marine Supply Inc", "ir_number": "45-678901200", "email": EMAIL},
    )
    client.post(reverse("onboarding_verify"), {"code": _code()})
    return AccountApplication.objects.get()


@pytest.mark.parametrize(
    ("country", "state", "postal", "typed", "stored"),
    [
        ("US", "FL", "33101", "3058218995", "305-821-8995"),
        ("US", "FL", "33101", "305 821 8995", "305-821-8995"),
        ("US", "FL", "33101", "(305) 821-8995", "305-821-8995"),
        ("US", "FL", "33101", "305.821.8995", "305-821-8995"),
        ("US", "FL", "33101", "305-821-8995", "305-821-8995"),
        ("US", "FL", "33101", "+1 305 821 8995", "1-305-821-8995"),
        ("US", "FL", "33101", "305 821 8995 ext. 12", "305-821-8995 x12"),
        ("GB", "", "SW1A 1AA", "44 20 7946 0958", "44-20-7946-0958"),
        ("GB", "", "SW1A 1AA", "+44 20 7946 0958", "+44-20-7946-0958"),
        ("CA", "", "M5V 2T6", "1-416-555-0199", "1-416-555-0199"),
    ],
)
def test_the_details_page_stores_the_telephone_with_dashes(client, broker_org, country, state, postal, typed, stored) -> None:  # type: ignore[no-untyped-def]
    application = _details_page(client, broker_org)
    response = client.post(
        reverse("onboarding_details"),
        {**DETAILS, "country": country, "state": state, "postal_code": postal, "telephone": typed},
    )
    assert response.status_code == 302 and response.url == reverse("onboarding_authorize"), response.content.decode()
    application.refresh_from_db()
    assert application.details["telephone"] == stored


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("US", "305821899", "is not a U.S. telephone number"),
        ("US", "(305 821 8995", "is not a U.S. telephone number"),
        ("US", "305-821-899", "e.g. 305-821-8995"),
        ("GB", "call me", "is not a telephone number"),
    ],
)
def test_the_details_page_explains_a_telephone_it_cannot_read(client, broker_org, country, typed, message) -> None:  # type: ignore[no-untyped-def]
    application = _details_page(client, broker_org)
    data = {**DETAILS, "country": country, "telephone": typed}
    if country != "US":
        data.update(state="", postal_code="SW1A 1AA")
    response = client.post(reverse("onboarding_details"), data)
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    application.refresh_from_db()
    assert not application.details
