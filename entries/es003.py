"""ES-003 "Entry Summary Line Tariff Details" parsing: files in, repaired plain values out. No ORM here.

The shapes real exports take are in shared/domain/README.md §3 and §5. Everything is read as text
(or, for XLSX, as the cell value Excel stored) and parsed explicitly:

* CSV through the csv module (C parser); XLSX through python-calamine, which reads cell values as
  stored and never evaluates a formula (a formula cell yields the value Excel cached, or nothing).
* Sheet ``Main Report`` (or the first sheet); the header may follow title lines (first 20 rows).
* Headers are matched by normalised name through ``HEADER_MAP``, the one mapping table.
* Repairs: ``="..."`` guards; money ``$2,567.49``, ``FREE``, blank, ``(12.00)``; dates ``MM/DD/YYYY``,
  ISO, Excel date cells and serial numbers; HTS with or without dots (and leading zeros Excel
  dropped); entry numbers with dashes/spaces, lost leading zeros, floats (``6.0576069342E10``);
  entry type ``1`` → ``01``; IR numbers in any accepted spelling → canonical.

``Es003Parser.feed`` is the hot loop of ingestion: it caches every repair by raw value and re-parses
entry-level columns only when they differ from the previous row's, which is what keeps a million-line
CSV within twice the cost of merely reading it.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from entries.entrynumber import is_valid as entry_number_is_valid
from entries.hts import ieepa_prefixes

HEADER_SCAN_ROWS = 20


class Es003FileError(Exception):
    """The file as a whole cannot be read as an ES-003 (wrong type, not an ES-003, over a limit)."""


class RepairError(ValueError):
    """One value cannot be repaired; the message says why."""


# ----------------------------------------------------------------------------- the header table
# field -> (label used in messages, normalised header spellings seen in real exports).
# Sources: shared/domain/README.md §5 (standard layout, optional added columns, alternate spellings).
HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "entry_number": ("Entry Summary Number", ("entrysummarynumber", "entrynumber", "entrysummarynbr", "entrysummaryno", "entryno")),
    "line_number": ("Entry Summary Line Number", ("entrysummarylinenumber", "linenumber", "entrylinenumber", "summarylinenumber", "lineno")),
    "entry_type": ("Entry Type Code", ("entrytypecode", "entrytype")),
    "importer_number": ("Importer Number", ("importernumber", "importerofrecordnumber", "importerrecordnumber", "iornumber", "irnumber", "importernbr")),
    "importer_name": ("Importer Name", ("importername", "importerofrecordname", "iorname")),
    "port_code": ("Port of Entry Code", ("portofentrycode", "portofentry", "entryportcode", "portcode")),
    "entry_date": ("Entry Date", ("entrydate",)),
    "entry_summary_date": ("Entry Summary Date", ("entrysummarydate",)),
    "country_of_origin": ("Country of Origin Code", ("countryoforigincode", "countryoforigin", "origincountrycode")),
    "ordinal": ("Tariff Ordinal Number", ("tariffordinalnumber", "tariffordinal", "linetariffordinalnumber", "ordinalnumber")),
    "hts": ("HTS Number - Full", ("htsnumberfull", "htsnumber", "htsusnumber", "htsnumberfull10digit", "tariffnumber")),
    "goods_value": ("Line Tariff Goods Value Amount", ("linetariffgoodsvalueamount", "linegoodsvalueamount", "goodsvalueamount", "linetariffvalueamount")),
    "duty": ("Line Tariff Duty Amount", ("linetariffdutyamount", "linedutyamount", "linetariffamount", "dutyamount")),
    "liquidation_date": ("Liquidation Date", ("liquidationdate", "entryliquidationdate")),
    "liquidation_status": ("Liquidation Status", ("liquidationstatus", "liquidationstatuscode", "liquidationstatusdescription", "entryliquidationstatus")),
    "recon_flag": ("Reconciliation Indicator", ("reconciliationindicator", "reconciliationflag", "reconciliationflagindicator", "reconindicator")),
    "protest_number": ("Protest Number", ("protestnumber",)),
    "protest_status": ("Protest Status", ("proteststatus", "proteststatuscode")),
    "psc_flag": ("Post Summary Correction Indicator", ("postsummarycorrectionindicator", "postsummarycorrectionflag", "pscindicator")),
    "filer_name": ("Filer Name", ("filername", "brokername")),
}
HEADER_MAP: dict[str, str] = {spelling: fld for fld, (_, spellings) in HEADERS.items() for spelling in spellings}
LABELS: dict[str, str] = {fld: label for fld, (label, _) in HEADERS.items()}
REQUIRED = ("entry_number", "entry_type", "importer_number", "hts", "duty")
REQUIRED_ONE_OF = ("entry_date", "entry_summary_date")
ENTRY_FIELDS = ("entry_number", "entry_type", "importer_number", "importer_name", "port_code", "entry_date",
                "entry_summary_date", "liquidation_date", "liquidation_status", "recon_flag", "protest_number",
                "protest_status", "psc_flag", "filer_name")
LINE_FIELDS = ("line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin")

# ACE liquidation status wording -> Entry.LiquidationStatus. The exact ACE vocabulary is not published
# in one place; these are the values seen in exports and vendor guides (domain README §5, §7).
# Anything else is stored as "unknown" with a warning, and its raw text kept.
LIQUIDATION_STATUSES: dict[str, str] = {
    "unliquidated": "unliquidated", "open": "unliquidated", "notliquidated": "unliquidated", "pending": "unliquidated",
    "liquidated": "liquidated", "liquidatedno change": "liquidated", "liquidatednochange": "liquidated",
    "liquidatedbill": "liquidated", "liquidatedrefund": "liquidated", "reliquidated": "liquidated", "liq": "liquidated",
    "suspended": "suspended", "liquidationsuspended": "suspended",
    "extended": "extended", "liquidationextended": "extended",
    "underreview": "under_review", "review": "under_review",
    "final": "final", "finalliquidation": "final", "finallyliquidated": "final", "liquidatedfinal": "final",
}
PROTEST_STATUSES: dict[str, str] = {
    "open": "open", "pending": "open", "filed": "open", "received": "open", "underreview": "open",
    "suspended": "suspended", "denied": "denied", "approved": "approved", "allowed": "approved", "granted": "approved",
    "partiallyapproved": "approved", "none": "none", "": "none",
}
_TRUE = {"Y", "YES", "1", "TRUE", "T", "X"}


def normalise_header(value: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value or "").lower())


# ----------------------------------------------------------------------------- repairs
def unguard(value: object) -> str:
    """The text inside ACE's ``="..."`` guard (also a stray leading apostrophe Excel adds), stripped."""
    s = str(value).strip()
    if s.startswith('="') and s.endswith('"') and len(s) >= 3:
        s = s[2:-1]
    elif s.startswith("'"):
        s = s[1:]
    return s.strip()


