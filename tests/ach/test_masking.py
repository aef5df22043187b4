"""The bank account number is shown masked (last four digits) everywhere: pages, API, exports, admin,
logs and error reports; forms never echo it back."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.views.debug import ExceptionReporter

from ach.models import AchEnrollment
from ach.services import enrollment_details_save

pytestmark = pytest.mark.django_db

ACCOUNT = "731904826155"
MASKED = "••••6155"
FORBIDDEN = [ACCOUNT, ACCOUNT[:-4], ACCOUNT[:8]]


def _assert_masked(text: str) -> None:
    for part in FORBIDDEN:
        assert part not in text


def _post_bank(client, importer, account: str = ACCOUNT, confirm: str | None = None, **extra):  # type: ignore[no-untyped-def]
    data = {"bank_name": "First Bank", "routing_number": "021000021", "account_number": account,
            "account_number_confirm": account if confirm is None else confirm, "account_type": "checking",
            "account_holder": "Blue Heron Housewares Inc", **extra}
    return client.post(reverse("ach_enrollment_save", args=[importer.pk]), data)


@pytest.fixture
def enrolled(own_importer, alice):  # type: ignore[no-untyped-def]
    return enrollment_details_save(importer=own_importer, bank_name="First Bank", routing_number="021000021", account_number=ACCOUNT,
                                   account_type="checking", account_holder="Blue Heron Housewares Inc", user=alice)


def test_the_page_shows_only_the_last_four(client, alice, own_importer, caplog) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    with caplog.at_level(logging.DEBUG):
        response = _post_bank(client, own_importer)
        assert response.status_code == 302
        page = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
        home = client.get(reverse("ach_home")).content.decode()
    assert MASKED in page and MASKED in home
    _assert_masked(page)
    _assert_masked(home)
    _assert_masked(caplog.text)
    assert "6155" in caplog.text  # the service did log, masked


@pytest.mark.parametrize(("account", "confirm", "field"), [
    (ACCOUNT, ACCOUNT[:-1] + "0", "account_number_confirm"),  # the two differ
    (ACCOUNT + "99999999", None, "account_number"),  # 20 digits: too long
])
def test_a_form_error_does_not_echo_the_number(client, alice, own_importer, account, confirm, field, caplog) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = _post_bank(client, own_importer, account, confirm)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert response.context["enrollment_form"].errors[field]
    _assert_masked(html)
    _assert_masked(caplog.text)
    assert not AchEnrollment.objects.filter(importer=own_importer).exclude(account_number_encrypted="").exists()


def test_another_form_error_on_the_page_keeps_the_number_out(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = _post_bank(client, own_importer, routing_number="021000022")
    assert response.status_code == 400
    html = response.content.decode()
    assert "check digit" in html
    _assert_masked(html)


def test_the_api_shows_only_the_last_four(client, bob, enrolled, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    listing = client.get("/api/ach/")
    detail = client.get(f"/api/ach/{own_importer.pk}/")
    assert listing.status_code == detail.status_code == 200
    body = detail.json()
    assert body["enrollment"]["account_number"] == MASKED
    assert body["ach_status"] == "not_started"
    assert body["refund_recipient"]["receiver"] == "importer" and body["refund_recipient"]["can_be_paid"] is False
    for text in (listing.content.decode(), detail.content.decode(), json.dumps(body)):
        _assert_masked(text)
        assert "account_number_encrypted" not in text


def test_the_csv_export_shows_only_the_last_four(client, vera, enrolled) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)  # viewers may export
    response = client.get(reverse("ach_export"))
    text = response.content.decode()
    assert response.status_code == 200 and MASKED in text
    _assert_masked(text)


def test_the_admin_shows_only_the_last_four(client, enrolled) -> None:  # type: ignore[no-untyped-def]
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "correct-horse-battery-9")
    client.force_login(admin)
    change = client.get(reverse("admin:ach_achenrollment_change", args=[enrolled.pk])).content.decode()
    changelist = client.get(reverse("admin:ach_achenrollment_changelist")).content.decode()
    assert MASKED in change and MASKED in changelist
    for text in (change, changelist):
        _assert_masked(text)
        assert enrolled.account_number_encrypted not in text


def test_the_audit_log_page_keeps_the_number_out(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _post_bank(client, own_importer)
    text = client.get(reverse("audit_log")).content.decode()
    assert "ach.details_save" in text
    _assert_masked(text)


def test_an_error_report_keeps_the_number_out(client, alice, own_importer, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    """A broken encryption key makes the save crash: the 500 error report (as mailed to admins) hides
    the POSTed number and every local variable that holds it."""
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    client.force_login(alice)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = _post_bank(client, own_importer)
    assert response.status_code == 500
    records = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert records
    record = records[-1]
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "enrollment_details_save" in text  # the report does show the failing frames
    assert "account_number" in text  # the POST key is listed, its value hidden
    for report in (text, html, caplog.text):
        _assert_masked(report)


def test_the_views_receiving_an_account_number_hide_it_from_error_reports(client, alice, own_importer, caplog) -> None:  # type: ignore[no-untyped-def]
    """Every ACH view that receives an account number marks it sensitive: Django's error-report filter
    (SafeExceptionReporterFilter, as used for the admins' email) replaces the POSTed values."""
    from unittest import mock

    from django.views.debug import SafeExceptionReporterFilter

    client.force_login(alice)
    client.raise_request_exception = False
    with mock.patch("ach.services.enrollment_details_save", side_effect=RuntimeError("boom")), \
            caplog.at_level(logging.ERROR, logger="django.request"):
        assert _post_bank(client, own_importer).status_code == 500
    request = next(r for r in caplog.records if r.name == "django.request" and r.exc_info).request
    post = SafeExceptionReporterFilter().get_post_parameters(request)
    assert post["account_number"] == post["account_number_confirm"] == SafeExceptionReporterFilter.cleansed_substitute
    assert post["bank_name"] == "First Bank"  # only the sensitive ones are hidden
    reporter = ExceptionReporter(request, *next(r for r in caplog.records if r.exc_info).exc_info, is_email=True)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        _assert_masked(report)
