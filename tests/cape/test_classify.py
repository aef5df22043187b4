"""The classification service: bulk classification of stored entries, changes, facts, uploads."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog
from cape.classify import (
    classify_entries,
    classify_organization,
    classify_upload_entries,
    due_entry_ids,
    entry_facts_update,
)
from cape.models import Classification, ClassificationChange, Declaration, DeclarationEntry
from entries.models import Entry, Upload
from tests.factories import EntryFactory

AS_OF = date(2026, 11, 22)


def _entry(org, importer, **kw):  # type: ignore[no-untyped-def]
    return EntryFactory(organization=org, importer=importer, **kw)


@pytest.mark.django_db
def test_it_classifies_every_entry_of_the_organisation_and_stores_the_dates(importer_org, own_importer) -> None:
    a = _entry(importer_org, own_importer)  # worked example A
    b = _entry(importer_org, own_importer, liquidation_status="liquidated", liquidation_date=date(2026, 10, 1),
               ieepa_duty=Decimal("500.00"))
    assert classify_entries(organization=importer_org, as_of=AS_OF) == 2
    ca = Classification.objects.get(entry=a)
    assert ca.path == "cape_phase1" and ca.reasons[0] == "unliquidated"
    assert ca.projected_liquidation_date == date(2026, 11, 30)
    assert ca.ruleset == "2026.12" and ca.as_of == AS_OF and ca.importer == own_importer
    assert ca.estimated_interest is not None and ca.estimated_interest > 0
    cb = Classification.objects.get(entry=b)
    assert (cb.path, cb.reasons[0], cb.cape_window_closes, cb.deadline) == (
        "cape_phase1", "within_80_days", date(2026, 12, 19), date(2026, 12, 19))
    assert cb.reasons_text.startswith("|within_80_days|")


@pytest.mark.django_db
def test_it_uses_a_fixed_number_of_queries_whatever_the_number_of_entries(importer_org, own_importer) -> None:
    for _ in range(3):
        _entry(importer_org, own_importer)
    with CaptureQueriesContext(connection) as few:
        classify_entries(organization=importer_org, as_of=AS_OF)  # never classified: inserted
    with CaptureQueriesContext(connection) as few_again:
        classify_entries(organization=importer_org, as_of=AS_OF)  # classified before: updated
    for _ in range(30):
        _entry(importer_org, own_importer)
    Classification.objects.all().delete()
    with CaptureQueriesContext(connection) as many:
        classify_entries(organization=importer_org, as_of=AS_OF)
    with CaptureQueriesContext(connection) as many_again:
        classify_entries(organization=importer_org, as_of=AS_OF)
    assert len(many) == len(few) and len(many_again) == len(few_again)


@pytest.mark.django_db
def test_an_organisations_run_classifies_only_the_entries_of_importers_it_sees(importer_org, own_importer, charlie) -> None:
    from accounts.models import Importer

    other = Importer.objects.get(ir_number="55-555555500")
    theirs = _entry(other.owner, other)
    mine = _entry(importer_org, own_importer)
    assert classify_entries(organization=importer_org, as_of=AS_OF) == 1
    assert Classification.objects.filter(entry=mine).exists() and not Classification.objects.filter(entry=theirs).exists()


@pytest.mark.django_db
def test_it_records_a_change_only_when_path_or_reasons_change(importer_org, own_importer) -> None:
    e = _entry(importer_org, own_importer, liquidation_status="liquidated", liquidation_date=date(2026, 10, 1))
    classify_entries(organization=importer_org, as_of=AS_OF)
    classify_entries(organization=importer_org, as_of=AS_OF + timedelta(days=1))
    assert ClassificationChange.objects.filter(entry=e).count() == 1  # the first classification only
    classify_entries(organization=importer_org, as_of=date(2026, 12, 20))  # day 80: window passed
    latest = ClassificationChange.objects.filter(entry=e).order_by("-pk").first()
    assert (latest.old_path, latest.new_path, latest.reasons[0]) == ("cape_phase1", "protest", "cape_window_passed")
    assert latest.old_reasons[0] == "within_80_days"


@pytest.mark.django_db
def test_cape_history_files_accepted_entries_and_explains_rejections(importer_org, own_importer) -> None:
    ok = _entry(importer_org, own_importer)
    bad = _entry(importer_org, own_importer)
    d = Declaration.objects.create(organization=importer_org, importer=own_importer, name="D1",
                                   status=Declaration.Status.ACCEPTED_WITH_ERRORS)
    DeclarationEntry.objects.create(declaration=d, entry=ok, position=1, outcome="accepted")
    DeclarationEntry.objects.create(declaration=d, entry=bad, position=2, outcome="rejected",
                                    error_text="HTS RELATIONSHIP MISMATCH")
    classify_entries(organization=importer_org, as_of=AS_OF)
    assert Classification.objects.get(entry=ok).path == "filed"
    c = Classification.objects.get(entry=bad)
    assert c.path == "cape_phase1"
    assert "cape_rejected:HTS RELATIONSHIP MISMATCH" in c.reasons and "psc_then_refile" in c.reasons


@pytest.mark.django_db
def test_an_entry_on_a_declaration_not_yet_accepted_is_not_filed(importer_org, own_importer) -> None:
    e = _entry(importer_org, own_importer)
    d = Declaration.objects.create(organization=importer_org, importer=own_importer, name="D1",
                                   status=Declaration.Status.SUBMITTED)
    DeclarationEntry.objects.create(declaration=d, entry=e, position=1)
    classify_entries(organization=importer_org, as_of=AS_OF)
    assert Classification.objects.get(entry=e).path == "cape_phase1"


@pytest.mark.django_db
def test_no_ach_refund_follows_the_importers_refund_route(importer_org, own_importer) -> None:
    from ach.models import AchEnrollment

    e = _entry(importer_org, own_importer)
    classify_entries(organization=importer_org, as_of=AS_OF)
    assert "no_ach_refund" in Classification.objects.get(entry=e).reasons
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    assert due_entry_ids(organization=importer_org, as_of=AS_OF) == [e.pk]  # the nightly run picks it up
    classify_entries(organization=importer_org, as_of=AS_OF)
    assert "no_ach_refund" not in Classification.objects.get(entry=e).reasons


@pytest.mark.django_db
def test_the_nightly_run_touches_only_entries_whose_result_can_change(importer_org, own_importer) -> None:
    from ach.models import AchEnrollment

    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    steady = _entry(importer_org, own_importer)  # unliquidated: nothing changes with time alone
    moving = _entry(importer_org, own_importer, liquidation_status="liquidated", liquidation_date=date(2026, 10, 1))
    first = classify_organization(organization=importer_org, as_of=AS_OF)
    assert (first.touched, first.total) == (2, 2)
    assert classify_organization(organization=importer_org, as_of=AS_OF + timedelta(days=1)).touched == 0
    stable = Classification.objects.get(entry=moving).stable_until
    assert stable == date(2026, 12, 5)  # the CAPE window (2026-12-19) comes within 14 days
    again = classify_organization(organization=importer_org, as_of=stable)
    assert again.touched == 1
    c = Classification.objects.get(entry=moving)
    assert c.urgent and "urgent" in c.reasons and c.as_of == stable
    assert Classification.objects.get(entry=steady).as_of == AS_OF


@pytest.mark.django_db
def test_classify_upload_entries_classifies_what_the_upload_touched(importer_org, own_importer) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="es003.csv", file="x.csv")
    touched = _entry(importer_org, own_importer, last_upload=upload)
    untouched = _entry(importer_org, own_importer)
    assert classify_upload_entries(upload_id=upload.pk) == 1
    assert Classification.objects.filter(entry=touched).exists()
    assert not Classification.objects.filter(entry=untouched).exists()


@pytest.mark.django_db
def test_facts_are_audited_and_reclassify_the_entry(importer_org, own_importer, alice) -> None:
    e = _entry(importer_org, own_importer, liquidation_status="liquidated", liquidation_date=date(2026, 10, 1))
    classify_entries(organization=importer_org, as_of=AS_OF)
    c = entry_facts_update(entry=e, user=alice, organization=importer_org, drawback=True, as_of=AS_OF)
    assert (c.path, c.reasons[0]) == ("protest", "drawback")
    log = AuditLog.objects.get(action="entry.fact_set")
    assert log.detail == {"entry_number": e.entry_number, "fact": "drawback", "old": False, "new": True}
    c = entry_facts_update(entry=e, user=alice, organization=importer_org, drawback=False, protest_status="open",
                           as_of=AS_OF)
    assert (c.path, c.reasons[:2]) == ("protest", ["protest_pending", "withdraw_protest_option"])
    assert AuditLog.objects.filter(action="entry.fact_set").count() == 3
    e.refresh_from_db()
    assert e.protest_status == "open" and not e.drawback


@pytest.mark.django_db
def test_corporate_status_changes_the_interest_estimate_of_every_entry_of_the_importer(importer_org, own_importer, alice) -> None:
    e1 = _entry(importer_org, own_importer)
    e2 = _entry(importer_org, own_importer)
    classify_entries(organization=importer_org, as_of=AS_OF)
    corporate = Classification.objects.get(entry=e2).estimated_interest
    entry_facts_update(entry=e1, user=alice, organization=importer_org, importer_is_corporate=False, as_of=AS_OF)
    own_importer.refresh_from_db()
    assert own_importer.is_corporate is False
    assert Classification.objects.get(entry=e2).estimated_interest > corporate  # 7% beats 6%
    assert AuditLog.objects.filter(action="importer.corporate_set").count() == 1


@pytest.mark.django_db
def test_facts_of_another_organisations_entry_are_refused(importer_org, own_importer, charlie) -> None:
    from accounts.models import Organization
    from accounts.services import ServiceError

    e = _entry(importer_org, own_importer)
    with pytest.raises(ServiceError):
        entry_facts_update(entry=e, user=charlie, organization=Organization.objects.get(slug="outsider"), drawback=True)
    assert Entry.objects.get(pk=e.pk).drawback is False


@pytest.mark.django_db
def test_a_broker_cannot_change_an_onboarded_importers_corporate_status(broker_org, own_importer, bob) -> None:
    from accounts.services import ServiceError

    e = _entry(broker_org, own_importer)
    with pytest.raises(ServiceError, match="own organisation"):
        entry_facts_update(entry=e, user=bob, organization=broker_org, importer_is_corporate=False, as_of=AS_OF)
    own_importer.refresh_from_db()
    assert own_importer.is_corporate is True


@pytest.mark.django_db
def test_the_stored_estimate_carries_the_uncertain_flag_and_names_the_carried_forward_quarters(importer_org, own_importer) -> None:
    late = _entry(importer_org, own_importer)  # deposited 2026-01-28: as of 2026-11-22 runs to 2027-01-06
    early = _entry(importer_org, own_importer, entry_date=date(2025, 3, 1), entry_summary_date=date(2025, 3, 9),
                   liquidation_status="liquidated", liquidation_date=date(2025, 5, 10))
    nothing = _entry(importer_org, own_importer, ieepa_duty=Decimal("0.00"))
    classify_entries(organization=importer_org, as_of=AS_OF)
    c = Classification.objects.get(entry=late)
    assert c.interest_uncertain is True
    assert c.interest_note == "estimate; rate for 2027-Q1 not yet published, carried forward"
    classify_entries(organization=importer_org, entry_ids=[early.pk], as_of=date(2025, 5, 20))
    c = Classification.objects.get(entry=early)
    assert c.estimated_interest is not None and c.estimated_interest > 0
    assert (c.interest_uncertain, c.interest_note) == (False, "")  # 2025 quarters are all published
    n = Classification.objects.get(entry=nothing)
    assert n.estimated_interest is None and (n.interest_uncertain, n.interest_note) == (False, "")
