"""A change to an importer's ACH enrollment or 4811 notify party reclassifies its entries on commit, so
the `no_ach_refund` reason (rules.md, "Extra reasons") appears and disappears with the refund route."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest

from ach import services
from ach.models import AchEnrollment
from cape.classify import classify_entries, today_eastern
from cape.models import Classification
from tests.ach.factories import AchEnrollmentFactory
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db


def _reasons(entry) -> list[str]:  # type: ignore[no-untyped-def]
    return list(Classification.objects.get(entry=entry).reasons)


@pytest.fixture
def entries(importer_org, broker_org, own_importer):  # type: ignore[no-untyped-def]
    """One entry of the importer in its own organisation and one in its broker's, both classified today."""
    own = EntryFactory(organization=importer_org, importer=own_importer)
    brokers = EntryFactory(organization=broker_org, importer=own_importer)
    for org in (importer_org, broker_org):
        classify_entries(organization=org, as_of=today_eastern())
    assert "no_ach_refund" in _reasons(own) and "no_ach_refund" in _reasons(brokers)
    return own, brokers


def _bank(importer, **kw) -> None:  # type: ignore[no-untyped-def]
    services.enrollment_details_save(importer=importer, bank_name="First Bank", routing_number="111000025", account_number="4455667788",
                                     account_type="checking", account_holder=importer.name, **kw)


def test_confirming_ach_active_removes_the_reason_and_a_rejection_brings_it_back(
    own_importer, importer_org, alice, entries, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    own, brokers = entries
    _bank(own_importer, organization=importer_org, user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.enrollment_confirm_active(importer=own_importer, seen_on=date.today(), organization=importer_org, user=alice)
    assert "no_ach_refund" not in _reasons(own) and "no_ach_refund" not in _reasons(brokers)
    with django_capture_on_commit_callbacks(execute=True):
        services.rejection_record(importer=own_importer, amount="10.00", reason="R03", source="manual", reference="RF-1",
                                  organization=importer_org, user=alice)
    assert "no_ach_refund" in _reasons(own) and "no_ach_refund" in _reasons(brokers)


def test_a_complete_notify_party_removes_the_reason_and_removing_it_brings_it_back(
    own_importer, broker_org, bob, entries, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    own, brokers = entries
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_party_save(importer=own_importer, name="Harbor Customs Brokerage", ir_number="12-345678900", on_ace_profile=True,
                                   in_box_28=True, ach_enrolled=True, organization=broker_org, user=bob)
    assert "no_ach_refund" not in _reasons(own) and "no_ach_refund" not in _reasons(brokers)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_party_remove(importer=own_importer, organization=broker_org, user=bob)
    assert "no_ach_refund" in _reasons(own) and "no_ach_refund" in _reasons(brokers)


def test_a_granted_paper_check_waiver_removes_the_reason(own_importer, importer_org, alice, entries,
                                                         django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    own, _ = entries
    with django_capture_on_commit_callbacks(execute=True):
        services.special_cases_save(importer=own_importer, foreign_no_us_bank=False, ace_account="active", paper_check_waiver="granted",
                                    organization=importer_org, user=alice)
    assert "no_ach_refund" not in _reasons(own)


def test_nothing_is_enqueued_before_commit_and_a_rev613_import_queues_one_run_both_organisations_see(
    own_importer, importer_org, broker_org, entries, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from cape.models import ClassificationRun
    from cape.selectors import reclassifying

    AchEnrollmentFactory(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    content = (b"Importer Number,Entry Number,Refund Amount,Rejection Reason,Refund Reference Number,Rejected Date\r\n"
               b'="93-417726100",,10.00,R03,RF1,05/01/2026\r\n="93-417726100",,20.00,R03,RF2,05/02/2026\r\n')
    with mock.patch("cape.tasks.classify_run.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.rev613_import(organization=importer_org, content=content)
        assert delay.call_count == 0  # not before the commit
        # ... but the run is recorded at once: both organisations' pages say "reclassifying…"
        run = ClassificationRun.objects.get(kind=ClassificationRun.Kind.CHANGE)
        assert list(run.importers.all()) == [own_importer] and run.total == len(entries)
        assert reclassifying(importer_org).runs == [run] and reclassifying(broker_org).runs == [run]
        for callback in callbacks:
            callback()
    assert delay.call_args_list == [mock.call(run.pk)]
