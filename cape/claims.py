"""Parsers for what CBP sends back (no ORM): CAPE Claim Details and REV-603 / REV-615 refund reports.

Shapes: shared/domain/README.md §5 (ACE Portal exports wrap text as ``="..."``; CAPE Claim Details
header ``ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION``) and
shared/samples/cape_claim_details_sample.csv. The header spellings and status words that CBP has not
published live in cape/data/cape_declarations.json. Every bad row is reported with file, row,
column, value and why; good rows are kept.
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

from entries import entrynumber

DATA_FILE = Path(__file__).resolve().parent / "data" / "cape_declarations.json"


@cache
def cape_data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def psc_errors() -> frozenset[str]:
    return frozenset(e.upper() for e in cape_data()["psc_errors"])


def needs_psc(error_text: str) -> bool:
    """True when CBP's error is one a post-summary correction fixes (rules.md: psc_then_refile)."""
    return normalise_status(error_text) in psc_errors()


@dataclass
class Problem:
    file: str
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


class ReportFileError(ValueError):
    """The file as a whole cannot be read (not CSV, wrong report, missing columns)."""


# ----------------------------------------------------------------------------- cell repair
_GUARD = re.compile(r'^=\s*"(.*)"$', re.S)


def unwrap(value: str | None) -> str:
    """Strip ACE's ``="..."`` text guard and surrounding whitespace/quotes."""
    v = (value or "").strip()
    m = _GUARD.match(v)
    if m:
        v = m.group(1).strip()
    if len(v) >= 2 and v[0] == v[-1] == '"':
        v = v[1:-1].strip()
    return v


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unwrap(name).lower())


def normalise_status(value: str) -> str:
    return re.sub(r"\s+", " ", unwrap(value)).strip().upper()


def parse_money(raw: str) -> Decimal | None:
    v = unwrap(raw).replace("$", "").replace(",", "").strip()
    if v == "":
        return None
    if v.upper() == "FREE":
        return Decimal("0.00")
    negative = v.startswith("(") and v.endswith(")")
    if negative:
        v = v[1:-1]
    amount = Decimal(v)  # InvalidOperation on garbage: the caller reports it
    if not amount.is_finite():
        raise InvalidOperation(v)
    amount = amount.quantize(Decimal("0.01"))
    return -amount if negative else amount


_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y", "%m-%d-%Y", "%Y%m%d")


def parse_date(raw: str) -> date | None:
    v = unwrap(raw)
    if not v:
        return None
    v = v.split(" ")[0].split("T")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(v, fmt).date()
        except ValueError:
            continue
    raise ValueError(v)


