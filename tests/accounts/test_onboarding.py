"""The workspace application (mirrors CBP's automated ACE importer application, seed 001):
the four checks and their guidance, the 10-minute code, Back, wrong codes, resend limits, hashing,
submit, and the audit trail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import (
    AccountApplication,
    AuditLog,
    Importer,
    ImporterGrant,
    Membership,
    Organization,
    ReadinessState,
    VerificationCode,
)
from accounts.onboarding import (
    ApplicationRestarted,
    CheckFailed,
    application_resend,
    application_save_details,
    application_start,
    application_submit,
    application_verify,
)
from accounts.onboarding.application import NEUTRAL_FAILURE, _code_hash, run_checks
from accounts.services import ServiceError
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, GrantFactory, ImporterFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # emails leave on commit (transaction.on_commit)

IR = "12-345678900"
POC = "pat.poc@cedarlane.example"
EMAIL = "owner@cedarlane.example"
START = datetime(2026, 5, 4, 10, 0, 0, tzinfo=ZoneInfo("America/New_York"))
DETAILS = {
    "org_structure": "llc",
    "fiscal_year_end": "12/31/2026",
    "duns": "123456789",
    "website": "",
    "owner_first_name": "Dana",
    "owner_middle_name": "Q",
    "owner_last_name": "Reyes",
    "country": "US",
    "street": "12 Cedar Lane",
    "city": "Newark",
    "state": "NJ",
    "postal_code": "07102",
    "telephone": "973-555-0142",
}


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def cedar(broker_org):  # type: ignore[no-untyped-def]
    """A broker's client: pending importer (no workspace yet) with a 5106 record."""
    importer = ImporterFactory(ir_number=IR, name="Cedar Lane Imports LLC", owner=None, status=Importer.Status.PENDING)
    GrantFactory(importer=importer, organization=broker_org)
    Form5106RecordFactory(importer=importer, company_name="Cedar Lane Imports, L.L.C.", poc_email=POC)
    return importer


def sent_code() -> str:
    message = [m for m in mail.outbox if POC in m.to][-1]
    return re.search(r"Verification code: (\d{6})", message.body).group(1)  # type: ignore[union-attr]


def start(**overrides: str) -> AccountApplication:
    kwargs = {"company_name": "CEDAR LANE IMPORTS LLC", "ir_number": "12345678900", "email": EMAIL, "ip": "203.0.113.5"}
    kwargs.update(overrides)
    return application_start(**kwargs)  # type: ignore[arg-type]


def actions() -> list[str]:
    return list(AuditLog.objects.order_by("at", "pk").values_list("action", flat=True))


# ----------------------------------------------------------------------------- the four checks


def test_check_1_refuses_an_email_that_already_belongs_to_a_user(cedar) -> None:  # type: ignore[no-untyped-def]
    UserFactory(email="Owner@CedarLane.example")
    with pytest.raises(CheckFailed) as exc:
        start()
    assert exc.value.check == "email_in_use" and exc.value.field is None  # the page does not point at the email
    assert exc.value.message == NEUTRAL_FAILURE
    assert any("log in" in line for line in exc.value.guidance)
    # The exact reason goes only to the 5106 POC; no code is sent.
    assert [m.to for m in mail.outbox] == [[POC]]
    assert "already belongs to a RefundReady user" in mail.outbox[0].body
    assert "Verification code" not in mail.outbox[0].body and not AccountApplication.objects.exists()
    assert AuditLog.objects.get(action="onboarding.check_failed").detail["check"] == "email_in_use"


@pytest.mark.parametrize(("name", "ir"), [("Cedar Lane Trading LLC", IR), ("Cedar Lane Imports LLC", "98-765432100")])
def test_check_2_refuses_an_ir_and_name_without_a_5106_record(cedar, name, ir) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckFailed) as exc:
        start(company_name=name, ir_number=ir)
    assert exc.value.check == "no_5106_match"
    text = " ".join(exc.value.guidance)
    assert "5106" in text and "suffix" in text and "TF" in text


