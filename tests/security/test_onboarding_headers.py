"""Issue #17 item 9: a carriage return in a field that reaches an email header is refused (not a 500
BadHeaderError), and the application's emails leave only once the transaction commits."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import AccountApplication, Form5106Record, Importer
from accounts.onboarding import application_start
from accounts.textcheck import CONTROL_CHARACTERS_MESSAGE
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db(transaction=True)  # emails leave on commit

IR = "12-345678900"
POC = "pat.poc@cedarlane.example"
DETAILS = {"org_structure": "llc", "owner_first_name": "Dana", "owner_last_name": "Reyes", "country": "US",
           "street": "12 Cedar Lane", "city": "Newark", "state": "NJ", "postal_code": "07102", "telephone": "973-555-0142"}


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def cedar(broker_org):  # type: ignore[no-untyped-def]
    importer = ImporterFactory(ir_number=IR, name="Cedar Lane Imports LLC", owner=None, status=Importer.Status.PENDING)
    GrantFactory(importer=importer, organization=broker_org)
    Form5106RecordFactory(importer=importer, company_name="Cedar Lane Imports LLC", poc_email=POC)
    return importer


@pytest.mark.parametrize("name", ["Cedar Lane\rImports LLC", "Cedar Lane\r\nBcc: x@evil.example\r\nImports LLC",
                                  "Cedar\tLane Imports LLC"])
def test_a_control_character_in_the_company_name_is_refused_on_the_page(client, cedar, name) -> None:  # type: ignore[no-untyped-def]
    response = client.post(reverse("onboarding_apply"), {"company_name": name, "ir_number": IR,
                                                         "email": "owner@cedarlane.example"})
    assert response.status_code == 200
    assert CONTROL_CHARACTERS_MESSAGE in response.content.decode().replace("&#x27;", "'")
    assert mail.outbox == [] and not AccountApplication.objects.exists()


def test_the_service_refuses_it_too(cedar) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import ServiceError

    with pytest.raises(ServiceError) as exc:
        application_start(company_name="Cedar Lane\rImports LLC", ir_number=IR, email="owner@cedarlane.example",
                          ip="203.0.113.5")
    assert exc.value.field == "company_name" and mail.outbox == []


def test_the_5106_page_api_and_import_refuse_a_line_break_in_the_name_or_poc_email(client, bob, cedar) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.post(reverse("onboarding_5106_new"), {"ir_number": "31-000000100", "company_name": "Elm\rStreet",
                                                        "poc_email": "ap@elm.example"})
    assert page.status_code == 200 and not Importer.objects.filter(ir_number="31-000000100").exists()
    api = client.post("/api/form5106/", json.dumps({"ir_number": "31-000000200", "company_name": "Elm\r\nStreet",
                                                    "poc_email": "ap@elm.example"}), content_type="application/json")
    assert api.status_code == 400 and api.json() == {"company_name": [CONTROL_CHARACTERS_MESSAGE]}
    assert not Form5106Record.objects.filter(company_name__contains="\r").exists()


def test_an_importer_name_with_a_line_break_from_an_old_row_still_gets_its_emails(client, cedar) -> None:  # type: ignore[no-untyped-def]
    """Names from ES-003 files or rows saved before the check: the subject is made one line, not a 500."""
    Importer.objects.filter(pk=cedar.pk).update(name="Cedar Lane\r\nImports LLC")
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": IR,
                                              "email": "owner@cedarlane.example"})
    code = re.search(r"Verification code: (\d{6})", mail.outbox[-1].body).group(1)  # type: ignore[union-attr]
    client.post(reverse("onboarding_verify"), {"code": code})
    client.post(reverse("onboarding_details"), DETAILS)
    response = client.post(reverse("onboarding_authorize"), {"authorized": "on", "password1": PASSWORD,
                                                             "password2": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("onboarding_done")
    confirmed = [m for m in mail.outbox if "Importer view confirmed" in m.subject]
    assert len(confirmed) == 1 and "\r" not in confirmed[0].subject and "\n" not in confirmed[0].subject
    assert "Cedar Lane Imports LLC" in confirmed[0].subject


def test_the_code_is_emailed_only_once_the_transaction_commits(cedar) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), transaction.atomic():
        application_start(company_name="Cedar Lane Imports LLC", ir_number=IR, email="owner@cedarlane.example",
                          ip="203.0.113.5")
        assert mail.outbox == []  # not before the commit
        raise RuntimeError("rolled back")
    assert mail.outbox == [] and not AccountApplication.objects.exists()
    application_start(company_name="Cedar Lane Imports LLC", ir_number=IR, email="owner@cedarlane.example",
                      ip="203.0.113.5")
    assert [m.to for m in mail.outbox] == [[POC]]


def test_an_es003_importer_name_with_a_line_break_is_stored_on_one_line(bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import importer_for_upload

    importer = importer_for_upload(organization=broker_org, ir_number="31-000000100", name="Elm\r\nStreet\tGoods", user=bob)
    assert importer.name == "Elm Street Goods"


def test_the_new_importer_page_refuses_a_line_break_in_the_name(bob) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(bob)
    response = client.post(reverse("importer_new"), {"ir_number": "31-000000100", "name": "Elm\rStreet"})
    assert response.status_code == 200 and not Importer.objects.filter(ir_number="31-000000100").exists()
    api = client.post("/api/importers/", json.dumps({"ir_number": "31-000000100", "name": "Elm\rStreet"}),
                      content_type="application/json")
    assert api.status_code == 400 and "name" in api.json()
