"""Crashes the fuzzing found in entries/ingest/ (the ES-003 parsing), kept as regression tests now that they are fixed.

A single out-of-range number in an XLSX date or money cell escapes the repairs as OverflowError,
ValueError or decimal.InvalidOperation, and the whole upload failed as an "unexpected error" instead of
that one row being reported (file, row, column, value, why) and the rest loading.
"""

from __future__ import annotations

import pytest

from entries.ingest.parser import Es003Parser
from entries.ingest.repairs import RepairError, parse_date, parse_money
from entries.ingest.source import Es003Source
from entries.samplegen import EXTENDED_COLUMNS, es003_rows, write_xlsx

CASES = [
    ("Entry Date", 1e10),
    ("Liquidation Date", -5e9),
    ("Entry Summary Date", float("nan")),
    ("Line Tariff Duty Amount", 1e300),
    ("Line Tariff Duty Amount", float("inf")),
    ("Line Tariff Goods Value Amount", 1e15),  # finite, but over numeric(16,2): the database would refuse it
]


@pytest.mark.parametrize(("column", "value"), CASES)
def test_an_out_of_range_number_in_an_xlsx_cell_is_a_row_error(column, value, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = list(es003_rows(12, seed=5))
    rows[3][EXTENDED_COLUMNS.index(column)] = value
    path = write_xlsx(tmp_path / "bad_number.xlsx", rows)
    source = Es003Source(path)
    parser = Es003Parser(source.layout, file_label=path.name)
    lines = [line for n, r in source.rows() if (line := parser.feed(n, r)) is not None]
    result = parser.finish()
    assert any(e["row"] == 5 and e["column"] == column for e in result.errors), result.errors
    assert lines, "the other entries still load"
    assert all(abs(float(line[5] or 0)) < 1e14 for line in lines)


@pytest.mark.parametrize("value", [1e10, -1e10, -800_000, float("nan"), float("inf"), 10**30])
def test_parse_date_refuses_impossible_serial_numbers_with_a_repair_error(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RepairError):
        parse_date(value)


@pytest.mark.parametrize("value", [1e300, float("inf"), float("nan"), 10**30, 1e15, "9" * 30, "1" + "0" * 28 + ".5"])
def test_parse_money_refuses_impossible_numbers_with_a_repair_error(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RepairError):
        parse_money(value)


# str.isdigit() and the regex \d accept Unicode digits such as '²' or Arabic-Indic digits, which int() refuses.
@pytest.mark.parametrize(
    ("column", "value"),
    [("Entry Summary Line Number", "²"), ("Tariff Ordinal Number", "١"), ("Entry Summary Number", "3BZ5500000²")],
)
def test_a_unicode_digit_in_a_csv_cell_is_a_row_error(column, value, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from entries.samplegen import write_csv

    rows = list(es003_rows(12, seed=5))
    rows[3][EXTENDED_COLUMNS.index(column)] = value
    path = write_csv(tmp_path / "unicode_digit.csv", rows)
    source = Es003Source(path)
    parser = Es003Parser(source.layout, file_label=path.name)
    lines = [line for n, r in source.rows() if (line := parser.feed(n, r)) is not None]
    result = parser.finish()
    assert result.errors and lines


# Hypothesis drew "0,0" as the one bad goods value of a 20-row report whose amounts use decimal points: the decimal
# separator detection refused the whole file as mixing point and comma, where one odd cell should be a row error.
@pytest.mark.parametrize("value", ["0,0", "850,00", "1,5"])
@pytest.mark.parametrize("column", ["Line Tariff Goods Value Amount", "Line Tariff Duty Amount", "Line Tariff Quantity (1)"])
def test_one_decimal_comma_in_a_report_of_decimal_points_is_a_row_error(column, value, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from entries.samplegen import write_csv

    rows = [list(r) for r in es003_rows(20, seed=5)]
    rows[7][EXTENDED_COLUMNS.index(column)] = value
    path = write_csv(tmp_path / "one_bad.csv", rows)
    source = Es003Source(path)
    assert source.layout.decimal == "."
    parser = Es003Parser(source.layout, file_label=path.name)
    for n, r in source.rows():
        parser.feed(n, r)
    result = parser.finish()
    assert [(e["row"], e["column"], e["value"]) for e in result.errors] == [(9, column, value)]
    assert "decimal comma" in result.errors[0]["reason"]
    assert 9 in result.rejected_rows
    assert str(rows[7][EXTENDED_COLUMNS.index("Entry Summary Number")]) not in result.entries
    assert len(result.entries) == len({r[0] for r in rows}) - 1