@pytest.mark.parametrize("poc", ["", "pat.poc@", "not an email"])
def test_check_3_refuses_a_5106_record_without_a_valid_poc_email(cedar, poc) -> None:  # type: ignore[no-untyped-def]
    cedar.form5106.poc_email = poc
    cedar.form5106.save()
    with pytest.raises(CheckFailed) as exc:
        start()
    assert exc.value.check == "no_poc_email"
    assert any("box 2E" in line for line in exc.value.guidance)


def test_check_4_sends_an_already_linked_importer_to_the_recovery_guide(own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(
        importer=own_importer, company_name="Blue Heron Housewares Inc", poc_email="ops@blueheron.example"
    )
    with pytest.raises(CheckFailed) as exc:
        start(company_name="Blue Heron Housewares, Inc.", ir_number="93-417726100")
    assert exc.value.check == "already_linked" and exc.value.message == NEUTRAL_FAILURE
    # The recovery guide goes to the 5106 POC, not to whoever typed the IR number.
    notice = mail.outbox[-1]
    assert notice.to == ["ops@blueheron.example"] and "already linked to an account" in notice.body
    assert "BONDQUESTIONS@CBP.DHS.GOV" in notice.body and "(317) 614-4880" in notice.body
    with pytest.raises(CheckFailed) as exc:
        run_checks(company_name="Blue Heron Housewares, Inc.", ir_number="93-417726100", email=EMAIL)
    steps = {s["key"]: s for s in exc.value.guide["steps"]}  # type: ignore[index]
    assert list(steps) == ["find_tao", "reactivate", "voided", "reset_password", "sub_account"]
    assert steps["voided"]["contact"]["phone"] == "(317) 614-4880"
    assert steps["voided"]["contact"]["email"] == "BONDQUESTIONS@CBP.DHS.GOV"
    assert "Forgot Password" in steps["reset_password"]["text"]
    assert steps["sub_account"]["contact"]["email"] == "ACE.Applications@cbp.dhs.gov"


def test_the_checks_run_in_cbps_order(own_importer) -> None:  # type: ignore[no-untyped-def]
    record = Form5106RecordFactory(importer=own_importer, company_name="Blue Heron Housewares Inc", poc_email="")
    UserFactory(email=EMAIL)
    kwargs = {"company_name": "Blue Heron Housewares", "ir_number": "93-417726100"}
    with pytest.raises(CheckFailed) as exc:  # fails 1, 3 and 4: 1 is reported
        start(**kwargs)
    assert exc.value.check == "email_in_use"
    with pytest.raises(CheckFailed) as exc:  # fails 3 and 4: 3 is reported
        start(email="someone.else@blueheron.example", **kwargs)
    assert exc.value.check == "no_poc_email"
    record.poc_email = "ops@blueheron.example"
    record.save()
    with pytest.raises(CheckFailed) as exc:
        start(email="someone.else@blueheron.example", **kwargs)
    assert exc.value.check == "already_linked"


def test_a_bad_ir_format_lists_the_valid_formats(client, cedar) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        reverse("onboarding_apply"), {"company_name": "Cedar", "ir_number": "12-3456789OZ", "email": EMAIL}
    )
    text = response.content.decode()
    assert "NN-NNNNNNNXX" in text and "NNN-NN-NNNN" in text and "YYDDPP-NNNNN" in text
    assert not AccountApplication.objects.exists()


