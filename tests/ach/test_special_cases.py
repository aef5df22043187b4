"""Special cases recognised from the facts on file (seed 004, "Special Cases"): the ACE account state
kept once on the readiness checklist, and a foreign importer read from its application or 5106 address."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountApplication, AuditLog, ReadinessState
from ach.models import AchEnrollment
from ach.selectors import refund_recipient
from portfolio.readiness import importer_readiness
from tests.accounts.factories import Form5106RecordFactory
from tests.ach.factories import AchEnrollmentFactory

pytestmark = pytest.mark.django_db


def _ach_page(client, importer) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("ach_importer", args=[importer.pk])).content.decode()


def _readiness(client, importer) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("onboarding_readiness_detail", args=[importer.pk])).content.decode()


def _readiness_post(client, importer, ace: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(reverse("onboarding_readiness_detail", args=[importer.pk]),
                    {"ace_account": ace, "sub_account": "none", "tao_name": "", "tao_email": ""})
    assert r.status_code == 302, r.content.decode()[:1500]


def test_voided_on_the_readiness_page_shows_the_bonds_team_on_the_ach_page(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert "Voided ACE account" not in _ach_page(client, own_importer)
    _readiness_post(client, own_importer, "voided")
    html = _ach_page(client, own_importer)
    for text in ("Voided ACE account", "The ACE Portal account is recorded as voided.", "contact the CBP Bonds team",
                 "BONDQUESTIONS@CBP.DHS.GOV", "(317) 614-4880"):
        assert text in html
    assert 'value="voided" selected' in html  # the ACH page's form shows the same state
    ach = next(s for s in importer_readiness(own_importer) if s.key == "ach")
    assert ach.state == "blocked" and "Bonds team" in ach.next_step and ach.contact["key"] == "bonds_team"


def test_inactive_on_the_ach_page_is_the_readiness_ace_account_state(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("ach_special_cases", args=[own_importer.pk]), {"ace_account": "inactive", "paper_check_waiver": ""})
    assert r.status_code == 302
    state = ReadinessState.objects.get(importer=own_importer)
    assert state.ace_account == "inactive" and state.ace_account_changed_on == timezone.localdate()
    assert AuditLog.objects.filter(action="readiness.update", object_id=str(state.pk)).exists()
    steps = {s.key: s for s in importer_readiness(own_importer)}
    assert steps["ace_account"].state == "blocked" and "reactivate" in steps["ace_account"].next_step
    assert steps["ach"].state == "blocked" and "reactivated before ACH refund enrollment" in steps["ach"].next_step
    assert steps["ach"].contact["key"] == "technology_service_desk"
    html = _readiness(client, own_importer)
    assert "Inactive (dormant)" in html and "reactivate" in html
    html = _ach_page(client, own_importer)
    assert "Inactive (dormant) ACE account" in html and "CBP.Technology.Service.Desk@cbp.dhs.gov" in html
    # ...and reactivated on the readiness page, the special case is gone from the ACH page.
    _readiness_post(client, own_importer, "active")
    assert "Inactive (dormant) ACE account" not in _ach_page(client, own_importer)


def test_an_invalid_ace_account_state_is_refused_with_a_message(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("ach_special_cases", args=[own_importer.pk]), {"ace_account": "dormantish"})
    assert r.status_code == 400 and "Select a valid choice" in r.content.decode()
    assert not ReadinessState.objects.filter(importer=own_importer).exists()


def test_a_canadian_5106_address_is_recognised_as_a_foreign_importer(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(importer=own_importer, address="200 Bay Street\nToronto, ON M5J 2J2\nCanada")
    client.force_login(alice)
    html = _ach_page(client, own_importer)
    for text in ("Foreign importer without a U.S. bank account", "The importer&#x27;s address on file is in Canada (CA).",
                 "designate a U.S. customs broker as the 4811 notify party", "frn-achrefundsupport@cbp.dhs.gov"):
        assert text in html
    assert "CBP-assigned number" not in html  # the hint is not needed once the fact is on file
    ach = next(s for s in importer_readiness(own_importer) if s.key == "ach")
    assert ach.status == "Not started: foreign importer (Canada)" and "U.S. bank account" in ach.next_step
    assert ach.contact["key"] == "ach_refund_support"
    assert "Foreign importer without a U.S. bank account" in client.get(reverse("ach_home")).content.decode()


def test_a_foreign_country_on_the_account_application_is_recognised(own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(importer=own_importer, address="1 Harbor Way\nNewark, NJ 07102")
    AccountApplication.objects.create(token="t1", status=AccountApplication.Status.SUBMITTED, company_name=own_importer.name,
                                      ir_number=own_importer.ir_number, email="tao@blueheron.example", importer=own_importer,
                                      details={"country": "MX", "city": "Monterrey"}, expires_at=timezone.now(),
                                      submitted_at=timezone.now())
    case = {c["code"]: c for c in refund_recipient(own_importer).special_cases}["foreign_no_us_bank"]
    assert case["recognised_from"] == "The importer's address on file is in Mexico (MX)."
    assert case["contact_details"][0]["code"] == "ach_refund_support"


@pytest.mark.parametrize("address", ["1 Harbor Way\nNewark, NJ 07102", "1 Harbor Way\nNewark, NJ 07102\nUSA",
                                     "Calle Luna 5\nSan Juan, PR 00901\nPuerto Rico", ""])
def test_a_us_or_unknown_address_is_not_a_foreign_importer(own_importer, address: str) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(importer=own_importer, address=address)
    assert "foreign_no_us_bank" not in {c["code"] for c in refund_recipient(own_importer).special_cases}


def test_a_foreign_importer_with_an_active_us_account_is_not_a_special_case(own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(importer=own_importer, address="Hauptstrasse 1\n10115 Berlin, Germany")
    AchEnrollmentFactory(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    assert "foreign_no_us_bank" not in {c["code"] for c in refund_recipient(own_importer).special_cases}
    assert next(s for s in importer_readiness(own_importer) if s.key == "ach").state == "done"
