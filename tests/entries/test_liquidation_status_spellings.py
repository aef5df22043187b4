"""Liquidation Status spellings: ingestion stores exactly what shared/domain/rules.md "Inputs" says."""

from __future__ import annotations

import pytest

from entries.models import Entry, Upload
from entries.samplegen import Text, entry_number
from tests.entries.conftest import sample_row

pytestmark = pytest.mark.django_db

# rules.md "Inputs": every spelling it lists, plus values it does not list (anything else → unknown).
SPELLINGS = [
    ("Unliquidated", "unliquidated"), ("Open", "unliquidated"), ("Not Liquidated", "unliquidated"),
    ("Liquidated", "liquidated"), ("Closed", "liquidated"),
    ("Suspended", "suspended"),
    ("Extended", "extended"),
    ("Under Review", "under_review"), ("In Review", "under_review"),
    ("Final", "final"), ("Finally Liquidated", "final"),
    # case-insensitive, and the spacing ACE cells sometimes carry
    ("UNLIQUIDATED", "unliquidated"), ("in review", "under_review"), ("  finally   LIQUIDATED ", "final"),
    # ruleset 2026.12 spellings
    ("Pending Liquidation", "unliquidated"), ("Final Liquidation", "final"), ("Deemed Liquidated", "liquidated"),
    ("Reliquidated", "liquidated"),
    # not in rules.md: unknown (an earlier ingestion table called this unliquidated)
    ("Pending", "unknown"), ("Bonded", "unknown"),
]


def test_every_rules_md_spelling_is_stored_as_its_status_through_csv_ingestion(write_es003, importer_org, alice, ingest) -> None:
    numbers = [entry_number("002", 6110000 + i) for i in range(len(SPELLINGS))]
    rows = [sample_row(**{"Entry Summary Number": Text(n), "Liquidation Status": raw})
            for n, (raw, _) in zip(numbers, SPELLINGS, strict=True)]
    upload = ingest(write_es003(rows, name="statuses.csv"), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    assert upload.summary["rows_rejected"] == 0, upload.errors

    stored = {e.entry_number: (e.liquidation_status, e.liquidation_status_raw) for e in Entry.objects.all()}
    # the status as rules.md maps it, and the raw text as the report wrote it (trimmed)
    assert [stored[n] for n in numbers] == [(expected, raw.strip()) for raw, expected in SPELLINGS]


def test_unlisted_statuses_are_unknown_with_the_existing_warning(write_es003, importer_org, alice, ingest) -> None:
    rows = [sample_row(**{"Entry Summary Number": Text(entry_number("002", 6120001)), "Liquidation Status": "Pending"}),
            sample_row(**{"Entry Summary Number": Text(entry_number("002", 6120002)), "Liquidation Status": "Bonded"}),
            sample_row(**{"Entry Summary Number": Text(entry_number("002", 6120003)), "Liquidation Status": "Closed"})]
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    warned = [w for w in upload.warnings if w.startswith("Liquidation Status")]
    assert warned == [
        'Liquidation Status "Bonded" is not one we recognise (1 row(s)); those entries are stored with status unknown.',
        'Liquidation Status "Pending" is not one we recognise (1 row(s)); those entries are stored with status unknown.',
    ]


def test_ingestion_and_the_ruleset_share_one_spelling_table() -> None:
    from cape.rules import normalize_liquidation_status
    from entries.es003 import parse_liquidation_status

    for raw, expected in SPELLINGS:
        assert parse_liquidation_status(raw)[0] == normalize_liquidation_status(raw) == expected
