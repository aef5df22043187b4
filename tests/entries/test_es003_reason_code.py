"""ES-003 optional column Liquidation Reason Code (ruleset 2026.12 R3): read as a number when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from entries.ingest.repairs import RepairError, parse_reason_code
from entries.models import Entry
from entries.samplegen import EXTENDED_COLUMNS, Text, entry_number, write_csv, write_xlsx
from tests.cape.test_classify_es003 import _cape_rows

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw,code", [("36", 36), ("036", 36), ("36.0", 36), (36.0, 36), ("", None), (None, None)])
def test_the_code_is_read_as_a_number(raw: object, code: int | None) -> None:
    assert parse_reason_code(raw) == code


def test_a_code_that_is_not_a_number_is_an_error() -> None:
    with pytest.raises(RepairError, match="whole number"):
        parse_reason_code("CAPE")


@pytest.mark.parametrize("writer,suffix", [(write_csv, "csv"), (write_xlsx, "xlsx")])
def test_an_es003_with_the_column_sends_code_36_entries_to_filed(tmp_path: Path, writer, suffix: str) -> None:  # type: ignore[no-untyped-def]
    numbers = [entry_number("3BZ", 7200000 + i) for i in range(3)]
    rows = [[*row, Text(code)] for row, code in zip(_cape_rows(3, raw_numbers=numbers), ["036", "", "12"], strict=True)]
    es003 = writer(tmp_path / f"es003.{suffix}", rows, header=[*EXTENDED_COLUMNS, "Liquidation Reason Code"])
    out = tmp_path / "out.json"
    call_command("classify_es003", str(es003), "--as-of", "2026-11-22", "--json", str(out))
    got = {e["entry_number"]: e["path"] for e in json.loads(out.read_text())["entries"]}
    assert got == {numbers[0]: "filed", numbers[1]: "cape_phase1", numbers[2]: "cape_phase1"}
    assert dict(Entry.objects.values_list("entry_number", "liquidation_reason_code")) == {
        numbers[0]: 36, numbers[1]: None, numbers[2]: 12}


@pytest.mark.parametrize("raw,flag", [("Y", True), ("yes", True), ("TRUE", True), ("1", True), (1.0, True), (True, True),
                                      ("T", False), ("X", False), ("N", False), ("", False), (None, False)])
def test_the_reconciliation_indicator_spellings(raw: object, flag: bool) -> None:
    from entries.ingest.repairs import parse_recon_flag

    assert parse_recon_flag(raw) is flag
