"""Entry facts files: the facts no ES-003 carries, one row per entry (ruleset 2026.12 inputs).

A CSV or XLSX with column ``Entry Number`` and any of ``Drawback``, ``Type 09 Filed``, ``Surety Paid``,
``Protest Number``, ``Protest Status``. Flags: Y/Yes/True/1 set, N/No/False/0 clear (any case), a blank
cell changes nothing. Entry numbers get the ES-003 repairs (entries.ingest.repairs.parse_entry_number). Parsing
only (no ORM): unknown columns, bad values and bad entry numbers become errors naming the file, row and
column; a row with an error is held back whole, the other rows stand.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entries.ingest.repairs import RepairError, normalise_header, parse_code, parse_entry_number, text
from entries.spellings import PROTEST_SPELLINGS

# field -> the column's name (as in the template); headers match case-, space- and punctuation-blind.
COLUMNS: dict[str, str] = {
    "entry_number": "Entry Number",
    "drawback": "Drawback",
    "type09_filed": "Type 09 Filed",
    "surety_paid": "Surety Paid",
    "protest_number": "Protest Number",
    "protest_status": "Protest Status",
}
FLAGS = ("drawback", "type09_filed", "surety_paid")
_HEADERS = {normalise_header(label): name for name, label in COLUMNS.items()}
_HEADERS.update({"entrysummarynumber": "entry_number", "type09": "type09_filed"})
_TRUE = frozenset({"y", "yes", "true", "1"})
_FALSE = frozenset({"n", "no", "false", "0"})
MAX_ROWS = 200_000
TEMPLATE_CSV = ",".join(COLUMNS.values()) + "\r\n" + "ABC-1234567-8,Y,,N,,\r\n"


class FactsFileError(Exception):
    """The file as a whole cannot be read (not CSV/XLSX, no Entry Number column, too many rows)."""


@dataclass(frozen=True)
class FactsRow:
    row: int
    entry_number: str
    values: dict[str, Any]  # field -> new value; only the non-blank cells


@dataclass
class FactsParse:
    file: str
    rows: list[FactsRow] = field(default_factory=list)
    # {"file", "row", "column", "value", "reason"}, like an ES-003 upload's rejected rows
    errors: list[dict[str, Any]] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    rows_read: int = 0


def parse_flag(raw: str) -> bool | None:
    """Y/Yes/True/1 → True, N/No/False/0 → False, blank → None (no change); anything else is an error."""
    key = raw.strip().lower()
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError("a flag is Y, Yes, True or 1 to set it, N, No, False or 0 to clear it, or blank to leave it")


def parse_protest_status(raw: str) -> str | None:
    key = raw.strip().lower()
    if not key:
        return None
    if key not in PROTEST_SPELLINGS:
        raise ValueError("a protest status is one of None, Open (or Pending, Filed), Suspended, Denied, "
                         "Approved (or Allowed, Granted)")
    return PROTEST_SPELLINGS[key]


def _cells(path: Path, label: str) -> list[list[Any]]:
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same error for the user
            raise FactsFileError(f"{label} could not be opened as an XLSX workbook ({exc.__class__.__name__}).") from None
        try:
            rows = [list(r) for _, r in zip(range(MAX_ROWS + 2), wb.worksheets[0].iter_rows(values_only=True), strict=False)]
        finally:
            wb.close()
        return rows
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise FactsFileError(f"{label} is neither a CSV text file nor an XLSX workbook.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel on Windows saves CSV in the ANSI code page
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]


def parse_facts_file(path: str | Path, *, file_label: str | None = None) -> FactsParse:
    path = Path(path)
    label = file_label or path.name
    rows = _cells(path, label)
    if len(rows) > MAX_ROWS + 1:
        raise FactsFileError(f"{label} has more than {MAX_ROWS:,} rows; split it.")
    result = FactsParse(file=label)
    header_at = next((i for i, r in enumerate(rows[:10]) if any(text(c) for c in r)), None)
    if header_at is None:
        raise FactsFileError(f"{label} is empty: the first row names the columns (Entry Number, then the facts).")
    columns: dict[int, str] = {}
    for i, cell in enumerate(rows[header_at]):
        name = text(cell)
        if not name:
            continue
        known = _HEADERS.get(normalise_header(name))
        if known is None:
            result.unknown_columns.append(name)
            result.errors.append({"file": label, "row": header_at + 1, "column": name, "value": name,
                                  "reason": "unknown column; the columns are " + ", ".join(COLUMNS.values())})
        else:
            columns[i] = known
    if "entry_number" not in columns.values():
        raise FactsFileError(f"{label} has no Entry Number column (row {header_at + 1} names the columns: "
                             + ", ".join(COLUMNS.values()) + ").")
    for offset, cells in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(text(c) for c in cells):
            continue
        result.rows_read += 1
        values: dict[str, Any] = {}
        number, bad = "", False
        for i, name in columns.items():
            raw = text(cells[i]) if i < len(cells) else ""
            try:
                if name == "entry_number":
                    number = parse_entry_number(raw)
                elif name in FLAGS:
                    flag = parse_flag(raw)
                    if flag is not None:
                        values[name] = flag
                elif name == "protest_status":
                    status = parse_protest_status(raw)
                    if status is not None:
                        values[name] = status
                elif raw.strip():
                    values[name] = parse_code(raw, length=40)
            except (RepairError, ValueError) as exc:
                bad = True
                result.errors.append({"file": label, "row": offset, "column": COLUMNS[name], "value": raw,
                                      "reason": str(exc)})
        if not bad:
            result.rows.append(FactsRow(offset, number, values))
    return result