def test_every_check_failure_shows_the_same_neutral_message_on_the_page(client, own_importer, cedar) -> None:  # type: ignore[no-untyped-def]
    """Issue #17 item 14: the page must not tell who is a user (check 1) or a customer (check 4)."""
    Form5106RecordFactory(
        importer=own_importer, company_name="Blue Heron Housewares Inc", poc_email="ops@blueheron.example"
    )
    UserFactory(email="taken@cedarlane.example")
    attempts = {
        "email_in_use": {"company_name": "Cedar Lane Imports LLC", "ir_number": IR, "email": "taken@cedarlane.example"},
        "no_5106_match": {"company_name": "Nobody Co", "ir_number": "98-765432100", "email": EMAIL},
        "already_linked": {"company_name": "Blue Heron Housewares", "ir_number": "93-417726100", "email": EMAIL},
    }
    shown = {}
    for check, data in attempts.items():
        text = client.post(reverse("onboarding_apply"), data).content.decode()
        box = re.search(r'<div class="ob-failure".*?</div>', text, re.S).group(0)  # type: ignore[union-attr]
        shown[check] = box
        assert "already belongs" not in text and "already linked to an account" not in text
        assert "data-check" not in text
    assert len(set(shown.values())) == 1
    assert NEUTRAL_FAILURE in shown["email_in_use"] and "log in" in shown["email_in_use"]
    assert [check for check in attempts if check] == [
        a.detail["check"] for a in AuditLog.objects.filter(action="onboarding.check_failed").order_by("pk")
    ]
    # The exact reasons went to the POCs of the records that matched (none for the record that did not).
    assert sorted(m.to[0] for m in mail.outbox) == ["ops@blueheron.example", POC]


def test_the_poc_is_told_the_reason_at_most_the_per_ir_limit_times(settings, cedar) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_CODES_PER_IR = 2
    UserFactory(email=EMAIL)
    for _ in range(4):
        with pytest.raises(CheckFailed):
            start()
    assert len([m for m in mail.outbox if m.to == [POC]]) == 2


# ----------------------------------------------------------------------------- the code


