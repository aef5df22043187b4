"""Who receives the refund: the 4811 notify party only when all three conditions hold, otherwise the importer."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import ReadinessState
from ach.models import AchEnrollment
from ach.selectors import importer_ids_with_refund_route, refund_recipient
from tests.accounts.factories import ReadinessStateFactory
from tests.ach.factories import AchEnrollmentFactory, NotifyPartyFactory

pytestmark = pytest.mark.django_db

CASES = list(itertools.product([False, True], repeat=4))  # on_ace_profile, in_box_28, ach_enrolled (4811) × importer ACH active


@pytest.mark.parametrize(("on_profile", "in_box_28", "np_enrolled", "importer_active"), CASES)
def test_the_recipient_table(own_importer, on_profile: bool, in_box_28: bool, np_enrolled: bool, importer_active: bool) -> None:  # type: ignore[no-untyped-def]
    AchEnrollmentFactory(importer=own_importer, status=AchEnrollment.Status.ACTIVE if importer_active else AchEnrollment.Status.NOT_STARTED)
    NotifyPartyFactory(importer=own_importer, name="Harbor Customs Brokerage", on_ace_profile=on_profile, in_box_28=in_box_28,
                       ach_enrolled=np_enrolled)
    recipient = refund_recipient(own_importer)
    notify_receives = on_profile and in_box_28 and np_enrolled
    if notify_receives:
        assert (recipient.receiver, recipient.name) == ("notify_party", "Harbor Customs Brokerage")
        assert recipient.warnings == []
    else:
        assert (recipient.receiver, recipient.name) == ("importer", own_importer.name)
        assert any("goes to the importer instead" in w for w in recipient.warnings)
    assert recipient.can_be_paid is (notify_receives or importer_active)
    bounces = not (notify_receives or importer_active)
    assert any("bounce" in w for w in recipient.warnings) is bounces
    assert recipient.level == ("bounce" if bounces else "ok")
    assert (own_importer.pk in importer_ids_with_refund_route([own_importer.pk])) is (notify_receives or importer_active)


@pytest.mark.parametrize("status", ["not_started", "entered", "rejected", None])
def test_an_importer_without_notify_party_and_without_active_ach_is_warned(own_importer, status) -> None:  # type: ignore[no-untyped-def]
    if status:
        AchEnrollmentFactory(importer=own_importer, status=status)
    recipient = refund_recipient(own_importer)
    assert recipient.receiver == "importer" and not recipient.can_be_paid
    assert recipient.level == ("warn" if status == "entered" else "bounce")
    assert recipient.warnings


def test_special_cases_are_recognised_with_guidance_and_contact(own_importer) -> None:  # type: ignore[no-untyped-def]
    AchEnrollmentFactory(importer=own_importer, foreign_no_us_bank=True, paper_check_waiver="requested")
    NotifyPartyFactory(importer=own_importer, on_ace_profile=True, in_box_28=True, ach_enrolled=False)
    ReadinessStateFactory(importer=own_importer, ace_account="inactive")
    cases = {c["code"]: c for c in refund_recipient(own_importer).special_cases}
    assert set(cases) == {"foreign_no_us_bank", "ace_account_inactive", "paper_check_waiver", "notify_party_not_enrolled"}
    assert "customs broker" in cases["foreign_no_us_bank"]["guidance"]
    assert "reactivated" in cases["ace_account_inactive"]["guidance"]
    ReadinessState.objects.filter(importer=own_importer).update(ace_account="voided")
    cases = {c["code"]: c for c in refund_recipient(own_importer).special_cases}
    assert "ace_account_inactive" not in cases
    assert "BONDQUESTIONS@CBP.DHS.GOV" in cases["ace_account_voided"]["contact_details"][0]["emails"]
    assert "(317) 614-4880" in cases["ace_account_voided"]["contact_details"][0]["phones"]
    assert "31 CFR 208.4" in cases["paper_check_waiver"]["title"]
    assert "frn-achrefundsupport@cbp.dhs.gov" in cases["paper_check_waiver"]["contact_details"][0]["emails"]
    assert cases["paper_check_waiver"]["state"] == "Requested"
    for case in cases.values():  # the public guide a user can look up, never our own file names
        assert "How To Register In The ACE Portal To Request Your IEEPA Refund" in case["source"]
        assert "seed" not in case["source"] and "README" not in case["source"]


@pytest.mark.parametrize("status", ["not_started", "entered", "rejected"])
def test_a_granted_paper_check_waiver_is_paid_by_check_and_not_at_risk(client, bob, broker_org, own_importer, status) -> None:  # type: ignore[no-untyped-def]
    from tests.ach.test_pages import _classify

    AchEnrollmentFactory(importer=own_importer, status=status, paper_check_waiver=AchEnrollment.Waiver.GRANTED)
    _classify(broker_org, own_importer, "4200.00")
    recipient = refund_recipient(own_importer)
    assert recipient.by_paper_check and recipient.can_be_paid and recipient.level == "ok"
    assert not any("bounce" in w for w in recipient.warnings)
    assert recipient.receiver_label == "Importer of record (paper check)"
    assert own_importer.pk in importer_ids_with_refund_route([own_importer.pk])
    case = {c["code"]: c for c in recipient.special_cases}["paper_check_waiver"]
    assert case["state"] == "Granted" and "paper check" in case["guidance"]
    assert case["contact_details"][0]["emails"] == ["revenuerefunds@cbp.dhs.gov"]

    client.force_login(bob)
    response = client.get(reverse("ach_home"))
    (row,) = response.context["page"].object_list
    assert row.at_risk == Decimal("0.00") and response.context["totals"]["at_risk"] == Decimal("0.00")
    assert "Refund would bounce" not in response.content.decode()
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    assert "The refund comes by paper check" in html and "nowhere to pay" not in html
    assert client.get(f"/api/ach/{own_importer.pk}/").json()["refund_recipient"]["by_paper_check"] is True


@pytest.mark.parametrize("waiver", ["", "requested", "denied"])
def test_a_waiver_not_granted_still_bounces(own_importer, waiver) -> None:  # type: ignore[no-untyped-def]
    AchEnrollmentFactory(importer=own_importer, paper_check_waiver=waiver)
    recipient = refund_recipient(own_importer)
    assert not recipient.by_paper_check and not recipient.can_be_paid and recipient.level == "bounce"
    assert own_importer.pk not in importer_ids_with_refund_route([own_importer.pk])
