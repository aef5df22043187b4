"""Each repair the ES-003 parser makes, on the plain functions (no database)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from entries.hts import ieepa_prefixes, is_ieepa_line
from entries.ingest.repairs import (
    RepairError,
    normalise_header,
    parse_date,
    parse_entry_number,
    parse_entry_type,
    parse_hts,
    parse_ir_number,
    parse_liquidation_status,
    parse_money,
    unguard,
)
from entries.ingest.source import HEADER_MAP, Es003FileError, find_layout


def test_it_removes_ace_text_guards() -> None:
    assert unguard('="60576069342"') == "60576069342"
    assert unguard("'00261103162") == "00261103162"
    assert unguard("  plain ") == "plain"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("$2,567.49", "2567.49"), ("FREE", "0.00"), ("free", "0.00"), ("", "0.00"), ("(12.00)", "-12.00"),
     ("($1,200.50)", "-1200.50"), ("-3.5", "-3.50"), ("1200", "1200.00"), ('="$40.00"', "40.00"), (2567.49, "2567.49"),
     (0.1, "0.10"), (1200, "1200.00")],
)
def test_it_repairs_money(raw: object, expected: str) -> None:
    assert parse_money(raw) == expected


def test_a_blank_goods_value_stays_unknown_but_a_blank_duty_is_zero() -> None:
    assert parse_money("", blank=None) is None
    assert parse_money("") == "0.00"


@pytest.mark.parametrize("raw", ["12,00 EUR", "abc", "=1+2", "$1.2.3"])
def test_it_refuses_what_is_not_an_amount(raw: str) -> None:
    with pytest.raises(RepairError):
        parse_money(raw)


def test_a_formula_is_never_evaluated() -> None:
    with pytest.raises(RepairError, match="never evaluated"):
        parse_money("=SUM(A1:A3)")
    with pytest.raises(RepairError, match="never evaluated"):
        parse_entry_number("=A1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("03/02/2026", date(2026, 3, 2)), ("3/2/2026", date(2026, 3, 2)), ("03/02/26", date(2026, 3, 2)),
     ("2026-03-02", date(2026, 3, 2)), ("2026-03-02T00:00:00", date(2026, 3, 2)), ("2026-03-02 00:00:00", date(2026, 3, 2)),
     (date(2026, 3, 2), date(2026, 3, 2)), (datetime(2026, 3, 2, 0, 0), date(2026, 3, 2)),
     (46083.0, date(2026, 3, 2)), ("46083", date(2026, 3, 2)), ("", None)],
)
def test_it_repairs_dates(raw: object, expected: date | None) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["13/45/2026", "2026-02-30", "next week", "02/30/2026", "01/01/1850"])
def test_it_refuses_impossible_dates(raw: str) -> None:
    with pytest.raises(RepairError):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("9903.01.25", "99030125"), ("99030125", "99030125"), ("3923.90.0080", "3923900080"), (3923900080.0, "3923900080"),
     (101210010.0, "0101210010"), ("0101.21.00.10", "0101210010"), ('="8516797000"', "8516797000")],
)
def test_it_repairs_hts_numbers(raw: object, expected: str) -> None:
    assert parse_hts(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('="60576069342"', "60576069342"), ("605-7606934-2", "60576069342"), ("605 7606934 2", "60576069342"),
     ("261103162", "00261103162"), (261103162.0, "00261103162"), ("6.0576069342E10", "60576069342"),
     (60576069342.0, "60576069342"), ("60576069342.0", "60576069342"), ("3bz-5500120-4", "3BZ55001204")],
)
def test_it_repairs_entry_numbers(raw: object, expected: str) -> None:
    assert parse_entry_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "3BZ5500120", "3BZ-55001-2045", "ABCDEFGHIJK", "605760693421"])
def test_it_refuses_entry_numbers_it_cannot_repair(raw: str) -> None:
    with pytest.raises(RepairError):
        parse_entry_number(raw)


def test_a_wrong_check_digit_is_not_a_repair_error() -> None:
    assert parse_entry_number("60576069343") == "60576069343"


@pytest.mark.parametrize(("raw", "expected"), [("1", "01"), (1.0, "01"), ("01", "01"), ('="11"', "11"), ("21", "21")])
def test_it_pads_entry_types(raw: object, expected: str) -> None:
    assert parse_entry_type(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("93-417726100", "93-417726100"), ("93417726100", "93-417726100"), ('="93-417726100"', "93-417726100"),
     (93417726100.0, "93-417726100"), ("123-45-6789", "123-45-6789"), ("123456789", "123-45-6789"),
     ("250101-12345", "250101-12345"), ("3417726100", "03-417726100")],
)
def test_it_canonicalises_importer_numbers(raw: object, expected: str) -> None:
    assert parse_ir_number(raw) == expected


def test_it_refuses_an_invalid_importer_number() -> None:
    with pytest.raises(RepairError, match="importer number"):
        parse_ir_number("93-4177261")


def test_liquidation_statuses_map_and_keep_their_raw_text() -> None:
    assert parse_liquidation_status("Liquidated") == ("liquidated", "Liquidated")
    assert parse_liquidation_status("UNLIQUIDATED") == ("unliquidated", "UNLIQUIDATED")
    assert parse_liquidation_status("Under Review") == ("under_review", "Under Review")
    assert parse_liquidation_status("Something new") == ("unknown", "Something new")


@pytest.mark.parametrize(
    ("header", "field"),
    [("Entry Summary Number", "entry_number"), ("ENTRY SUMMARY NUMBER", "entry_number"), ("entry_summary_number", "entry_number"),
     ("HTS Number - Full", "hts"), ("HTS Number Full", "hts"), ("Line Tariff Duty Amount", "duty"), ("Line Duty Amount", "duty"),
     ("Line Tariff Amount", "duty"), ("Line Goods Value Amount", "goods_value"), ("Line Tariff Goods Value Amount", "goods_value"),
     ("Liquidation Status", "liquidation_status"), ("Reconciliation Indicator", "recon_flag"), ("Tariff Ordinal Number", "ordinal")],
)
def test_headers_match_by_normalised_name(header: str, field: str) -> None:
    assert HEADER_MAP[normalise_header(header)] == field


def test_the_header_is_found_below_title_lines() -> None:
    rows = [(1, ["ES-003 Entry Summary Line Tariff Details"]), (2, ["Run date 05/01/2026"]), (3, []),
            (4, ["Entry Summary Number", "Entry Type Code", "Importer Number", "Entry Date", "HTS Number - Full", "Line Duty Amount"])]
    layout = find_layout(rows, file_label="x.csv")
    assert layout.header_row == 4
    assert layout.columns["duty"] == 5
    assert not layout.has_liquidation_columns


def test_a_file_without_the_required_columns_names_them_and_the_headers_found() -> None:
    rows = [(1, ["ENTRY_NUMBER", "CLAIM_NUMBER", "STATUS", "ERROR_DESCRIPTION"])]
    with pytest.raises(Es003FileError) as exc:
        find_layout(rows, file_label="claims.csv")
    message = str(exc.value)
    assert "not an ES-003" in message
    assert "HTS Number - Full" in message and "Line Tariff Duty Amount" in message and "Entry Type Code" in message
    assert '"CLAIM_NUMBER"' in message


def test_ieepa_lines_are_9903_01_and_9903_02_headings_with_positive_duty() -> None:
    assert ieepa_prefixes() == ("990301", "990302")
    assert is_ieepa_line("9903.01.25", "1200.00")
    assert is_ieepa_line("99030201", "5")
    assert not is_ieepa_line("99030132", "0.00")  # an exception heading with no duty
    assert not is_ieepa_line("99038815", "750.00")  # Section 301
    assert not is_ieepa_line("99030301", "10.00")  # Section 122
    assert not is_ieepa_line("8516797000", "10.00")