def test_the_code_goes_to_the_5106_poc_and_is_stored_only_as_an_hmac(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    assert [m.to for m in mail.outbox] == [[POC]]
    code = sent_code()
    assert EMAIL in mail.outbox[0].body  # the POC knows who asked
    row = VerificationCode.objects.get()
    assert row.code_hash == _code_hash(application, code) and len(row.code_hash) == 64
    stored = " ".join(
        str(v)
        for model in (VerificationCode, AccountApplication, AuditLog)
        for values in model.objects.values()
        for v in values.values()
    )
    assert code not in stored
    assert IR not in row.ir_key and "203.0.113.5" not in row.ip_key


@pytest.mark.parametrize("elapsed", [timedelta(seconds=1), timedelta(minutes=9, seconds=59)])
def test_the_code_works_until_the_tenth_minute(cedar, elapsed) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        application = start()
        clock.shift(elapsed)
        application_verify(application=application, code=sent_code())
    application.refresh_from_db()
    assert application.status == AccountApplication.Status.VERIFIED


@pytest.mark.parametrize("elapsed", [timedelta(minutes=10), timedelta(minutes=10, seconds=1), timedelta(minutes=11)])
def test_at_ten_minutes_the_application_restarts_and_forgets_everything(cedar, elapsed) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        application = start()
        clock.shift(elapsed)
        with pytest.raises(ApplicationRestarted) as exc:
            application_verify(application=application, code=sent_code())
    assert exc.value.reason == "expired"
    assert not AccountApplication.objects.exists()
    assert AuditLog.objects.get(action="onboarding.application_restart").detail["reason"] == "expired"


def test_the_verify_page_shows_the_time_left_and_restarts_at_ten_minutes(client, cedar) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        client.post(
            reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL}
        )
        clock.shift(timedelta(minutes=3))
        page = client.get(reverse("onboarding_verify")).content.decode()
        assert 'data-countdown="420"' in page
        clock.shift(timedelta(minutes=7))
        response = client.post(reverse("onboarding_verify"), {"code": sent_code()}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("onboarding_apply")
    assert "Ten minutes passed" in response.content.decode()
    assert not AccountApplication.objects.exists()


def test_five_wrong_codes_restart_the_application(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    right = sent_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(ServiceError) as exc:
            application_verify(application=application, code=wrong)
        assert f"{left} attempt" in exc.value.message
    with pytest.raises(ApplicationRestarted) as restarted:
        application_verify(application=application, code=wrong)
    assert restarted.value.reason == "too_many_wrong_codes"
    assert not AccountApplication.objects.filter(pk=application.pk).exists()
    assert actions().count("onboarding.code_wrong") == 5
    with pytest.raises(ApplicationRestarted):  # the right code is useless now: the application is gone
        application_verify(application=application, code=right)


def test_a_code_that_is_not_six_digits_is_refused_without_costing_an_attempt(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    with pytest.raises(ServiceError, match="6 digits"):
        application_verify(application=application, code="12345")
    application.refresh_from_db()
    assert application.failed_attempts == 0


def test_a_resent_code_replaces_the_previous_one(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    first = sent_code()
    application_resend(application=application, ip="203.0.113.5")
    second = sent_code()
    if first != second:
        with pytest.raises(ServiceError):
            application_verify(application=application, code=first)
    application_verify(application=application, code=second)
    assert "onboarding.code_resent" in actions()


def test_resends_are_limited_per_ir_number(settings, cedar) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_CODES_PER_IR = 3
    application = start()
    application_resend(application=application, ip="203.0.113.5")
    application_resend(application=application, ip="198.51.100.7")
    with pytest.raises(ServiceError, match="this importer number"):
        application_resend(application=application, ip="192.0.2.9")
    with pytest.raises(ServiceError, match="this importer number"):  # a new application from elsewhere: same limit
        start(ip="192.0.2.10", email="other@cedarlane.example")
    assert len(mail.outbox) == 3
    with time_machine.travel(datetime.now(tz=ZoneInfo("UTC")) + timedelta(minutes=61)):
        start(ip="192.0.2.10", email="other@cedarlane.example")  # the window has passed
    assert len(mail.outbox) == 4


def test_resends_are_limited_per_ip_address(settings, cedar, broker_org) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_CODES_PER_IP = 2
    other = ImporterFactory(ir_number="23-456789000", name="Dogwood Supply Inc", owner=None)
    Form5106RecordFactory(importer=other, company_name="Dogwood Supply Inc", poc_email="poc@dogwood.example")
    application = start()
    application_resend(application=application, ip="203.0.113.5")
    with pytest.raises(ServiceError, match="your network"):
        start(company_name="Dogwood Supply", ir_number="23-456789000", email="x@dogwood.example")
    start(company_name="Dogwood Supply", ir_number="23-456789000", email="x@dogwood.example", ip="198.51.100.7")
    assert "onboarding.code_limit" in actions()


def test_the_checks_themselves_are_limited_per_ip_address(settings, cedar) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_STARTS_PER_IP = 3
    for n in range(3):
        with pytest.raises(CheckFailed):
            start(company_name=f"Guess {n}")
    with pytest.raises(ServiceError, match="your network") as exc:
        start()  # even a right answer is refused: the network has asked too often
    assert not isinstance(exc.value, CheckFailed)
    assert not AccountApplication.objects.exists()
    start(ip="198.51.100.7")


# ----------------------------------------------------------------------------- Back


def test_back_restarts_the_application_and_discards_what_was_typed(client, cedar) -> None:  # type: ignore[no-untyped-def]
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL})
    client.post(reverse("onboarding_verify"), {"code": sent_code()})
    client.post(reverse("onboarding_details"), DETAILS)
    assert AccountApplication.objects.get().details["owner_last_name"] == "Reyes"
    response = client.post(reverse("onboarding_back"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("onboarding_apply")
    assert not AccountApplication.objects.exists()
    page = response.content.decode()
    assert "Reyes" not in page and "Cedar Lane" not in page and "restarted" in page
    assert client.get(reverse("onboarding_details")).url == reverse("onboarding_apply")
    assert AuditLog.objects.get(action="onboarding.application_restart").detail["reason"] == "back"


def test_back_from_the_code_page_makes_the_old_code_useless(client, cedar) -> None:  # type: ignore[no-untyped-def]
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL})
    code = sent_code()
    client.post(reverse("onboarding_back"))
    response = client.post(reverse("onboarding_verify"), {"code": code})
    assert response.url == reverse("onboarding_apply")
    assert not AccountApplication.objects.exists()


# ----------------------------------------------------------------------------- details and authorisation


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"state": ""}, "state", "required for U.S."),
        ({"state": "Ontario"}, "state", "not a U.S. state"),
        ({"telephone": "9735550142"}, "telephone", "dashes"),
        ({"telephone": "(973) 555 0142"}, "telephone", "dashes"),
        ({"duns": "12345678"}, "duns", "9 digits"),
        ({"fiscal_year_end": "2026-12-31"}, "fiscal_year_end", "MM/DD/YYYY"),
        ({"fiscal_year_end": "02/30/2026"}, "fiscal_year_end", "not a real date"),
        ({"postal_code": "7102"}, "postal_code", "5 digits"),
        ({"org_structure": ""}, "org_structure", "required"),
        ({"owner_first_name": ""}, "owner_first_name", "required"),
        ({"website": "not a site"}, "website", "website"),
    ],
)
def test_the_details_follow_cbps_form_rules(change, field, message) -> None:  # type: ignore[no-untyped-def]
    from accounts.forms_onboarding import DetailsForm

    form = DetailsForm({**DETAILS, **change})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_optional_details_may_be_left_out_and_foreign_addresses_need_no_state() -> None:
    from accounts.forms_onboarding import DetailsForm

    form = DetailsForm(
        {
            **DETAILS,
            "fiscal_year_end": "",
            "duns": "",
            "website": "",
            "owner_middle_name": "",
            "country": "CA",
            "state": "",
            "postal_code": "M5V 2T6",
            "telephone": "1-416-555-0199",
        }
    )
    assert form.is_valid(), form.errors
    form = DetailsForm({**DETAILS, "state": "new jersey", "website": "www.cedarlane.example", "duns": "12-345-6789"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["state"] == "NJ" and form.cleaned_data["website"] == "https://www.cedarlane.example"
    assert form.cleaned_data["duns"] == "123456789"


def test_the_details_page_shows_company_ir_and_email_read_only(client, cedar) -> None:  # type: ignore[no-untyped-def]
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL})
    client.post(reverse("onboarding_verify"), {"code": sent_code()})
    response = client.get(reverse("onboarding_details"))
    form = response.context["form"]
    assert not {"company_name", "ir_number", "email"} & set(form.fields)
    assert response.context["application"].ir_number == IR and EMAIL in response.content.decode()


