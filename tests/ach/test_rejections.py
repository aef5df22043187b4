"""Rejected refunds: recording one makes the importer's ACH rejected and starts the replacement procedure."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditLog
from accounts.services import ServiceError
from ach.models import AchEnrollment, AchRejection
from ach.selectors import importer_ids_with_refund_route, refund_recipient
from ach.services import (
    enrollment_confirm_active,
    enrollment_details_save,
    enrollment_mark_entered,
    rejection_record,
    rejection_resolve,
    rejection_support_emailed,
)

pytestmark = pytest.mark.django_db

ACCOUNT = "987654321012"


def _active(importer, user=None):  # type: ignore[no-untyped-def]
    enrollment_details_save(importer=importer, bank_name="First Bank", routing_number="021000021", account_number=ACCOUNT,
                            account_type="checking", account_holder=importer.name, user=user)
    enrollment_mark_entered(importer=importer, entered_on=date(2026, 3, 2), entered_by="Alice TAO", user=user)
    return enrollment_confirm_active(importer=importer, seen_on=date(2026, 3, 4), user=user)


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
def test_recording_a_rejection_makes_an_active_enrollment_rejected(own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    _active(own_importer, alice)
    assert own_importer.pk in importer_ids_with_refund_route([own_importer.pk])
    rejection = rejection_record(importer=own_importer, amount="$1,234.50", reason="R03 No account/unable to locate",
                                 source="manual", reference="RF-1", user=alice, rejected_on=date(2026, 5, 1))
    assert rejection.created is True
    assert rejection.amount == Decimal("1234.50")
    enrollment = AchEnrollment.objects.get(importer=own_importer)
    assert enrollment.status == AchEnrollment.Status.REJECTED
    assert enrollment.rejected_on == date(2026, 5, 1)
    assert own_importer.pk not in importer_ids_with_refund_route([own_importer.pk])
    recipient = refund_recipient(own_importer)
    assert recipient.level == "bounce" and not recipient.can_be_paid
    assert rejection.step == AchRejection.Step.ENROLL
    log = AuditLog.objects.get(action="ach.rejection_record")
    assert log.detail["status_from"] == "active" and log.detail["reference"] == "RF-1"


def test_a_rejection_on_an_importer_with_no_enrollment_creates_a_rejected_one(own_importer) -> None:  # type: ignore[no-untyped-def]
    rejection_record(importer=own_importer, amount=Decimal("10.00"), reason="Returned", source="rev603", reference="")
    assert AchEnrollment.objects.get(importer=own_importer).status == AchEnrollment.Status.REJECTED


def test_the_same_reference_twice_is_one_rejection(own_importer) -> None:  # type: ignore[no-untyped-def]
    first = rejection_record(importer=own_importer, amount="50", reason="x", source="rev613", reference="RF-9")
    second = rejection_record(importer=own_importer, amount="50", reason="x", source="rev603", reference="RF-9")
    assert second.pk == first.pk and second.created is False
    assert AchRejection.objects.count() == 1


def test_an_unknown_source_is_refused(own_importer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError):
        rejection_record(importer=own_importer, amount="1", reason="", source="fax", reference="")


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
def test_the_replacement_procedure_is_tracked_to_resolution(own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    _active(own_importer, alice)
    rejection = rejection_record(importer=own_importer, amount="900", reason="R04", source="manual", reference="RF-2",
                                 rejected_on=date(2026, 5, 1))
    with pytest.raises(ServiceError, match="Enroll valid bank details"):
        rejection_support_emailed(importer=own_importer, emailed_on=date(2026, 5, 5))
    enrollment_details_save(importer=own_importer, bank_name="Second Bank", routing_number="111000025",
                            account_number="55550000111", account_type="savings", account_holder="Blue Heron")
    enrollment_mark_entered(importer=own_importer, entered_on=date(2026, 5, 4), entered_by="Alice TAO")
    rejection.refresh_from_db()
    assert rejection.step == AchRejection.Step.EMAIL and rejection.re_enrolled_on == date(2026, 5, 4)
    assert rejection_support_emailed(importer=own_importer, emailed_on=date(2026, 5, 5)) == 1
    rejection.refresh_from_db()
    assert rejection.step == AchRejection.Step.WAIT
    assert rejection.replacement_window() == (date(2026, 5, 5) + timedelta(weeks=4), date(2026, 5, 5) + timedelta(weeks=6))
    rejection_resolve(rejection=rejection, resolved_on=date(2026, 5, 19))
    rejection.refresh_from_db()
    assert rejection.step == AchRejection.Step.RESOLVED
    with pytest.raises(ServiceError):
        rejection_resolve(rejection=rejection, resolved_on=date(2026, 5, 19))


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
def test_a_rejection_older_than_a_re_entry_does_not_undo_it(own_importer) -> None:  # type: ignore[no-untyped-def]
    _active(own_importer)
    rejection = rejection_record(importer=own_importer, amount="5", reason="old", source="rev613", reference="OLD",
                                 rejected_on=date(2026, 2, 20))
    assert AchEnrollment.objects.get(importer=own_importer).status == AchEnrollment.Status.ACTIVE
    assert rejection.re_enrolled_on == date(2026, 3, 2)
