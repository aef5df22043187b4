"""Parser for the ACE REV-613 ACH Rejected Refunds report (CSV). No ORM here.

CBP has not published the column layout (domain README §5 names the report only), so headers are
matched by normalised name against the spellings in ach/data/rev613_columns.json. ACE Portal CSV
exports wrap text as ="..." (domain README §3, §5); amounts look like $2,567.49 or (2,567.49);
dates are MM/DD/YYYY, sometimes ISO. A few title lines may precede the header row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from entries import entrynumber

COLUMNS_FILE = Path(__file__).resolve().parent / "data" / "rev613_columns.json"
REQUIRED = ("importer_number", "amount")
HEADER_SEARCH_LINES = 15


def normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (header or "").lower())


@cache
def column_aliases() -> dict[str, str]:
    """normalised header -> field name."""
    data = json.loads(COLUMNS_FILE.read_text(encoding="utf-8"))
    return {normalise(alias): name for name, aliases in data.items() if not name.startswith("_") for alias in aliases}


def unguard(value: str) -> str:
    v = (value or "").strip()
    if v.startswith('="') and v.endswith('"'):
        v = v[2:-1]
    elif v.startswith("=") and len(v) > 1 and v[1:].replace(".", "").isdigit():
        v = v[1:]
    return v.strip()


def parse_amount(raw: str) -> Decimal:
    v = raw.replace("$", "").replace(",", "").replace(" ", "")
    negative = v.startswith("(") and v.endswith(")")
    if negative:
        v = v[1:-1]
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise ValueError("not an amount of money (expected e.g. $2,567.49)") from None
    if not amount.is_finite():
        raise ValueError("not an amount of money (expected e.g. $2,567.49)")
    amount = abs(amount).quantize(Decimal("0.01"))
    if amount == 0:
        raise ValueError("a rejected refund of $0.00 is not a refund")
    return amount


def parse_date(raw: str) -> date:
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y", "%m-%d-%Y", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date (expected MM/DD/YYYY)")


def parse_entry_number(raw: str) -> str:
    """The entry number as every other way in repairs it (entries.entrynumber), with a valid check digit."""
    v = entrynumber.repair(raw)
    if not entrynumber.is_valid(v):
        raise ValueError("not a valid 11-character entry number (filer code, serial, check digit)")
    return v


@dataclass(frozen=True)
class Rev613Error:
    file: str
    row: int | None
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass
class Rev613Row:
    row: int
    importer_number: str
    importer_column: str
    amount: Decimal
    reason: str = ""
    reference: str = ""
    rejected_on: date | None = None
    entry_number: str = ""
    importer_name: str = ""


@dataclass
class Rev613Parse:
    rows: list[Rev613Row] = field(default_factory=list)
    errors: list[Rev613Error] = field(default_factory=list)
    warnings: list[Rev613Error] = field(default_factory=list)
    rows_read: int = 0
    fatal: bool = False


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content.lstrip("\ufeff")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def parse_rev613(content: bytes | str, *, filename: str = "REV-613.csv") -> Rev613Parse:
    out = Rev613Parse()
    rows = list(csv.reader(io.StringIO(_decode(content), newline="")))
    aliases = column_aliases()
    header_index = None
    mapping: dict[str, int] = {}
    headers: list[str] = []
    for i, row in enumerate(rows[:HEADER_SEARCH_LINES]):
        found = {}
        for col, text in enumerate(row):
            name = aliases.get(normalise(unguard(text)))
            if name and name not in found:
                found[name] = col
        if all(r in found for r in REQUIRED):
            header_index, mapping, headers = i, found, [unguard(c) for c in row]
            break
    if header_index is None:
        expected = "; ".join(f"{r.replace('_', ' ')} (e.g. {json.loads(COLUMNS_FILE.read_text())[r][0]!r})" for r in REQUIRED)
        out.errors.append(Rev613Error(filename, None, "", "", f"no header row found in the first {HEADER_SEARCH_LINES} lines: "
                                      f"a REV-613 file needs columns for {expected}"))
        out.fatal = True
        return out

    def cell(row: list[str], name: str) -> str:
        col = mapping.get(name)
        return unguard(row[col]) if col is not None and col < len(row) else ""

    def header(name: str) -> str:
        return headers[mapping[name]] if name in mapping else name

    for i, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        if not any((c or "").strip() for c in row):
            continue
        first = unguard(row[0]) if row else ""
        if first.lower().startswith(("total", "grand total", "report total", "end of report", "record count")):
            continue  # summary lines under the data, not refunds
        out.rows_read += 1
        problems: list[Rev613Error] = []
        raw_ir = cell(row, "importer_number")
        ir = ""
        try:
            ir = canonical_ir_number(raw_ir)
        except InvalidIRNumber as exc:
            problems.append(Rev613Error(filename, i, header("importer_number"), raw_ir, exc.reason if raw_ir else "the importer number is blank"))
        raw_amount = cell(row, "amount")
        amount = Decimal("0")
        try:
            amount = parse_amount(raw_amount) if raw_amount else Decimal("0")
            if not raw_amount:
                raise ValueError("the amount is blank")
        except ValueError as exc:
            problems.append(Rev613Error(filename, i, header("amount"), raw_amount, str(exc)))
        rejected_on = None
        raw_date = cell(row, "rejected_on")
        if raw_date:
            try:
                rejected_on = parse_date(raw_date)
            except ValueError as exc:
                problems.append(Rev613Error(filename, i, header("rejected_on"), raw_date, str(exc)))
        entry_number = ""
        raw_entry = cell(row, "entry_number")
        if raw_entry:
            try:
                entry_number = parse_entry_number(raw_entry)
            except ValueError as exc:
                # The rejection itself is still good: keep it, without the entry number, and say so.
                out.warnings.append(Rev613Error(filename, i, header("entry_number"), raw_entry, f"{exc}; imported without it"))
        if problems:
            out.errors.extend(problems)
            continue
        out.rows.append(Rev613Row(
            row=i, importer_number=ir, importer_column=header("importer_number"), amount=amount,
            reason=cell(row, "reason")[:300], reference=cell(row, "reference")[:80], rejected_on=rejected_on,
            entry_number=entry_number, importer_name=cell(row, "importer_name")[:200],
        ))
    return out