def _read_rows(data: bytes, filename: str) -> list[list[str]]:
    if not data.strip():
        raise ReportFileError(f"{filename}: the file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise ReportFileError(f"{filename}: this is not a CSV file (it looks binary; export the report as CSV).")
    try:
        return [row for row in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ReportFileError(f"{filename}: cannot be read as CSV ({exc}).") from None


def _locate_header(rows: list[list[str]], aliases: dict[str, list[str]], required: tuple[str, ...], filename: str,
                   report_name: str) -> tuple[int, dict[str, int]]:
    """Find the header row (a few title lines may precede it) and map our field names to columns."""
    wanted = {field_name: {normalise_header(a) for a in names} for field_name, names in aliases.items()}
    for index, row in enumerate(rows[:15]):
        normalised = [normalise_header(c) for c in row]
        mapping: dict[str, int] = {}
        for field_name, names in wanted.items():
            for col, name in enumerate(normalised):
                if name in names:
                    mapping[field_name] = col
                    break
        if all(r in mapping for r in required):
            return index, mapping
    needed = "; ".join(f"{r} (one of: {', '.join(aliases[r])})" for r in required)
    raise ReportFileError(f"{filename}: no {report_name} header found in the first 15 lines. Columns needed: {needed}.")


def _cell(row: list[str], mapping: dict[str, int], name: str) -> str:
    col = mapping.get(name)
    return row[col] if col is not None and col < len(row) else ""


# ----------------------------------------------------------------------------- CAPE Claim Details
@dataclass
class ClaimRow:
    row: int
    entry_number: str
    claim_number: str
    outcome: str  # "accepted" | "rejected"
    status_raw: str
    error: str


@dataclass
class ClaimDetails:
    rows: list[ClaimRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def claim_numbers(self) -> set[str]:
        return {r.claim_number for r in self.rows if r.claim_number}


def parse_claim_details(data: bytes, filename: str = "claim details") -> ClaimDetails:
    spec = cape_data()["claim_details"]
    rows = _read_rows(data, filename)
    header_index, mapping = _locate_header(rows, spec["columns"], ("entry_number", "status"), filename, "CAPE Claim Details")
    accepted = {s.upper() for s in spec["accepted_statuses"]}
    rejected = {s.upper() for s in spec["rejected_statuses"]}
    result = ClaimDetails()
    seen: dict[str, int] = {}
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        raw_entry = _cell(row, mapping, "entry_number")
        entry_number = entrynumber.repair(raw_entry)
        if not entrynumber.is_valid(entry_number):
            result.problems.append(Problem(filename, offset, "ENTRY_NUMBER", unwrap(raw_entry), "not a valid 11-character entry number (format or check digit)"))
            continue
        status_raw = unwrap(_cell(row, mapping, "status"))
        status = normalise_status(status_raw)
        error = unwrap(_cell(row, mapping, "error"))
        claim = re.sub(r"\s", "", unwrap(_cell(row, mapping, "claim_number")))
        if claim and not claim.isdigit():
            result.problems.append(Problem(filename, offset, "CLAIM_NUMBER", claim, "a CAPE claim number is digits only"))
            continue
        if status in accepted:
            outcome = "accepted"
        elif status in rejected:
            outcome = "rejected"
        else:
            result.problems.append(Problem(filename, offset, "STATUS", status_raw,
                                           "unknown CAPE status; known: " + ", ".join(sorted(accepted | rejected))))
            continue
        if entry_number in seen:
            result.problems.append(Problem(filename, offset, "ENTRY_NUMBER", entry_number,
                                           f"listed again (first on row {seen[entry_number]}); the later row wins"))
            result.rows = [r for r in result.rows if r.entry_number != entry_number]
        seen[entry_number] = offset
        result.rows.append(ClaimRow(offset, entry_number, claim, outcome, status_raw, error[:200]))
    return result


# ----------------------------------------------------------------------------- REV-603 / REV-615
REPORT_NAMES = {"rev603": "REV-603 Trade Refund", "rev615": "REV-615 CAPE Details Refunds"}


@dataclass
class RefundRow:
    row: int
    entry_number: str
    importer_number: str
    claim_number: str
    kind: str
    status_raw: str
    event_date: date | None
    principal: Decimal | None
    interest: Decimal | None
    amount: Decimal | None
    reference: str


@dataclass
class RefundReport:
    report: str
    rows: list[RefundRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def refund_status_kind(status_raw: str, statuses: dict[str, str]) -> str | None:
    """The kind of a REV-603 / REV-615 secondary status, matched by its leading words: ACE may add what happened
    ("Funds Diverted - applied to outstanding debt"), and the caller keeps that full text."""
    status = normalise_status(status_raw)
    if status in statuses:
        return statuses[status]
    for known in sorted(statuses, key=len, reverse=True):  # the longest known status that begins the text
        if status.startswith(known) and not status[len(known)].isalnum():
            return statuses[known]
    return None


def parse_refund_report(data: bytes, report: str, filename: str = "refund report") -> RefundReport:
    """Rows of a REV-603 or REV-615 CSV. Each row needs an entry number or an importer number, a
    known secondary status and an amount (total, or principal and/or interest)."""
    if report not in REPORT_NAMES:
        raise ReportFileError(f"Unknown report {report!r}: choose one of {', '.join(REPORT_NAMES)}.")
    spec = cape_data()["refund_reports"]
    statuses = {normalise_status(k): v for k, v in spec["statuses"].items()}
    rows = _read_rows(data, filename)
    aliases = spec["columns"]
    # REV-603 is the refund-status report, so it must say what happened; REV-615 is entry-level and
    # may carry only amounts (then each row is taken as sent to Treasury, the conservative reading).
    required: tuple[str, ...] = ("status",) if report == "rev603" else ("entry_number",)
    header_index, mapping = _locate_header(rows, aliases, required, filename, REPORT_NAMES[report])
    if "entry_number" not in mapping and "importer_number" not in mapping:
        raise ReportFileError(f"{filename}: neither an entry number nor an importer number column: cannot tell whose refund each row is.")
    if not {"amount", "principal", "interest"} & set(mapping):
        raise ReportFileError(f"{filename}: no amount column (one of: {', '.join(aliases['amount'] + aliases['principal'])}).")
    result = RefundReport(report=report)
    if "status" not in mapping:
        result.notes.append("No status column: every row is recorded as Sent to Treasury (the refund is scheduled, not yet confirmed paid).")
    header = rows[header_index]
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        def colname(name: str) -> str:
            return unwrap(header[mapping[name]]) if name in mapping else name

        bad = False
        entry_number = ""
        raw_entry = unwrap(_cell(row, mapping, "entry_number"))
        if raw_entry:
            entry_number = entrynumber.repair(raw_entry)
            if not entrynumber.is_valid(entry_number):
                result.problems.append(Problem(filename, offset, colname("entry_number"), raw_entry, "not a valid 11-character entry number"))
                continue
        importer_number = unwrap(_cell(row, mapping, "importer_number"))
        if not entry_number and not importer_number:
            result.problems.append(Problem(filename, offset, colname("entry_number"), "", "neither an entry number nor an importer number"))
            continue
        if "status" in mapping:
            status_raw = unwrap(_cell(row, mapping, "status"))
            kind = refund_status_kind(status_raw, statuses)
            if kind is None:
                result.problems.append(Problem(filename, offset, colname("status"), status_raw,
                                               "unknown refund status; known: Sent to Treasury, Treasury Issued, Funds Diverted, Check/ACH Returned"))
                continue
        else:
            status_raw, kind = "", "sent_to_treasury"
        amounts: dict[str, Decimal | None] = {}
        for name in ("principal", "interest", "amount"):
            raw = _cell(row, mapping, name)
            try:
                amounts[name] = parse_money(raw)
            except (InvalidOperation, ValueError):
                result.problems.append(Problem(filename, offset, colname(name), unwrap(raw), "not an amount (expected e.g. $2,567.49)"))
                bad = True
        raw_date = _cell(row, mapping, "date")
        try:
            event_date = parse_date(raw_date)
        except ValueError:
            result.problems.append(Problem(filename, offset, colname("date"), unwrap(raw_date), "not a date (expected MM/DD/YYYY)"))
            bad = True
        if bad:
            continue
        principal, interest, amount = amounts["principal"], amounts["interest"], amounts["amount"]
        if amount is None and (principal is not None or interest is not None):
            amount = (principal or Decimal("0.00")) + (interest or Decimal("0.00"))
        if amount is None:
            result.problems.append(Problem(filename, offset, colname("amount"), "", "no amount on this row"))
            continue
        result.rows.append(RefundRow(
            row=offset, entry_number=entry_number, importer_number=importer_number,
            claim_number=re.sub(r"\s", "", unwrap(_cell(row, mapping, "claim_number"))),
            kind=kind, status_raw=status_raw, event_date=event_date, principal=principal, interest=interest,
            amount=amount, reference=unwrap(_cell(row, mapping, "reference"))[:80],
        ))
    return result