def _is_formula(s: str) -> bool:
    return s.startswith("=")


def _text(value: object) -> str:
    """Cell → text. Numbers Excel stored (floats) lose their '.0'; guards are removed."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return unguard(value) if value is not None else ""


_FLOAT_LIKE = re.compile(r"^\d+(\.\d+)?([eE][+-]?\d+)?$")


def _integral_text(s: str) -> str:
    """'6.0576069342E10' or '60576069342.0' → '60576069342' (numbers Excel turned into floats)."""
    if _FLOAT_LIKE.match(s) and ("." in s or "e" in s.lower()):
        try:
            d = Decimal(s)
        except InvalidOperation:
            return s
        if d == d.to_integral_value():
            return str(int(d))
    return s


def parse_entry_number(value: object) -> str:
    """11 characters, filer code + serial + check digit. Repairs dashes, spaces, floats and lost zeros.

    The check digit is not verified here: a wrong check digit is stored (and warned about), since the
    number itself is what ACE knows the entry by.
    """
    s = _text(value)
    if not s:
        raise RepairError("the entry number is blank")
    if _is_formula(s):
        raise RepairError("a formula is not an entry number (formulas are never evaluated)")
    s = _integral_text(s).replace("-", "").replace(" ", "").upper()
    if s.isdigit() and len(s) < 11:
        s = s.zfill(11)  # Excel stripped the leading zeros of an all-digit number
    if len(s) != 11 or not s.isalnum():
        raise RepairError("an entry number has 11 characters (3-character filer code, 7-digit serial, check digit); "
                          "this one cannot be repaired to that shape")
    if not s[3:].isdigit():
        raise RepairError("the serial number and check digit of an entry number are digits")
    return s


def parse_entry_type(value: object) -> str:
    s = _integral_text(_text(value))
    if not s:
        raise RepairError("the entry type is blank")
    if not s.isdigit() or len(s) > 2:
        raise RepairError("an entry type code is two digits (e.g. 01, 11, 21)")
    return s.zfill(2)


def parse_ir_number(value: object) -> str:
    s = _integral_text(_text(value))
    if s.isdigit() and len(s) == 10:
        s = s.zfill(11)  # an EIN+suffix whose leading zero Excel dropped
    try:
        return canonical_ir_number(s)
    except InvalidIRNumber as exc:
        raise RepairError(f"not a valid importer number: {exc.reason}") from None


_MONEY = re.compile(r"^-?\d+(\.\d+)?$")
_CENT = Decimal("0.01")


def parse_money(value: object, *, blank: str | None = "0.00") -> str | None:
    """A validated decimal string with two places. ``$2,567.49``, ``FREE`` (0), blank (``blank``), ``(12.00)``."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return str(Decimal(repr(value) if isinstance(value, float) else value).quantize(_CENT))
    s = _text(value)
    if not s:
        return blank
    if _is_formula(s):
        raise RepairError("a formula is not an amount (formulas are never evaluated)")
    up = s.upper()
    if up in ("FREE", "-", "N/A", "NA"):
        return "0.00"
    negative = False
    if up.startswith("(") and up.endswith(")"):
        negative, up = True, up[1:-1].strip()
    up = up.replace("$", "").replace(",", "").replace(" ", "").replace("USD", "")
    if up.startswith("-"):
        negative, up = not negative if negative else True, up[1:]
    if up.endswith("-"):  # trailing minus (some exports)
        negative, up = True, up[:-1]
    if not _MONEY.match(up):
        raise RepairError("not an amount (expected e.g. $2,567.49, FREE, (12.00) or blank)")
    d = Decimal(up).quantize(_CENT)
    if abs(d) >= Decimal("1e14"):
        raise RepairError("the amount is too large to be a duty or value")
    return str(-d if negative else d)


