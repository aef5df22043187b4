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


def test_every_spelling_is_one_of_the_codes_the_ruleset_reads() -> None:
    from cape.rules import LIQUIDATION_STATUSES
    from entries.ingest.repairs import LIQUIDATION_STATUSES as SPELLING_TABLE
    from entries.ingest.repairs import normalise_liquidation_status, parse_liquidation_status

    for raw, expected in SPELLINGS:
        assert parse_liquidation_status(raw)[0] == normalise_liquidation_status(raw) == expected
    assert set(SPELLING_TABLE.values()) | {"unknown"} == LIQUIDATION_STATUSES
    for code in LIQUIDATION_STATUSES:  # a code is its own spelling
        assert normalise_liquidation_status(code) == code


@pytest.mark.parametrize(
    "raw,code",
    [("Unliquidated", "unliquidated"), ("OPEN", "unliquidated"), ("not liquidated", "unliquidated"),
     ("Liquidated", "liquidated"), ("closed", "liquidated"), ("Suspended", "suspended"), ("EXTENDED", "extended"),
     ("Under Review", "under_review"), ("in review", "under_review"), ("Final", "final"),
     ("Finally Liquidated", "final"), ("  finally   liquidated ", "final"), ("Pending", "unknown"), ("", "unknown"),
     (None, "unknown"), ("Liquidated?", "unknown"), ("Pending Liquidation", "unliquidated"),
     ("FINAL LIQUIDATION", "final"), ("Deemed Liquidated", "liquidated"), (" reliquidated ", "liquidated")],
)
def test_each_status_spelling_maps_case_insensitively(raw: str | None, code: str) -> None:
    from entries.ingest.repairs import normalise_liquidation_status

    assert normalise_liquidation_status(raw) == code
