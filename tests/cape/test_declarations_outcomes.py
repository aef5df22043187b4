"""Claim details import, whole-file outcomes, and refiling corrected rejected entries."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import ServiceError
from cape.declarations import (
    declaration_build,
    declaration_build_refile,
    declaration_entries_mark_corrected,
    declaration_export,
    declaration_import_claim_details,
    declaration_record_submission,
    rejected_entries_ready,
    rejected_entries_waiting,
)
from cape.models import Classification, Declaration, DeclarationEntry
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db
S = Declaration.Status


def _submitted(org, importer, user, n=3, claim="100000241223"):  # type: ignore[no-untyped-def]
    entries = [eligible_entry(importer) for _ in range(n)]
    d = declaration_build(organization=org, user=user).declarations[0]
    declaration_export(declaration=d, user=user)
    declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number=claim, user=user)
    return Declaration.objects.get(pk=d.pk), sorted(entries, key=lambda e: e.entry_number)


def _csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION"]
    lines += [f'="{e}",="{c}",{s},{err}' for e, c, s, err in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_partial_acceptance_makes_accepted_with_errors_and_reports_unknown_entries(importer_org, own_importer, alice) -> None:
    d, (a, b, c) = _submitted(importer_org, own_importer, alice)
    data = _csv([(a.entry_number, "100000241223", "Entry Summary Updated", ""),
                 (b.entry_number, "100000241223", "Failed", "HTS RELATIONSHIP MISMATCH"),
                 ("60576069342", "100000241223", "Failed", "ENTRY ON DRAWBACK")])
    result = declaration_import_claim_details(declaration=d, data=data, filename="claims.csv", accepted_on=date(2026, 5, 1), user=alice)
    d.refresh_from_db()
    assert d.status == S.ACCEPTED_WITH_ERRORS and d.accepted_on == date(2026, 5, 1)
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.unknown == [{"row": 4, "entry_number": "60576069342", "status": "Failed", "error": "ENTRY ON DRAWBACK"}]
    assert result.missing == [c.entry_number]
    items = {i.entry_id: i for i in d.items.all()}
    assert items[a.pk].outcome == "accepted" and items[b.pk].outcome == "rejected"
    assert items[b.pk].error_text == "HTS RELATIONSHIP MISMATCH" and items[c.pk].outcome == "pending"
    assert d.outcome_summary["unknown_count"] == 1 and d.outcome_summary["missing_count"] == 1
    log = AuditLog.objects.get(action="declaration.claim_details_import")
    assert log.detail["old_status"] == "submitted" and log.detail["status"] == "accepted_with_errors"
    # The engine ran on the changed entries: the accepted one is filed, the rejected one carries CBP's error.
    assert Classification.objects.get(entry=a).path == "filed"
    rejected = Classification.objects.get(entry=b)
    assert "cape_rejected:HTS RELATIONSHIP MISMATCH" in rejected.reasons and "psc_then_refile" in rejected.reasons


def test_all_accepted_is_accepted_and_all_failed_is_rejected(importer_org, own_importer, alice) -> None:
    d, entries = _submitted(importer_org, own_importer, alice, n=2)
    declaration_import_claim_details(declaration=d, data=_csv([(e.entry_number, "100000241223", "Entry Summary Updated", "") for e in entries]))
    assert Declaration.objects.get(pk=d.pk).status == S.ACCEPTED
    d2, entries2 = _submitted(importer_org, own_importer, alice, n=1, claim="100000241224")
    declaration_import_claim_details(declaration=d2, data=_csv([(entries2[0].entry_number, "100000241224", "Failed", "PROTEST ON ENTRY")]))
    assert Declaration.objects.get(pk=d2.pk).status == S.REJECTED


def test_a_file_for_another_claim_is_refused_and_changes_nothing(importer_org, own_importer, alice) -> None:
    d, entries = _submitted(importer_org, own_importer, alice, n=1)
    with pytest.raises(ServiceError, match="claim number 999"):
        declaration_import_claim_details(declaration=d, data=_csv([(entries[0].entry_number, "999", "Failed", "X")]))
    assert Declaration.objects.get(pk=d.pk).status == S.SUBMITTED
    assert DeclarationEntry.objects.get(declaration=d).outcome == "pending"


def test_a_file_with_no_usable_rows_is_refused(importer_org, own_importer, alice) -> None:
    d, _ = _submitted(importer_org, own_importer, alice, n=1)
    with pytest.raises(ServiceError, match="no usable rows"):
        declaration_import_claim_details(declaration=d, data=_csv([("12345678901", "100000241223", "Failed", "X")]))


def test_claim_details_on_an_exported_declaration_record_the_claim_number(importer_org, own_importer, alice) -> None:
    e = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=d, user=alice)
    declaration_import_claim_details(declaration=d, data=_csv([(e.entry_number, "100000241299", "Entry Summary Updated", "")]))
    d.refresh_from_db()
    assert (d.status, d.claim_number) == (S.ACCEPTED, "100000241299") and d.submitted_on is not None


def test_a_draft_cannot_take_claim_details(importer_org, own_importer, alice) -> None:
    e = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    with pytest.raises(ServiceError):
        declaration_import_claim_details(declaration=d, data=_csv([(e.entry_number, "1", "Failed", "X")]))


def test_corrected_rejected_entries_make_a_new_declaration(importer_org, own_importer, alice) -> None:
    d, (a, b, c) = _submitted(importer_org, own_importer, alice)
    declaration_import_claim_details(declaration=d, data=_csv([
        (a.entry_number, "100000241223", "Entry Summary Updated", ""),
        (b.entry_number, "100000241223", "Failed", "INVALID HTS"),
        (c.entry_number, "100000241223", "Failed", "UNABLE TO CALCULATE DUTY"),
    ]))
    # c's error needs no correction: ready at once; b waits for its post-summary correction.
    assert [i.entry_id for i in rejected_entries_ready(importer_org)] == [c.pk]
    assert [i.entry_id for i in rejected_entries_waiting(importer_org)] == [b.pk]
    declaration_entries_mark_corrected(organization=importer_org, entry_ids=[b.pk], user=alice)
    result = declaration_build_refile(organization=importer_org, user=alice)
    assert len(result.declarations) == 1
    new = result.declarations[0]
    assert new.refiled_from_id == d.pk
    assert set(new.items.values_list("entry_id", flat=True)) == {b.pk, c.pk}
    assert rejected_entries_ready(importer_org) == []
    with pytest.raises(ServiceError):
        declaration_build_refile(organization=importer_org, user=alice)


def test_claim_details_that_match_no_entry_leave_the_status_unchanged_and_list_every_unknown_entry(
        importer_org, own_importer, alice) -> None:
    d, entries = _submitted(importer_org, own_importer, alice, n=2)
    strangers = ["60576069342", "3BZ55001204"]
    data = _csv([(strangers[0], "100000241223", "Failed", "ENTRY ON DRAWBACK"),
                 (strangers[1], "100000241223", "Entry Summary Updated", "")])
    result = declaration_import_claim_details(declaration=d, data=data, filename="other.csv", user=alice)
    d.refresh_from_db()
    assert d.status == S.SUBMITTED and d.accepted_on is None and d.outcome_summary == {}
    assert result.nothing_matched and (result.accepted, result.rejected, result.matched) == (0, 0, 0)
    assert [u["entry_number"] for u in result.unknown] == strangers
    assert [u["row"] for u in result.unknown] == [2, 3]
    assert result.message.startswith("Nothing matched: none of the 2 rows in other.csv names an entry on this declaration")
    assert "status is unchanged (submitted)" in result.message
    assert set(DeclarationEntry.objects.filter(declaration=d).values_list("outcome", flat=True)) == {"pending"}
    assert all(Classification.objects.get(entry=e).path == "cape_phase1" for e in entries)
    log = AuditLog.objects.get(action="declaration.claim_details_unmatched")
    assert log.detail["unknown"] == 2 and log.detail["sample"] == strangers
    assert not AuditLog.objects.filter(action="declaration.claim_details_import").exists()
    assert result.as_dict()["nothing_matched"] is True and result.as_dict()["status"] == "submitted"


def test_claim_details_that_match_nothing_keep_an_accepted_declaration_accepted(importer_org, own_importer, alice) -> None:
    d, entries = _submitted(importer_org, own_importer, alice, n=1)
    declaration_import_claim_details(declaration=d, data=_csv([(entries[0].entry_number, "100000241223", "Entry Summary Updated", "")]))
    d.refresh_from_db()
    summary = d.outcome_summary
    result = declaration_import_claim_details(declaration=d, data=_csv([("60576069342", "100000241223", "Failed", "X")]))
    d.refresh_from_db()
    assert result.nothing_matched and d.status == S.ACCEPTED and d.outcome_summary == summary


def test_the_shared_claim_details_sample_imports_as_accepted_with_errors(importer_org, own_importer, alice) -> None:
    from pathlib import Path

    # A committed copy of shared/samples/cape_claim_details_sample.csv (a clone need not have shared/ beside it).
    sample = Path(__file__).parent / "data" / "cape_claim_details_sample.csv"
    ok, failed = "3BZ55001204", "3BZ55001212"  # the two entries the sample lists, claim 100000241223
    a = eligible_entry(own_importer, entry_number=ok)
    b = eligible_entry(own_importer, entry_number=failed)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=d, user=alice)
    declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number="100000241223", user=alice)
    result = declaration_import_claim_details(declaration=d, data=sample.read_bytes(), filename=sample.name,
                                              accepted_on=date(2026, 5, 1), user=alice)
    d.refresh_from_db()
    assert not result.nothing_matched and (result.accepted, result.rejected) == (1, 1)
    assert result.unknown == [] and result.missing == [] and result.problems == []
    assert d.status == S.ACCEPTED_WITH_ERRORS and d.accepted_on == date(2026, 5, 1)
    items = {i.entry.entry_number: i for i in d.items.select_related("entry")}
    assert items[ok].outcome == "accepted" and items[ok].error_text == ""
    assert items[failed].outcome == "rejected" and items[failed].error_text == "HTS RELATIONSHIP MISMATCH"
    assert Classification.objects.get(entry=a).path == "filed"
    reasons = Classification.objects.get(entry=b).reasons
    assert "cape_rejected:HTS RELATIONSHIP MISMATCH" in reasons and "psc_then_refile" in reasons