_EXCEL_EPOCH = date(1899, 12, 30)
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$", re.I)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_SERIAL = re.compile(r"^\d{4,5}(\.\d+)?$")


def _checked(d: date) -> date:
    if not (1990 <= d.year <= 2100):
        raise RepairError(f"the date {d.isoformat()} is outside 1990-2100")
    return d


def parse_date(value: object) -> date | None:
    """MM/DD/YYYY (also M/D/YY), ISO YYYY-MM-DD (with an optional time), Excel date cells and serial numbers."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _checked(value.date())
    if isinstance(value, date):
        return _checked(value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _checked(_EXCEL_EPOCH + timedelta(days=int(value)))
    s = _text(value)
    if not s:
        return None
    if m := _US_DATE.match(s):
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000
        try:
            return _checked(date(year, month, day))
        except ValueError:
            raise RepairError("not a calendar date (expected MM/DD/YYYY)") from None
    if m := _ISO_DATE.match(s):
        try:
            return _checked(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            raise RepairError("not a calendar date (expected YYYY-MM-DD)") from None
    if _SERIAL.match(s):
        return _checked(_EXCEL_EPOCH + timedelta(days=int(float(s))))
    raise RepairError("not a date (expected MM/DD/YYYY, YYYY-MM-DD or an Excel date)")


def parse_hts(value: object) -> str:
    """Digits only: '9903.01.25' and '99030125' are the same; leading zeros Excel dropped are restored."""
    s = _integral_text(_text(value))
    if not s:
        raise RepairError("the HTS number is blank")
    digits = s.replace(".", "").replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise RepairError("an HTS number is digits, with or without dots (e.g. 9903.01.25 or 3923900080)")
    if len(digits) in (7, 9):
        digits = "0" + digits  # chapters 01-09 lose their leading zero when Excel reads them as numbers
    if len(digits) not in (4, 6, 8, 10):
        raise RepairError("an HTS number has 8 or 10 digits")
    return digits


def parse_int(value: object, *, what: str) -> int:
    s = _integral_text(_text(value))
    if not s.isdigit():
        raise RepairError(f"the {what} is not a whole number")
    n = int(s)
    if n > 999_999:
        raise RepairError(f"the {what} is too large")
    return n


def parse_flag(value: object) -> bool:
    return _text(value).upper() in _TRUE


def parse_code(value: object, *, length: int, pad: int = 0) -> str:
    """A short code; ``pad`` restores leading zeros Excel dropped from an all-digit code (ports are 4 digits)."""
    s = _integral_text(_text(value)).upper()
    if pad and s.isdigit() and len(s) < pad:
        s = s.zfill(pad)
    return s[:length]


def parse_liquidation_status(value: object) -> tuple[str, str]:
    raw = _text(value)[:60]
    key = normalise_header(raw)
    if not key:
        return "unknown", ""
    return LIQUIDATION_STATUSES.get(key, "unknown"), raw


def parse_protest_status(value: object, protest_number: str) -> str:
    key = normalise_header(_text(value))
    if key in PROTEST_STATUSES and key not in ("", "none"):
        return PROTEST_STATUSES[key]
    if key and key not in PROTEST_STATUSES:
        return "open" if protest_number else "none"
    # A protest number with no status: treat as open (an open protest blocks CAPE; domain README §9).
    return "open" if protest_number else "none"


# ----------------------------------------------------------------------------- reading files
@dataclass
class Layout:
    columns: dict[str, int]  # field -> column index
    header_row: int  # 1-based row number of the header
    headers: list[str]

    @property
    def has_liquidation_columns(self) -> bool:
        return "liquidation_status" in self.columns and "liquidation_date" in self.columns

    @property
    def missing_liquidation_columns(self) -> list[str]:
        return [LABELS[f] for f in ("liquidation_status", "liquidation_date") if f not in self.columns]


def _match_header(cells: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        fld = HEADER_MAP.get(normalise_header(cell)) if isinstance(cell, str) else None
        if fld and fld not in found:
            found[fld] = i
    return found


def _missing(columns: dict[str, int]) -> list[str]:
    missing = [LABELS[f] for f in REQUIRED if f not in columns]
    if not any(f in columns for f in REQUIRED_ONE_OF):
        missing.append(" or ".join(LABELS[f] for f in REQUIRED_ONE_OF))
    return missing


def find_layout(first_rows: list[tuple[int, list[Any]]], *, file_label: str) -> Layout:
    """The header among the first rows: the first row naming every required column."""
    best: tuple[int, int, list[Any], dict[str, int]] | None = None
    for row_no, cells in first_rows[:HEADER_SCAN_ROWS]:
        columns = _match_header(cells)
        if not _missing(columns):
            return Layout(columns=columns, header_row=row_no, headers=[_text(c) for c in cells])
        if columns and (best is None or len(columns) > len(best[3])):
            best = (row_no, len(columns), cells, columns)
    if best is None:
        nonblank = next((cells for _, cells in first_rows if any(_text(c) for c in cells)), [])
        headers, missing = [_text(c) for c in nonblank if _text(c)], _missing({})
    else:
        headers, missing = [_text(c) for c in best[2] if _text(c)], _missing(best[3])
    shown = ", ".join(f'"{h}"' for h in headers[:40]) or "none"
    raise Es003FileError(
        f"{file_label} is not an ES-003 Entry Summary Line Tariff Details report: required column(s) missing: "
        f"{', '.join(missing)}. Headers found (first {HEADER_SCAN_ROWS} rows searched): {shown}."
    )


@dataclass
class Limits:
    max_rows: int = 5_000_000
    max_uncompressed: int = 2 * 1024**3
    max_ratio: int = 100


class Es003Source:
    """An opened ES-003: its layout, an estimate of its data rows, and an iterator of (row number, cells)."""

    def __init__(self, path: str | Path, *, file_label: str | None = None, limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.file_label = file_label or self.path.name
        self.limits = limits or Limits()
        with self.path.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(b"PK\x03\x04"):
            self.kind = "xlsx"
            self._rows = self._open_xlsx()
        elif head.startswith(b"\xd0\xcf\x11\xe0"):
            raise Es003FileError(f"{self.file_label} is an old binary Excel (.xls) workbook: open it in Excel and save it as .xlsx or CSV.")
        else:
            self.kind = "csv"
            self._rows = self._open_csv()
        first: list[tuple[int, list[Any]]] = []
        for item in self._rows:
            first.append(item)
            if len(first) >= HEADER_SCAN_ROWS:
                break
        self.layout = find_layout(first, file_label=self.file_label)
        self._buffered = [item for item in first if item[0] > self.layout.header_row]
        self.rows_total = max(0, self._physical_rows - self.layout.header_row)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        yield from self._buffered
        self._buffered = []
        yield from self._rows

    # -- CSV
    def _open_csv(self) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open("rb") as fh:
            sample = fh.read(1 << 20)
            if b"\x00" in sample[:8192]:
                raise Es003FileError(f"{self.file_label} is neither a CSV text file nor an XLSX workbook.")
            lines = sample.count(b"\n")
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                lines += chunk.count(b"\n")
        if sample and not sample.endswith(b"\n"):
            lines += 1
        self._physical_rows = lines
        if lines > self.limits.max_rows:
            raise Es003FileError(f"{self.file_label} has {lines:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range.")
        encoding = "utf-8-sig"
        try:
            codecs.getincrementaldecoder("utf-8-sig")().decode(sample[: len(sample) - 4] if len(sample) == 1 << 20 else sample, final=False)
        except UnicodeDecodeError:
            encoding = "cp1252"  # Excel on Windows saves CSV in the ANSI code page
        return self._iter_csv(encoding)

    def _iter_csv(self, encoding: str) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open("r", encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            n = 0
            for row in reader:
                n += 1
                yield n, row

    # -- XLSX
    def _check_zip(self) -> None:
        try:
            zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise Es003FileError(f"{self.file_label} looks like a zip file but cannot be opened as an XLSX workbook.") from None
        with zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "xl/workbook.xml" not in names:
                raise Es003FileError(f"{self.file_label} is a zip file but not an XLSX workbook.")
            total = sum(i.file_size for i in infos)
            if total > self.limits.max_uncompressed:
                raise Es003FileError(
                    f"{self.file_label} would expand to {total / 1024**2:,.0f} MB when opened, over the "
                    f"{self.limits.max_uncompressed / 1024**2:,.0f} MB limit (a zip bomb or an oversized workbook)."
                )
            for i in infos:
                if i.file_size > 10 * 1024**2 and i.file_size > self.limits.max_ratio * max(i.compress_size, 1):
                    raise Es003FileError(
                        f"{self.file_label}: part {i.filename} is compressed {i.file_size // max(i.compress_size, 1):,} to 1, "
                        f"over the {self.limits.max_ratio} to 1 limit (a zip bomb)."
                    )

    def _open_xlsx(self) -> Iterator[tuple[int, list[Any]]]:
        from python_calamine import CalamineWorkbook

        self._check_zip()
        try:
            wb = CalamineWorkbook.from_path(str(self.path))
            names = wb.sheet_names
            name = next((n for n in names if n.strip().lower() == "main report"), names[0] if names else None)
            if name is None:
                raise Es003FileError(f"{self.file_label} has no worksheet.")
            sheet = wb.get_sheet_by_name(name)
        except Es003FileError:
            raise
        except Exception as exc:  # calamine raises its own error types for corrupt parts
            raise Es003FileError(f"{self.file_label} cannot be read as an XLSX workbook: {exc}") from None
        self.sheet_name = name
        start_row = sheet.start[0] if sheet.start else 0
        total = max(sheet.total_height or 0, sheet.height or 0)
        self._physical_rows = start_row + total
        if total > self.limits.max_rows:
            raise Es003FileError(f"{self.file_label} has {total:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range.")
        return self._iter_xlsx(sheet, start_row)

    @staticmethod
    def _iter_xlsx(sheet: Any, start_row: int) -> Iterator[tuple[int, list[Any]]]:
        n = start_row
        for row in sheet.iter_rows():
            n += 1
            yield n, row


# ----------------------------------------------------------------------------- rows → entries and lines
class _Bad:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_CACHE_LIMIT = 200_000


def _cached(cache: dict[Any, Any], fn: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return cache[raw]
    except KeyError:
        pass
    except TypeError:  # unhashable cell value
        raw = str(raw)
    try:
        value: Any = fn(raw)
    except RepairError as exc:
        value = _Bad(str(exc))
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[raw] = value
    return value


@dataclass
class ParsedEntry:
    entry_number: str
    importer_ir: str
    importer_name: str
    entry_type: str
    entry_date: date | None
    entry_summary_date: date | None
    port_code: str
    filer_code: str
    filer_name: str
    liquidation_status: str
    liquidation_status_raw: str
    liquidation_date: date | None
    recon_flag: bool
    psc_flag: bool
    protest_number: str
    protest_status: str
    first_row: int = 0

    def as_row(self) -> tuple[Any, ...]:
        return (self.entry_number, self.importer_ir, self.importer_name, self.entry_type, self.entry_date,
                self.entry_summary_date, self.port_code, self.filer_code, self.filer_name, self.liquidation_status,
                self.liquidation_status_raw, self.liquidation_date, self.recon_flag, self.psc_flag,
                self.protest_number, self.protest_status)


STAGE_ENTRY_COLUMNS = ("entry_number", "importer_ir", "importer_name", "entry_type", "entry_date", "entry_summary_date",
                       "port_code", "filer_code", "filer_name", "liquidation_status", "liquidation_status_raw",
                       "liquidation_date", "recon_flag", "psc_flag", "protest_number", "protest_status")
STAGE_LINE_COLUMNS = ("entry_number", "line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "is_ieepa")

ImporterCheck = Callable[[str, str], "str | None"]


@dataclass
class ParseResult:
    entries: dict[str, ParsedEntry] = field(default_factory=dict)
    bad_entries: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    unrepairable: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    lines: int = 0
    duplicates: int = 0
    skipped_blank: int = 0
    bad_check_digits: list[str] = field(default_factory=list)
    unknown_statuses: dict[str, int] = field(default_factory=dict)

    def good_entries(self) -> list[ParsedEntry]:
        return [e for n, e in self.entries.items() if n not in self.bad_entries]


class Es003Parser:
    """Feed rows one at a time; get back staging tuples for lines, and entries/errors at the end.

    An entry with any bad row is held back whole: its number goes to ``bad_entries`` and the merge
    ignores every staged line of it. ``importer_check(ir, name)`` returns a rejection reason for an
    importer the organisation may not load, or None.
    """

    def __init__(self, layout: Layout, *, file_label: str, importer_check: ImporterCheck | None = None,
                 max_errors: int = 100_000) -> None:
        self.layout = layout
        self.file_label = file_label
        self.importer_check = importer_check or (lambda ir, name: None)
        self.max_errors = max_errors
        self.result = ParseResult()
        cols = layout.columns
        self._entry_cols = [f for f in ENTRY_FIELDS if f in cols]
        idx = [cols[f] for f in self._entry_cols]
        self._width_needed = max(cols.values()) + 1
        self._entry_getter = itemgetter(*idx) if len(idx) > 1 else (lambda row, i=idx[0]: (row[i],))
        self._prev_entry_raw: tuple[Any, ...] | None = None
        self._prev_entry: tuple[ParsedEntry | None, list[tuple[str, Any, str]]] = (None, [])
        self._i_line = cols.get("line_number")
        self._i_ord = cols.get("ordinal")
        self._i_hts = cols["hts"]
        self._i_goods = cols.get("goods_value")
        self._i_duty = cols["duty"]
        self._i_country = cols.get("country_of_origin")
        self._seen: set[tuple[str, int, int]] = set()
        self._counters: dict[Any, int] = {}
        self._c_int: dict[Any, Any] = {}
        self._c_hts: dict[Any, Any] = {}
        self._c_money: dict[Any, Any] = {}
        self._c_goods: dict[Any, Any] = {}
        self._c_country: dict[Any, str] = {}
        self._c_ieepa: dict[str, bool] = {}
        self._prefixes = ieepa_prefixes()
        self._importers: dict[str, str | None] = {}
        self._warned_check: set[str] = set()

    # -- errors
    def _error(self, row_no: int, fld: str, value: Any, reason: str) -> None:
        r = self.result
        r.errors_total += 1
        r.rejected_rows.add(row_no)
        if len(r.errors) < self.max_errors:
            r.errors.append({"file": self.file_label, "row": row_no, "column": LABELS.get(fld, fld),
                             "value": "" if value is None else _text(value),
                             "reason": reason})

    # -- entry-level columns (parsed once per run of identical values)
    def _parse_entry(self, raw: tuple[Any, ...], row_no: int) -> tuple[ParsedEntry | None, list[tuple[str, Any, str]]]:
        v = dict(zip(self._entry_cols, raw, strict=True))
        errs: list[tuple[str, Any, str]] = []

        def attempt(fld: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
            if fld not in v:
                return default
            try:
                return fn(v[fld])
            except RepairError as exc:
                errs.append((fld, v[fld], str(exc)))
                return default

        try:
            number = parse_entry_number(v["entry_number"])
        except RepairError as exc:
            return None, [("entry_number", v["entry_number"], str(exc))]
        entry_type = attempt("entry_type", parse_entry_type, "")
        ir = attempt("importer_number", parse_ir_number, "")
        entry_date = attempt("entry_date", parse_date)
        summary_date = attempt("entry_summary_date", parse_date)
        if entry_date is None and summary_date is None and not any(f for f, _, _ in errs if f in REQUIRED_ONE_OF):
            fld = "entry_date" if "entry_date" in v else "entry_summary_date"
            errs.append((fld, v.get(fld), "an entry needs an entry date or an entry summary date"))
        liq_date = attempt("liquidation_date", parse_date)
        status, status_raw = parse_liquidation_status(v["liquidation_status"]) if "liquidation_status" in v else ("unknown", "")
        protest_number = parse_code(v["protest_number"], length=40) if "protest_number" in v else ""
        protest_status = parse_protest_status(v.get("protest_status", ""), protest_number)
        name = _text(v.get("importer_name", ""))[:200]
        if ir:
            if ir not in self._importers:
                self._importers[ir] = self.importer_check(ir, name)
            reason = self._importers[ir]
            if reason:
                errs.append(("importer_number", v["importer_number"], reason))
        entry = ParsedEntry(
            entry_number=number, importer_ir=ir, importer_name=name, entry_type=entry_type, entry_date=entry_date,
            entry_summary_date=summary_date,
            port_code=parse_code(v.get("port_code", ""), length=8, pad=4) if "port_code" in v else "",
            filer_code=number[:3], filer_name=_text(v.get("filer_name", ""))[:200], liquidation_status=status,
            liquidation_status_raw=status_raw, liquidation_date=liq_date,
            recon_flag=parse_flag(v["recon_flag"]) if "recon_flag" in v else False,
            psc_flag=parse_flag(v["psc_flag"]) if "psc_flag" in v else False,
            protest_number=protest_number, protest_status=protest_status, first_row=row_no,
        )
        if status == "unknown" and status_raw:
            self.result.unknown_statuses[status_raw] = self.result.unknown_statuses.get(status_raw, 0) + 1
        if number not in self._warned_check and not entry_number_is_valid(number):
            self._warned_check.add(number)
            self.result.bad_check_digits.append(number)
        return entry, errs

    def feed(self, row_no: int, row: list[Any]) -> tuple[Any, ...] | None:
        """One data row → a staging line tuple (``STAGE_LINE_COLUMNS``), or None if the row is not kept."""
        r = self.result
        if len(row) < self._width_needed:
            if not any(_text(c) for c in row):
                r.skipped_blank += 1
                return None
            row = list(row) + [""] * (self._width_needed - len(row))
        raw = self._entry_getter(row)
        if raw != self._prev_entry_raw:
            if not _text(raw[0]) and sum(1 for c in row if c not in ("", None)) < 3:
                r.skipped_blank += 1  # a blank line or a footer ("End of report")
                return None
            self._prev_entry_raw = raw
            self._prev_entry = self._parse_entry(raw, row_no)
        r.rows_read += 1
        entry, errs = self._prev_entry
        for fld, value, reason in errs:
            self._error(row_no, fld, value, reason)
        if entry is None:  # the entry number itself cannot be repaired
            v = dict(zip(self._entry_cols, raw, strict=True))
            r.unrepairable.append({"file": self.file_label, "row": row_no, "entry_number": _text(v["entry_number"]),
                                   "importer_number": _text(v.get("importer_number", ""))})
            return None
        number = entry.entry_number
        bad = bool(errs)
        # -- line-level columns
        if self._i_line is not None:
            line_no = _cached(self._c_int, lambda x: parse_int(x, what="line number"), row[self._i_line])
            if type(line_no) is _Bad:
                self._error(row_no, "line_number", row[self._i_line], line_no.reason)
                bad, line_no = True, 0
        else:
            key = number
            line_no = self._counters[key] = self._counters.get(key, 0) + 1
        if self._i_ord is not None:
            ordinal = _cached(self._c_int, lambda x: parse_int(x, what="tariff ordinal number"), row[self._i_ord])
            if type(ordinal) is _Bad:
                self._error(row_no, "ordinal", row[self._i_ord], ordinal.reason)
                bad, ordinal = True, 0
        else:
            key2 = (number, line_no)
            ordinal = self._counters[key2] = self._counters.get(key2, 0) + 1
        hts = _cached(self._c_hts, parse_hts, row[self._i_hts])
        if type(hts) is _Bad:
            self._error(row_no, "hts", row[self._i_hts], hts.reason)
            bad = True
        duty = _cached(self._c_money, parse_money, row[self._i_duty])
        if type(duty) is _Bad:
            self._error(row_no, "duty", row[self._i_duty], duty.reason)
            bad = True
        goods = None
        if self._i_goods is not None:
            goods = _cached(self._c_goods, lambda x: parse_money(x, blank=None), row[self._i_goods])
            if type(goods) is _Bad:
                self._error(row_no, "goods_value", row[self._i_goods], goods.reason)
                bad = True
        if bad:
            r.bad_entries.add(number)
            r.entries.setdefault(number, entry)
            return None
        country = ""
        if self._i_country is not None:
            c = row[self._i_country]
            country = self._c_country.get(c) if isinstance(c, str) else None  # type: ignore[assignment]
            if country is None:
                country = _text(c).upper()[:2]
                if isinstance(c, str):
                    self._c_country[c] = country
        key3 = (number, line_no, ordinal)
        if key3 in self._seen:
            r.duplicates += 1
            return None
        self._seen.add(key3)
        r.entries[number] = entry
        r.lines += 1
        ieepa = self._c_ieepa.get(hts)
        if ieepa is None:
            ieepa = self._c_ieepa[hts] = hts.startswith(self._prefixes)
        # IEEPA duty: an IEEPA heading with a positive duty (domain README §8; entries.hts.is_ieepa_line).
        return (number, line_no, ordinal, hts, goods, duty, country, ieepa and duty[0] != "-" and duty != "0.00")

    def finish(self) -> ParseResult:
        r = self.result
        for number in r.bad_entries:
            r.entries.pop(number, None)
        if r.bad_check_digits:
            shown = ", ".join(r.bad_check_digits[:20])
            more = f" and {len(r.bad_check_digits) - 20} more" if len(r.bad_check_digits) > 20 else ""
            r.warnings.append(
                f"{len(r.bad_check_digits)} entry number(s) have a check digit that does not match (CBP check-digit "
                f"rule): {shown}{more}. They were stored as written and will be marked for review; check them "
                "against the entry summary (CBP Form 7501)."
            )
        for raw, count in sorted(r.unknown_statuses.items()):
            r.warnings.append(f'Liquidation Status "{raw}" is not one we recognise ({count} row(s)); those entries are stored with status unknown.')
        if r.duplicates:
            r.warnings.append(f"{r.duplicates} row(s) repeated an entry, line and tariff ordinal already read in this file; each line was kept once.")
        if self._i_line is None or self._i_ord is None:
            missing = [LABELS[f] for f in ("line_number", "ordinal") if f not in self.layout.columns]
            r.warnings.append(f"The report has no {' or '.join(missing)} column: lines were numbered in file order. "
                              "Add the column in ACE Reports so that later reports merge line by line.")
        return r
