"""The account application's own deadline after the code, IR numbers refused by the start form,
the constant-time code comparison, and the text of the sub-account request letter PDF."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AccountApplication, AuditLog
from accounts.onboarding import ApplicationRestarted, application_save_details, application_verify
from accounts.onboarding import application as application_module
from accounts.onboarding.application import _code_hash
from tests.accounts import test_onboarding as base
from tests.accounts.test_onboarding import DETAILS, EMAIL, IR, START, sent_code, start

pytestmark = pytest.mark.django_db(transaction=True)  # emails leave on commit (transaction.on_commit)

cedar = base.cedar  # the broker's pending client with a 5106 record


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


# ----------------------------------------------------------------------------- (a) the details deadline


@pytest.mark.parametrize("elapsed", [timedelta(minutes=60), timedelta(minutes=75)])
def test_when_the_details_time_passes_the_restart_says_so_not_ten_minutes(cedar, elapsed) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        application = start()
        clock.shift(timedelta(minutes=2))
        application_verify(application=application, code=sent_code())
        clock.shift(elapsed)
        with pytest.raises(ApplicationRestarted) as exc:
            application_save_details(application=application, details=DETAILS)
    assert exc.value.reason == "details_expired"
    assert "The 60 minutes allowed to finish the company and owner details" in exc.value.message
    assert "Ten minutes" not in exc.value.message
    assert not AccountApplication.objects.exists()
    assert AuditLog.objects.get(action="onboarding.application_restart").detail == {"reason": "details_expired", "step": "verified"}


def test_the_details_are_accepted_until_just_before_the_deadline(cedar) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        application = start()
        application_verify(application=application, code=sent_code())
        clock.shift(timedelta(minutes=59, seconds=59))
        application_save_details(application=application, details=DETAILS)
    assert AccountApplication.objects.get().details["city"] == "Newark"


def test_the_details_page_shows_its_own_message_after_the_deadline(client, cedar, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_DETAILS_MINUTES = 30
    with time_machine.travel(START, tick=False) as clock:
        client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL})
        client.post(reverse("onboarding_verify"), {"code": sent_code()})
        assert client.get(reverse("onboarding_details")).status_code == 200
        clock.shift(timedelta(minutes=30))
        response = client.get(reverse("onboarding_details"), follow=True)
    text = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("onboarding_apply")
    assert "The 30 minutes allowed to finish the company and owner details" in text and "Ten minutes passed" not in text


# ----------------------------------------------------------------------------- (b) refused by the form


def _post_bad_ir(client: Client, ip: str = "203.0.113.9"):  # type: ignore[no-untyped-def]
    return client.post(reverse("onboarding_apply"), {"company_name": "Cedar", "ir_number": "12-3456789OZ", "email": EMAIL},
                       REMOTE_ADDR=ip)


def test_an_ir_number_refused_by_the_form_is_audited_without_the_value(client, cedar) -> None:  # type: ignore[no-untyped-def]
    response = _post_bad_ir(client)
    assert "NN-NNNNNNNXX" in response.content.decode()
    log = AuditLog.objects.get(action="onboarding.check_failed")
    assert log.detail["check"] == "ir_format" and log.detail["ip_key"]
    assert "3456789" not in str(log.detail) and "203.0.113.9" not in str(log.detail)


def test_ir_numbers_refused_by_the_form_count_toward_the_per_ip_start_limit(client, cedar, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_STARTS_PER_IP = 3
    for _ in range(3):
        _post_bad_ir(client)
    refused = client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL},
                          REMOTE_ADDR="203.0.113.9")
    assert "Too many applications were started from your network" in refused.content.decode()
    assert not AccountApplication.objects.exists()
    assert "Too many applications" in _post_bad_ir(client).content.decode()  # at the limit the form says so too
    assert AuditLog.objects.filter(action="onboarding.check_failed").count() == 3  # the refused ones are not counted twice
    assert AuditLog.objects.filter(action="onboarding.start_limit").count() == 2
    # another network is not affected
    ok = client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL},
                     REMOTE_ADDR="198.51.100.7")
    assert ok.status_code == 302 and AccountApplication.objects.count() == 1


def test_a_bad_ir_format_given_to_the_service_is_audited_too(cedar) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import ServiceError

    with pytest.raises(ServiceError, match="NN-NNNNNNNXX"):
        start(ir_number="12-3456789OZ")
    assert AuditLog.objects.get(action="onboarding.check_failed").detail["check"] == "ir_format"


# ----------------------------------------------------------------------------- (c) constant time


@pytest.mark.parametrize("right", [True, False])
def test_the_code_is_compared_in_constant_time(cedar, right: bool) -> None:  # type: ignore[no-untyped-def]
    application = start()
    code = sent_code() if right else f"{(int(sent_code()) + 1) % 10**6:06d}"
    real = application_module.constant_time_compare
    with mock.patch.object(application_module, "constant_time_compare", wraps=real) as compare:
        try:
            application_verify(application=application, code=code)
        except Exception:  # a wrong code raises; the comparison is what is tested here
            assert not right
    stored = application.codes.get().code_hash
    compare.assert_called_once_with(stored, _code_hash(application, code))
    application.refresh_from_db()
    assert (application.status == AccountApplication.Status.VERIFIED) is right


# ----------------------------------------------------------------------------- (d) the letter's text


def test_the_letter_pdf_says_who_what_and_where_to_send_it(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    AccountApplication.objects.create(
        token="t", status=AccountApplication.Status.SUBMITTED, company_name="Blue Heron Housewares Inc",
        ir_number=own_importer.ir_number, email="alice@blueheron.example", importer=own_importer, organization=importer_org,
        expires_at=timezone.now(), submitted_at=timezone.now(),
        details={"owner_first_name": "Alice", "owner_last_name": "Ng", "street": "400 Pier Rd", "city": "Portland",
                 "state": "ME", "postal_code": "04101", "country": "US", "telephone": "207-555-0100"},
    )
    client.force_login(alice)
    response = client.get(reverse("onboarding_subaccount_letter", args=[own_importer.pk]))
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    text = re.sub(r"(\w)- (\w)", r"\1-\2", text)  # a hyphenated word broken across lines ("sub- account")
    for expected in ("Blue Heron Housewares Inc", "93-417726100", "400 Pier Rd", "Portland, ME 04101", "United States",
                     "Alice Ng", "Trade Account Owner", "requests that CBP add the following importer sub-account",
                     "ACE Portal top account", "U.S. Customs and Border Protection", "ACE.Applications@cbp.dhs.gov"):
        assert expected in text, expected
