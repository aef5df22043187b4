from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import ServiceError
from cape.csvfile import sha256_hex
from cape.declarations import (
    declaration_build,
    declaration_discard,
    declaration_export,
    declaration_record_outcome,
    declaration_record_submission,
)
from cape.models import Declaration, DeclarationEntry, Path
from tests.cape.factories import eligible_entry
from tests.factories import EntryFactory, ImporterFactory

pytestmark = pytest.mark.django_db


def test_it_builds_one_declaration_per_importer_with_the_exact_bytes(importer_org, own_importer, alice) -> None:
    second = ImporterFactory(owner=importer_org, name="Second Co")
    a = [eligible_entry(own_importer) for _ in range(3)]
    b = [eligible_entry(second, path=Path.CAPE_PHASE2)]
    EntryFactory(organization=importer_org, importer=own_importer)  # not classified: never declared
    result = declaration_build(organization=importer_org, user=alice)
    assert len(result.declarations) == 2
    by_importer = {d.importer_id: d for d in result.declarations}
    d = by_importer[own_importer.pk]
    expected = ("Entry Number\n" + "".join(f"{e.entry_number}\n" for e in sorted(a, key=lambda e: e.entry_number))).encode()
    assert bytes(d.file_bytes) == expected
    assert d.sha256 == sha256_hex(expected)
    assert d.entry_count == 3 and d.ieepa_duty == Decimal("3600.00") and d.status == Declaration.Status.DRAFT
    assert by_importer[second.pk].entry_count == 1 and b[0].entry_number in bytes(by_importer[second.pk].file_bytes).decode()
    assert AuditLog.objects.filter(action="declaration.build").count() == 2
    assert d.preflight["checks"]


def test_a_mixed_declaration_holds_several_importers(broker_org, bob, own_importer) -> None:
    client = ImporterFactory(name="Client Two")
    from tests.factories import GrantFactory

    GrantFactory(importer=client, organization=broker_org)
    eligible_entry(own_importer, organization=broker_org)
    eligible_entry(client, organization=broker_org)
    result = declaration_build(organization=broker_org, user=bob, mixed=True)
    assert len(result.declarations) == 1
    assert result.declarations[0].importer is None and result.declarations[0].entry_count == 2


def test_a_filtered_selection_and_one_importer_among_several(importer_org, own_importer, alice) -> None:
    entries = [eligible_entry(own_importer) for _ in range(4)]
    result = declaration_build(organization=importer_org, user=alice, entry_numbers=[entries[1].entry_number, "ZZZ00000000"])
    assert [d.entry_count for d in result.declarations] == [1]
    assert [x.entry_number for x in result.left_out] == ["ZZZ00000000"]
    other = declaration_build(organization=importer_org, user=alice, importer_ids=[own_importer.pk], paths=[Path.CAPE_PHASE2])
    assert other.declarations == []


def test_entries_on_a_submitted_declaration_are_left_out_and_shown(importer_org, own_importer, alice) -> None:
    entries = [eligible_entry(own_importer) for _ in range(2)]
    first = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=first, user=alice)
    declaration_record_submission(declaration=first, submitted_on=timezone.localdate(), claim_number="100000241223", user=alice)
    newcomer = eligible_entry(own_importer)
    again = declaration_build(organization=importer_org, user=alice)
    assert [d.entry_count for d in again.declarations] == [1]
    assert again.declarations[0].items.get().entry == newcomer
    assert sorted(x.entry_number for x in again.left_out) == sorted(e.entry_number for e in entries)
    assert all("submitted declaration" in x.reason for x in again.left_out)


def test_a_broker_cannot_build_for_an_importer_it_does_not_manage(broker_org, bob, charlie) -> None:
    from accounts.models import Importer

    foreign = Importer.objects.get(ir_number="55-555555500")
    with pytest.raises(ServiceError):
        declaration_build(organization=broker_org, user=bob, importer_ids=[foreign.pk])


def test_it_splits_at_9999_entries(importer_org, own_importer, alice) -> None:
    from cape.models import Classification
    from entries.entrynumber import check_digit
    from entries.models import Entry

    entries = Entry.objects.bulk_create(
        [Entry(importer=own_importer, entry_number=f"SPL{i:07d}" + str(check_digit(f"SPL{i:07d}")),
               entry_type="01", ieepa_duty=Decimal("1.00")) for i in range(10_000)]
    )
    Classification.objects.bulk_create(
        [Classification(entry=e, importer=own_importer, ieepa_duty=Decimal("1.00"), path=Path.CAPE_PHASE1,
                        ruleset="test", as_of=timezone.localdate()) for e in entries]
    )
    result = declaration_build(organization=importer_org, user=alice, run_checks=False)
    assert sorted(d.entry_count for d in result.declarations) == [1, 9999]
    assert DeclarationEntry.objects.count() == 10_000
    big = max(result.declarations, key=lambda d: d.entry_count)
    assert bytes(big.file_bytes).count(b"\n") == 10_000 and len(big.file_bytes) < 1_000_000
    assert big.name.endswith("1 of 2")


def test_lifecycle_export_submit_and_audit(importer_org, own_importer, alice) -> None:
    eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    with pytest.raises(ServiceError):
        declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number="1", user=alice)
    data = declaration_export(declaration=d, user=alice)
    d.refresh_from_db()
    assert data == bytes(d.file_bytes) and d.status == Declaration.Status.EXPORTED and d.exported_at
    with pytest.raises(ServiceError, match="digits"):
        declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number="ABC", user=alice)
    with pytest.raises(ServiceError, match="future"):
        declaration_record_submission(declaration=d, submitted_on=timezone.localdate() + timedelta(days=2), claim_number="1", user=alice)
    declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number=" 100000241223 ", user=alice)
    d.refresh_from_db()
    assert (d.status, d.claim_number) == (Declaration.Status.SUBMITTED, "100000241223")
    with pytest.raises(ServiceError):
        declaration_discard(declaration=d, user=alice)
    actions = list(AuditLog.objects.filter(object_id=str(d.pk)).values_list("action", flat=True))
    assert {"declaration.build", "declaration.export", "declaration.submit", "declaration.preflight"} <= set(actions)


def test_a_failed_validation_frees_the_entries(importer_org, own_importer, alice, monkeypatch) -> None:
    eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=d, user=alice)
    declaration_record_outcome(declaration=d, status=Declaration.Status.FAILED_VALIDATION, user=alice)
    d.refresh_from_db()
    assert d.status == Declaration.Status.FAILED_VALIDATION
    assert [x.entry_count for x in declaration_build(organization=importer_org, user=alice).declarations] == [1]


def test_discarding_a_draft_frees_its_entries(importer_org, own_importer, alice) -> None:
    eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    assert declaration_build(organization=importer_org, user=alice).declarations == []
    declaration_discard(declaration=d, user=alice)
    assert len(declaration_build(organization=importer_org, user=alice).declarations) == 1
    assert AuditLog.objects.filter(action="declaration.discard").exists()
