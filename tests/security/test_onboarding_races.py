"""Issue #17 item 4: the verification-code limits hold under simultaneous requests (PostgreSQL).

Each request runs through the real page in its own thread, with its own database connection; a barrier
starts them together. Before the fix, 14 simultaneous wrong guesses got past the five-try limit and the right
code was then accepted, and 12 simultaneous starts for one IR number sent 10 codes where 5 are allowed."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import AccountApplication, AuditLog, Importer, VerificationCode
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import GrantFactory, ImporterFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="simultaneous writers need PostgreSQL"),
]

IR = "12-345678900"
POC = "pat.poc@cedarlane.example"


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def cedar(broker_org):  # type: ignore[no-untyped-def]
    importer = ImporterFactory(ir_number=IR, name="Cedar Lane Imports LLC", owner=None, status=Importer.Status.PENDING)
    GrantFactory(importer=importer, organization=broker_org)
    Form5106RecordFactory(importer=importer, company_name="Cedar Lane Imports LLC", poc_email=POC)
    return importer


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at once by a barrier; return their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = calls[i]()
        except BaseException as exc:  # reported by the main thread
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def _codes_sent() -> list[str]:
    return [re.search(r"Verification code: (\d{6})", m.body).group(1) for m in mail.outbox if POC in m.to]  # type: ignore[union-attr]


def test_simultaneous_wrong_guesses_never_pass_the_five_try_limit(cedar) -> None:  # type: ignore[no-untyped-def]
    applicant = Client(REMOTE_ADDR="203.0.113.5")
    applicant.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": IR,
                                                 "email": "owner@cedarlane.example"})
    right = _codes_sent()[-1]
    wrong = "000000" if right != "000000" else "111111"
    cookie = applicant.cookies["sessionid"].value

    def guess() -> int:
        attacker = Client(REMOTE_ADDR="203.0.113.5")
        attacker.cookies["sessionid"] = cookie
        return attacker.post(reverse("onboarding_verify"), {"code": wrong}).status_code

    statuses = _together([guess] * 14)
    assert all(s in (200, 302) for s in statuses)
    # Exactly five guesses were compared; the fifth restarted the application.
    assert AuditLog.objects.filter(action="onboarding.code_wrong").count() == 5
    assert AuditLog.objects.filter(action="onboarding.application_restart").count() == 1
    assert not AccountApplication.objects.exists()
    # The right code no longer opens anything.
    response = applicant.post(reverse("onboarding_verify"), {"code": right})
    assert response.status_code == 302 and response.url == reverse("onboarding_apply")
    assert not AccountApplication.objects.filter(status=AccountApplication.Status.VERIFIED).exists()
    assert not AuditLog.objects.filter(action="onboarding.code_verified").exists()


def test_simultaneous_starts_for_one_ir_number_send_no_more_codes_than_the_limit(cedar, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_CODES_PER_IR = 5

    def start(i: int) -> Callable[[], int]:
        def call() -> int:
            visitor = Client(REMOTE_ADDR=f"198.51.100.{i + 1}")  # a network each: only the per-IR limit applies
            return visitor.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": IR,
                                                              "email": f"owner{i}@cedarlane.example"}).status_code
        return call

    _together([start(i) for i in range(12)])
    assert VerificationCode.objects.count() == 5
    assert len(_codes_sent()) == 5
    assert AccountApplication.objects.count() == 5
    assert AuditLog.objects.filter(action="onboarding.code_limit").count() == 7


def test_simultaneous_resends_send_no_more_codes_than_the_limit(cedar, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ONBOARDING_CODES_PER_IR = 5
    applicant = Client(REMOTE_ADDR="203.0.113.5")
    applicant.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": IR,
                                                 "email": "owner@cedarlane.example"})
    cookie = applicant.cookies["sessionid"].value

    def resend() -> int:
        other = Client(REMOTE_ADDR="203.0.113.5")
        other.cookies["sessionid"] = cookie
        return other.post(reverse("onboarding_resend")).status_code

    _together([resend] * 10)
    assert VerificationCode.objects.count() == 5
    assert len(_codes_sent()) == 5
    # One code only is live: every resend superseded the one before it.
    assert VerificationCode.objects.filter(superseded_at__isnull=True).count() == 1
