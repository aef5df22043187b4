"""Drafting protests from the protest path: grouping, order, lead, split, what is left out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditLog
from cape.models import Classification
from protests import documents
from protests.models import Protest, ProtestEntry
from protests.services import protest_drafts_build, protest_export
from tests.factories import EntryFactory, ImporterFactory, entry_number_with_check_digit
from tests.protests.factories import classify, protest_entry

pytestmark = pytest.mark.django_db
NUMBER = entry_number_with_check_digit("BHX0000002")


def test_one_protest_per_importer_ordered_by_deadline_with_the_earliest_as_lead(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    other = ImporterFactory(owner=importer_org, name="Second Importer")
    late = protest_entry(own_importer, importer_org, days_ago=90)
    early = protest_entry(own_importer, importer_org, days_ago=170)
    middle = protest_entry(own_importer, importer_org, days_ago=120, port="1001")
    theirs = protest_entry(other, importer_org, days_ago=100)
    classify(importer_org)

    result = protest_drafts_build(organization=importer_org, user=alice)

    assert len(result.protests) == 2
    mine = Protest.objects.get(importer=own_importer)
    items = list(ProtestEntry.objects.filter(protest=mine).order_by("position").values_list("entry_id", "lead"))
    assert items == [(early.pk, True), (middle.pk, False), (late.pk, False)]
    cls = Classification.objects.get(entry=early)
    assert mine.deadline == cls.protest_deadline
    assert mine.status == Protest.Status.DRAFT and mine.entry_count == 3 and mine.line_count == 6
    assert mine.ieepa_duty == Decimal("450.00")
    expected_interest = sum((Classification.objects.get(entry=e).estimated_interest for e in (early, middle, late)), Decimal("0"))
    assert expected_interest > 0 and mine.estimated_interest == expected_interest
    assert mine.port_code == "2704" and mine.center_team == ""
    assert mine.reason_text == documents.DEFAULT_REASON
    assert list(Protest.objects.get(importer=other).items.values_list("entry_id", flat=True)) == [theirs.pk]
    assert AuditLog.objects.filter(action="protest.draft", organization=importer_org).count() == 2


def test_entries_already_on_a_protest_or_under_protest_or_past_their_deadline_are_left_out(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    first = protest_entry(own_importer, importer_org, days_ago=100)
    pending = protest_entry(own_importer, importer_org, days_ago=100, protest_status="open", protest_number="270426100001")
    cape = EntryFactory(organization=importer_org, importer=own_importer)  # unliquidated: CAPE Phase 1
    classify(importer_org)
    assert Classification.objects.get(entry=pending).path == "protest"  # R5, but protested already
    assert Classification.objects.get(entry=cape).path == "cape_phase1"
    protest_drafts_build(organization=importer_org, user=alice)

    second = protest_entry(own_importer, importer_org, days_ago=130)
    classify(importer_org)
    again = protest_drafts_build(organization=importer_org, user=alice)
    assert [p.entry_count for p in again.protests] == [1]
    assert list(again.protests[0].items.values_list("entry_id", flat=True)) == [second.pk]
    assert again.left_out == [{"entry_number": first.entry_number, "reason": f"Already on protest {Protest.objects.order_by('pk').first().pk}."}]

    # A deadline that passed since classification (the nightly run has not moved the entry yet).
    Classification.objects.filter(entry=second).update(protest_deadline=Classification.objects.get(entry=second).as_of.replace(year=2020))
    Protest.objects.filter(pk=again.protests[0].pk).delete()
    third = protest_drafts_build(organization=importer_org, user=alice)
    assert third.protests == []
    passed = [x for x in third.left_out if x["entry_number"] == second.entry_number]
    assert len(passed) == 1 and "has passed" in passed[0]["reason"]


def test_an_importer_with_many_entries_is_split_so_each_spreadsheet_stays_under_the_budget(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    entries = [protest_entry(own_importer, importer_org, days_ago=90 + n) for n in range(7)]
    classify(importer_org)
    one_entry = sum(documents.line_bytes(line) for line in _lines(entries[0]))
    budget = documents.header_bytes() + 3 * one_entry  # three entries fit, not four
    result = protest_drafts_build(organization=importer_org, user=alice, budget=budget)
    assert [p.entry_count for p in result.protests] == [3, 3, 1]
    from protests.exports import protest_csv, protest_xlsx

    for p in result.protests:
        data = protest_csv(p)
        assert len(data) == p.spreadsheet_bytes <= budget
        assert len(protest_xlsx(p)) < documents.ACE_ATTACHMENT_LIMIT
    # In deadline order across the split: the first protest holds the earliest deadlines, each led by its own.
    deadlines = [p.deadline for p in result.protests]
    assert deadlines == sorted(deadlines)
    assert all(p.items.get(lead=True).position == 1 for p in result.protests)


def _lines(entry):  # type: ignore[no-untyped-def]
    from protests.selectors import sheet_lines

    return sheet_lines([{"id": entry.pk, "entry_number": entry.entry_number, "liquidation_date": entry.liquidation_date,
                         "port_code": entry.port_code}])[entry.pk]


def test_a_broker_drafts_only_for_importers_it_may_see(bob, broker_org, own_importer, charlie) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import ServiceError

    protest_entry(own_importer, broker_org)
    classify(broker_org)
    result = protest_drafts_build(organization=broker_org, user=bob, importer_ids=[own_importer.pk])
    assert len(result.protests) == 1
    outsider_importer = charlie.memberships.get().organization.owned_importers.get()
    with pytest.raises(ServiceError):
        protest_drafts_build(organization=broker_org, user=bob, importer_ids=[outsider_importer.pk])


def test_an_entry_on_an_exported_protest_of_another_organisation_is_left_out(alice, importer_org, own_importer, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    protest_entry(own_importer, importer_org, entry_number=NUMBER)
    classify(importer_org)
    mine = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    protest_export(protest=mine, user=alice)
    # The broker sees the same entry (one record per entry number, issue 18), already on the importer's protest.
    classify(broker_org)
    result = protest_drafts_build(organization=broker_org, user=bob)
    assert result.protests == []
    assert result.left_out[0]["reason"] == "Already on a protest of another organisation that files for this importer."
