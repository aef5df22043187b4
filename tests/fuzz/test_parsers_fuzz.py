"""Hypothesis fuzzing of the two parsers of outside files: ES-003 (entries/ingest/) and CAPE Claim
Details (cape/claims.py). Whatever the bytes, a parser either reads the file or raises its own
file-level error; a bad value is a row error naming the row and column; nothing else escapes.
Bounded (max_examples) so the suite stays fast; no database.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cape.claims import ReportFileError, parse_claim_details, parse_refund_report
from entries.ingest.parser import Es003Parser, ParseResult
from entries.ingest.repairs import RepairError, parse_date, parse_entry_number, parse_hts, parse_money
from entries.ingest.source import Es003FileError, Es003Source
from entries.samplegen import EXTENDED_COLUMNS, es003_rows, write_csv

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


# Cells as spreadsheets hold them: text of every kind (guards, formulas, currency, dates, control
# characters, Unicode digits, huge numbers), numbers, blanks. No filters: the crashes the fuzzing found
# (Unicode digits, amounts of 28+ digits, out-of-range serials) are fixed and kept in test_parser_regressions.py.
_cell_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789²١٢۳߀१.,-", min_size=1, max_size=40),
    st.sampled_from(
        [
            '="00261103162"',
            "=1+1",
            "$1,234.56",
            "(12.00)",
            "-0.00",
            "1e308",
            "NaN",
            "inf",
            "02/30/2025",
            "2025-13-01",
            "00/00/0000",
            "99030125",
            "9903.01.25",
            "",
            " ",
            "\x00",
            "\r",
            '"',
            "'",
            "@SUM(1)",
            "93-417726100",
            "123-45-6789",
            "3BZ-5500000-8",
            "A" * 300,
            "9" * 40,
            "1" + "0" * 28 + ".5",
            "3BZ5500000²",
        ]
    ),
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def _parse_file(path: Path) -> tuple[int, int]:
    """Run the file through the real source and parser; return (lines, errors)."""
    try:
        source = Es003Source(path)
    except Es003FileError as exc:
        assert str(exc), "a file error must say why"
        return 0, 0
    parser = Es003Parser(source.layout, file_label=path.name)
    lines = 0
    for row_no, row in source.rows():
        if parser.feed(row_no, row) is not None:
            lines += 1
    result = parser.finish()
    for error in result.errors:
        assert error["file"] == path.name and error["row"] >= 1 and error["column"] and error["reason"], error
    list(result.entry_rows())
    return lines, result.errors_total


@FUZZ
@given(rows=st.lists(st.lists(_cell_text, min_size=0, max_size=len(EXTENDED_COLUMNS) + 3), max_size=12))
def test_es003_rows_of_any_text_never_crash_the_parser(rows, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fz") / "fuzz.csv"
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(EXTENDED_COLUMNS)
    w.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8", errors="replace")
    _parse_file(path)


def _parse_rows(path: Path) -> tuple[ParseResult, Counter[str]]:
    """The parse result and, per entry the parser kept, how many of its lines it staged."""
    source = Es003Source(path)
    parser = Es003Parser(source.layout, file_label=path.name)
    staged: Counter[str] = Counter()
    for row_no, row in source.rows():
        line = parser.feed(row_no, row)
        if line is not None:
            staged[line[0]] += 1
    result = parser.finish()
    return result, Counter({n: c for n, c in staged.items() if n in result.entries})


_GOOD_ROWS = list(es003_rows(20, seed=5))
_ENTRY_COL = EXTENDED_COLUMNS.index("Entry Summary Number")


@FUZZ
@given(column=st.sampled_from(EXTENDED_COLUMNS), value=_cell_text, index=st.integers(min_value=0, max_value=19))
def test_one_bad_value_in_a_good_report_is_a_row_error_and_loses_nothing_else(
    column, value, index, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("fz")
    clean, clean_lines = _parse_rows(write_csv(base / "clean.csv", _GOOD_ROWS))
    assert not clean.errors_total and sum(clean_lines.values()) == 20

    rows = [list(r) for r in _GOOD_ROWS]
    rows[index][_ENTRY_COL if column == "Entry Summary Number" else EXTENDED_COLUMNS.index(column)] = value
    bad_path = write_csv(base / "one_bad.csv", rows)
    if "\x00" in value:
        # A NUL byte marks a binary file (entries.ingest.source.Es003Source): the whole file is refused, with a clear message.
        with pytest.raises(Es003FileError, match="neither a CSV text file nor an XLSX workbook"):
            Es003Source(bad_path)
        return
    result, lines = _parse_rows(bad_path)

    # The entries the changed row can touch: its own, and (when the entry number itself changed) the one it now names.
    touched = {str(_GOOD_ROWS[index][_ENTRY_COL])}
    if column == "Entry Summary Number":
        try:
            touched.add(parse_entry_number(value))
        except RepairError:
            pass
    bad_row = index + 2  # the header is row 1
    row_entry = {k + 2: str(r[_ENTRY_COL]) for k, r in enumerate(_GOOD_ROWS)}

    # Every other entry still loads, whole and unchanged.
    for number in set(clean.entries) - touched:
        assert number in result.entries, (number, result.errors[:3])
        assert lines[number] == clean_lines[number]
        assert result.entries[number] == clean.entries[number]
    # Errors name only the changed row or rows of the entries it touches, each with file, column and reason.
    for error in result.errors:
        assert error["file"] == "one_bad.csv" and error["column"] and error["reason"], error
        assert error["row"] == bad_row or row_entry.get(error["row"]) in touched, error
    assert result.errors_total == len(result.errors)
    if result.errors_total:
        # The bad value is held back: its row is rejected and the entry it belongs to is not loaded.
        assert bad_row in result.rejected_rows, result.errors
        # (A row whose entry number cannot be read belongs to no entry, so its neighbours' entry still loads without
        # it: reported to the ES-003 owner as a gap, since that entry's duty is then understated.)
        assert not (touched & set(result.entries)) or column == "Entry Summary Number", (touched, result.errors)
    else:
        # A value the parser accepts: nothing is lost, every line still loads.
        assert sum(lines.values()) + result.duplicates == 20, (lines, result.warnings)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_es003_arbitrary_bytes_are_a_file_error_or_a_parse(data, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fz") / "bytes.csv"
    header = ",".join(EXTENDED_COLUMNS).encode() + b"\r\n"
    path.write_bytes(header + data)
    _parse_file(path)
    path.write_bytes(data)
    _parse_file(path)


@FUZZ
@given(
    value=st.one_of(
        _cell_text,
        st.none(),
        st.dates(),
        st.booleans(),
        # any number a workbook cell can hold, including out-of-range serials and amounts, NaN and infinities
        st.floats(),
        st.integers(),
        st.decimals(),
    )
)
def test_es003_repairs_raise_only_repair_errors(value) -> None:  # type: ignore[no-untyped-def]
    for repair in (parse_money, parse_date, parse_entry_number, parse_hts):
        try:
            repair(value)
        except RepairError as exc:
            assert str(exc)


_CLAIM_STATUS = st.sampled_from(["ACCEPTED", "Rejected", "accepted with errors", "REJECTED", "???", ""])


@FUZZ
@given(
    rows=st.lists(st.tuples(_cell_text, _cell_text, st.one_of(_CLAIM_STATUS, _cell_text), _cell_text), max_size=15),
    title=st.lists(st.text(max_size=20), max_size=3),
)
def test_claim_details_of_any_text_never_crash(rows, title) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    w = csv.writer(out)
    for t in title:
        w.writerow([t])
    w.writerow(["ENTRY_NUMBER", "CLAIM_NUMBER", "STATUS", "ERROR_DESCRIPTION"])
    w.writerows(rows)
    data = out.getvalue().encode("utf-8", errors="replace")
    try:
        result = parse_claim_details(data, "claims.csv")
    except ReportFileError as exc:
        assert "claims.csv" in str(exc)
        return
    assert len({r.entry_number for r in result.rows}) == len(result.rows)  # one row per entry: the later wins
    for p in result.problems:
        assert p.as_dict()["row"] >= 1
    for r in result.rows:
        assert len(r.entry_number) == 11 and r.outcome in {"accepted", "rejected"}


@FUZZ
@given(data=st.binary(max_size=4096))
def test_claim_details_and_refund_reports_of_arbitrary_bytes(data) -> None:  # type: ignore[no-untyped-def]
    for parse in (
        lambda d: parse_claim_details(d, "x.csv"),
        lambda d: parse_refund_report(d, "rev603", "x.csv"),
        lambda d: parse_refund_report(d, "rev615", "x.csv"),
    ):
        for payload in (data, b"ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n" + data):
            try:
                parse(payload)
            except ReportFileError:
                pass
