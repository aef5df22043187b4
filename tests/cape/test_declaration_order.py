"""CAPE files list entries in the same order on PostgreSQL and SQLite: window dates first (soonest first),
entries without a window (unliquidated) last, then by entry number; so a split over several files is the same."""

from __future__ import annotations

from datetime import date

import pytest

from cape import declarations
from cape.declarations import declaration_plan
from cape.models import Classification
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db


def test_entries_without_a_window_come_last_and_the_split_follows(importer_org, own_importer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    entries = [eligible_entry(own_importer) for _ in range(4)]
    soon, later = date(2026, 12, 1), date(2026, 12, 20)
    Classification.objects.filter(entry=entries[1]).update(cape_window_closes=later)
    Classification.objects.filter(entry=entries[3]).update(cape_window_closes=soon)
    Classification.objects.filter(entry__in=[entries[0], entries[2]]).update(cape_window_closes=None)
    split = declarations.split_for_declarations
    monkeypatch.setattr(declarations, "split_for_declarations", lambda rows: split(rows, 2))  # two per file
    plan = declaration_plan(organization=importer_org, entry_ids=[e.pk for e in entries])
    files = [[row[1] for row in chunk] for chunk in plan.chunks[own_importer.pk]]
    assert files == [[entries[3].entry_number, entries[1].entry_number],
                     [entries[0].entry_number, entries[2].entry_number]]