def test_the_authorisation_shows_the_owner_and_today_not_editable(client, cedar) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False):
        client.post(
            reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL}
        )
        client.post(reverse("onboarding_verify"), {"code": sent_code()})
        client.post(reverse("onboarding_details"), DETAILS)
        page = client.get(reverse("onboarding_authorize")).content.decode()
        assert re.search(r'id="ob-owner-name" value="Dana Q Reyes" readonly', page)
        assert re.search(r'id="ob-ack-date" value="05/04/2026" readonly', page)
        # The posted name cannot change what is signed: it comes from the details.
        client.post(
            reverse("onboarding_authorize"),
            {"authorized": "on", "password1": PASSWORD, "password2": PASSWORD, "owner_name": "Someone Else"},
        )
    submit = AuditLog.objects.get(action="onboarding.application_submit")
    assert submit.detail["signer"] == "Dana Q Reyes" and submit.detail["authorized_on"] == "2026-05-04"


def test_submit_needs_the_authorisation_box(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    application_verify(application=application, code=sent_code())
    application_save_details(application=application, details=DETAILS)
    with pytest.raises(ServiceError, match="authorised"):
        application_submit(application=application, user=None, authorized=False, password=PASSWORD)
    assert not Organization.objects.filter(name__startswith="CEDAR").exists()


# ----------------------------------------------------------------------------- submit


def test_a_visitor_becomes_the_owner_of_a_new_importer_workspace(client, cedar, broker_org) -> None:  # type: ignore[no-untyped-def]
    client.post(
        reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": IR, "email": EMAIL}
    )
    client.post(reverse("onboarding_verify"), {"code": sent_code()})
    client.post(reverse("onboarding_details"), DETAILS)
    response = client.post(
        reverse("onboarding_authorize"), {"authorized": "on", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.url == reverse("onboarding_done")

    cedar.refresh_from_db()
    org = cedar.owner
    assert org.kind == Organization.Kind.IMPORTER and org.name == "Cedar Lane Imports LLC"
    assert cedar.status == Importer.Status.ACTIVE
    owner = Membership.objects.get(organization=org)
    assert owner.role == Membership.Role.OWNER and owner.user.email == EMAIL and owner.user.check_password(PASSWORD)
    assert ImporterGrant.objects.filter(importer=cedar, organization=broker_org, revoked_at__isnull=True).exists()
    state = ReadinessState.objects.get(importer=cedar)
    assert state.tao_name == "Dana Q Reyes" and state.tao_email == EMAIL
    to_owner = [m for m in mail.outbox if m.to == [EMAIL]]
    assert len(to_owner) == 2
    assert "Importer view confirmed" in to_owner[0].subject and "login" in to_owner[1].subject.lower()
    assert PASSWORD not in to_owner[1].body and EMAIL.lower() in to_owner[1].body
    # The visitor is now logged in and acts for the new workspace.
    done = client.get(reverse("onboarding_done")).content.decode()
    assert "Cedar Lane Imports LLC" in done


def test_a_logged_in_user_without_an_organisation_becomes_the_owner(client, cedar) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(username="dana", email=EMAIL)
    client.force_login(user)
    page = client.get(reverse("onboarding_apply")).content.decode()
    assert f'value="{EMAIL}"' in page and "disabled" in page
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR})
    client.post(reverse("onboarding_verify"), {"code": sent_code()})
    client.post(reverse("onboarding_details"), DETAILS)
    response = client.post(reverse("onboarding_authorize"), {"authorized": "on"})
    assert response.url == reverse("onboarding_done")
    cedar.refresh_from_db()
    assert Membership.objects.get(organization=cedar.owner).user == user
    assert response.wsgi_request.user == user


def test_another_application_that_won_the_race_restarts_this_one(cedar) -> None:  # type: ignore[no-untyped-def]
    application = start()
    application_verify(application=application, code=sent_code())
    application_save_details(application=application, details=DETAILS)
    cedar.owner = Organization.objects.create(name="Faster", slug="faster", kind=Organization.Kind.IMPORTER)
    cedar.save()
    with pytest.raises(ApplicationRestarted) as exc:
        application_submit(application=application, user=None, authorized=True, password=PASSWORD)
    assert exc.value.reason == "already_linked"
    assert not AccountApplication.objects.exists()


def test_every_event_of_an_application_is_in_the_audit_log(client, cedar) -> None:  # type: ignore[no-untyped-def]
    client.post(reverse("onboarding_apply"), {"company_name": "Nope", "ir_number": IR, "email": EMAIL})
    client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports", "ir_number": IR, "email": EMAIL})
    client.post(reverse("onboarding_verify"), {"code": "000000" if sent_code() != "000000" else "111111"})
    client.post(reverse("onboarding_resend"))
    client.post(reverse("onboarding_verify"), {"code": sent_code()})
    client.post(reverse("onboarding_details"), DETAILS)
    client.post(reverse("onboarding_authorize"), {"authorized": "on", "password1": PASSWORD, "password2": PASSWORD})
    assert actions() == [
        "onboarding.check_failed",
        "onboarding.application_start",
        "onboarding.code_sent",
        "onboarding.code_wrong",
        "onboarding.code_resent",
        "onboarding.code_verified",
        "onboarding.details_saved",
        "onboarding.user_create",
        "organization.create",
        "onboarding.application_submit",
        "importer.link",
        "importer.link",  # in the managing broker's log too
        "onboarding.emails_sent",
    ]
    org = Importer.objects.get(ir_number=IR).owner
    assert set(AuditLog.objects.filter(organization=org).values_list("action", flat=True)) >= {
        "organization.create",
        "onboarding.application_submit",
        "importer.link",
        "onboarding.emails_sent",
    }
