"""Opening an ES-003 "Entry Summary Line Tariff Details" report: its limits, its header row, its column layout.

Everything is read as text (or, for XLSX, as the cell value Excel stored); the cells are repaired later,
by ``entries.ingest.repairs``:

* CSV through the csv module (C parser); XLSX through python-calamine, which reads cell values as
  stored and never evaluates a formula (a formula cell yields the value Excel cached, or nothing).
* Sheet ``Main Report`` (or the first sheet); the header may follow title lines (first 20 rows).
* Headers are matched by normalised name through ``HEADER_MAP``, the one mapping table.
* The file's decimal separator (``Layout.decimal``) and a CSV file's list separator are found from its first rows.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from entries import xlsxrange
from entries.ingest.repairs import decimal_evidence, normalise_header, text

HEADER_SCAN_ROWS = 20


class Es003FileError(Exception):
    """The file as a whole cannot be read as an ES-003 (wrong type, not an ES-003, over a limit)."""


# ----------------------------------------------------------------------------- the header table
# field -> (label used in messages, normalised header spellings seen in real exports).
# Sources: shared/domain/README.md §5 (standard layout, optional added columns, alternate spellings).
HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "entry_number": (
        "Entry Summary Number",
        ("entrysummarynumber", "entrynumber", "entrysummarynbr", "entrysummaryno", "entryno"),
    ),
    "line_number": (
        "Entry Summary Line Number",
        ("entrysummarylinenumber", "linenumber", "entrylinenumber", "summarylinenumber", "lineno"),
    ),
    "entry_type": ("Entry Type Code", ("entrytypecode", "entrytype")),
    "importer_number": (
        "Importer Number",
        ("importernumber", "importerofrecordnumber", "importerrecordnumber", "iornumber", "irnumber", "importernbr"),
    ),
    "importer_name": ("Importer Name", ("importername", "importerofrecordname", "iorname")),
    "port_code": ("Port of Entry Code", ("portofentrycode", "portofentry", "entryportcode", "portcode")),
    "entry_date": ("Entry Date", ("entrydate",)),
    "entry_summary_date": ("Entry Summary Date", ("entrysummarydate",)),
    "country_of_origin": ("Country of Origin Code", ("countryoforigincode", "countryoforigin", "origincountrycode")),
    "ordinal": (
        "Tariff Ordinal Number",
        ("tariffordinalnumber", "tariffordinal", "linetariffordinalnumber", "ordinalnumber"),
    ),
    "hts": ("HTS Number - Full", ("htsnumberfull", "htsnumber", "htsusnumber", "htsnumberfull10digit", "tariffnumber")),
    "goods_value": (
        "Line Tariff Goods Value Amount",
        ("linetariffgoodsvalueamount", "linegoodsvalueamount", "goodsvalueamount", "linetariffvalueamount"),
    ),
    "duty": ("Line Tariff Duty Amount", ("linetariffdutyamount", "linedutyamount", "linetariffamount", "dutyamount")),
    "liquidation_date": ("Liquidation Date", ("liquidationdate", "entryliquidationdate")),
    "liquidation_status": (
        "Liquidation Status",
        ("liquidationstatus", "liquidationstatuscode", "liquidationstatusdescription", "entryliquidationstatus"),
    ),
    "recon_flag": (
        "Reconciliation Indicator",
        ("reconciliationindicator", "reconciliationflag", "reconciliationflagindicator", "reconindicator"),
    ),
    "protest_number": ("Protest Number", ("protestnumber",)),
    "protest_status": ("Protest Status", ("proteststatus", "proteststatuscode")),
    # The extended ES-003 layout has it per line ("Line Post Summary Correction Indicator"): an entry with a
    # corrected line is flagged (Es003Parser._parse_entry keeps the flag once any row of the entry sets it).
    "psc_flag": (
        "Post Summary Correction Indicator",
        (
            "postsummarycorrectionindicator",
            "postsummarycorrectionflag",
            "pscindicator",
            "linepostsummarycorrectionindicator",
            "linepscindicator",
        ),
    ),
    "filer_name": ("Filer Name", ("filername", "brokername")),
    # Optional columns kept when present (domain README §5, "optional added columns"). Importation Date is
    # the entry's (CBP Form 7501 block 11, Import Date); the rest are per tariff line: ES-003 repeats them on
    # every row, and the 7501 instructions allow a different manufacturer and exporting country per line
    # (blocks 13 and 14: "MULTI" in the header, the value at line level).
    "importation_date": ("Importation Date", ("importationdate", "importdate", "dateofimportation")),
    # ACE Entry Summary Query: Liquidation Reason Code (36 = refunded through CAPE; ruleset 2026.12 R3).
    "liquidation_reason_code": ("Liquidation Reason Code", ("liquidationreasoncode", "liquidationreason")),
    "country_of_export": (
        "Country of Export Code",
        ("countryofexportcode", "countryofexport", "exportcountrycode", "exportingcountrycode", "exportingcountry"),
    ),
    "spi_code": ("Line SPI Code", ("linespicode", "spicode", "linespi", "spi")),
    "manufacturer_id": (
        "Manufacturer ID",
        ("manufacturerid", "manufactureridentificationcode", "manufactureridcode", "linemanufacturerid", "mid"),
    ),
    "quantity": (
        "Line Tariff Quantity (1)",
        ("linetariffquantity1", "linetariffquantity", "tariffquantity1", "quantity1"),
    ),
    "uom": (
        "Line Tariff UOM (1) Code",
        ("linetariffuom1code", "linetariffuomcode", "linetariffuom1", "uom1code", "unitofmeasure1code", "uom1"),
    ),
}
HEADER_MAP: dict[str, str] = {spelling: fld for fld, (_, spellings) in HEADERS.items() for spelling in spellings}
LABELS: dict[str, str] = {fld: label for fld, (label, _) in HEADERS.items()}
REQUIRED = ("entry_number", "entry_type", "importer_number", "hts", "duty")
REQUIRED_ONE_OF = ("entry_date", "entry_summary_date")
ENTRY_FIELDS = (
    "entry_number",
    "entry_type",
    "importer_number",
    "importer_name",
    "port_code",
    "entry_date",
    "entry_summary_date",
    "liquidation_date",
    "liquidation_status",
    "recon_flag",
    "protest_number",
    "protest_status",
    "psc_flag",
    "filer_name",
    "importation_date",
    "liquidation_reason_code",
)
LINE_FIELDS = (
    "line_number",
    "ordinal",
    "hts",
    "goods_value",
    "duty",
    "country_of_origin",
    "country_of_export",
    "spi_code",
    "manufacturer_id",
    "quantity",
    "uom",
)


# ----------------------------------------------------------------------------- reading files
@dataclass
class Layout:
    columns: dict[str, int]  # field -> column index
    header_row: int  # 1-based row number of the header
    headers: list[str]
    decimal: str = "."  # the file's decimal separator: ".", "," or "?" (see repairs._point_form)

    @property
    def has_liquidation_columns(self) -> bool:
        return "liquidation_status" in self.columns and "liquidation_date" in self.columns

    @property
    def missing_liquidation_columns(self) -> list[str]:
        return [LABELS[f] for f in ("liquidation_status", "liquidation_date") if f not in self.columns]


def match_header(cells: list[Any]) -> dict[str, int]:
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
        columns = match_header(cells)
        if not _missing(columns):
            return Layout(columns=columns, header_row=row_no, headers=[text(c) for c in cells])
        if columns and (best is None or len(columns) > len(best[3])):
            best = (row_no, len(columns), cells, columns)
    if best is None:
        nonblank = next((cells for _, cells in first_rows if any(text(c) for c in cells)), [])
        headers, found = [text(c) for c in nonblank if text(c)], {}
    else:
        headers, found = [text(c) for c in best[2] if text(c)], best[3]
    missing = _missing(found)
    near = _near_misses(headers, found)
    said = ""
    if near:
        said = (
            " Columns that look like them but are not ES-003 columns: "
            + "; ".join(f'"{h}" (not {label})' for h, label in near[:10])
            + "."
        )
        if any("ieepa" in normalise_header(h) for h, _ in near):
            said += (
                " A column named for IEEPA duty belongs to a broker's or consultant's workbook, not to an ACE report."
            )
    shown = ", ".join(f'"{h}"' for h in headers[:40]) or "none"
    more = f" and {len(headers) - 40} more" if len(headers) > 40 else ""
    raise Es003FileError(
        f"{file_label} is not an ES-003 Entry Summary Line Tariff Details report: required column(s) missing: "
        f'{", ".join(missing)}.{said} In ACE Reports run ES-003 "Entry Summary Line Tariff Details" and upload its '
        f"CSV or XLSX export. Headers found (first {HEADER_SCAN_ROWS} rows searched): {shown}{more}."
    )


# Words that mark a header as a near miss for a required column it does not match (find_layout's message).
_NEAR_WORDS: dict[str, tuple[str, ...]] = {
    "entry_number": ("entry", "entrysummary"),
    "entry_type": ("type",),
    "importer_number": ("importer", "ior", "ein"),
    "hts": ("hts", "harmonized", "tariff"),
    "duty": ("duty", "ieepa"),
    "entry_date": ("date",),
    "entry_summary_date": ("date",),
}


def _near_misses(headers: list[str], found: dict[str, int]) -> list[tuple[str, str]]:
    """(header, label of the required column it looks like) for headers that match no column of the table."""
    import difflib

    wanted = [f for f in (*REQUIRED, *REQUIRED_ONE_OF) if f not in found]
    if not any(f in found for f in REQUIRED_ONE_OF):
        wanted = [f for f in wanted if f != "entry_summary_date"]  # one message for the pair
    out: list[tuple[str, str]] = []
    for h in headers:
        key = normalise_header(h)
        if not key or key in HEADER_MAP:
            continue
        for f in wanted:
            spellings = HEADERS[f][1]
            if any(w in key for w in _NEAR_WORDS.get(f, ())) or difflib.get_close_matches(
                key, spellings, n=1, cutoff=0.75
            ):
                label = LABELS[f] if f != "entry_date" else f"{LABELS['entry_date']} or {LABELS['entry_summary_date']}"
                out.append((h, label))
                break
    return out


DECIMAL_SCAN_ROWS = 5_000
# A file whose first rows show both conventions is read in the majority's when the other shows in at most this share
# of the majority's distinct values (one odd cell among twenty amounts is a row error, not a refused file); above it,
# the file is refused as written in two number formats. Our choice, not CBP's.
MIXED_DECIMAL_MINORITY = 0.1
_DECIMAL_FIELDS = ("duty", "goods_value", "quantity")


def detect_decimal(
    rows: list[tuple[int, list[Any]]], layout: Layout, *, list_separator: str | None, file_label: str
) -> str:
    """The file's decimal separator from the text cells of its money and quantity columns in ``rows``: "." or ",",
    or "?" when nothing in them tells and the list separator is not a comma. A file uses one convention: one that
    shows both about as often, or only values that read either way (1,200 / 1.200) with a ";" or tab list
    separator, is refused. A few cells against a clear majority (see MIXED_DECIMAL_MINORITY) are the file's odd
    cells, not its convention: the file is read in the majority's, and those cells become row errors."""
    cols = [(f, layout.columns[f]) for f in _DECIMAL_FIELDS if f in layout.columns]
    found: dict[str, tuple[str, str]] = {}  # evidence -> (column label, value) where first seen
    counts: Counter[str] = Counter()  # evidence -> how many distinct values show it
    seen: set[Any] = set()
    for _, cells in rows:
        for f, i in cols:
            if i >= len(cells):
                continue
            v = cells[i]
            if type(v) is not str or v in seen:
                continue
            seen.add(v)
            kind = decimal_evidence(v)
            if kind is None:
                continue
            counts[kind] += 1
            if kind not in found:
                found[kind] = (LABELS[f], text(v))
    if "." in found and "," in found:
        points, commas = counts["."], counts[","]
        if min(points, commas) > MIXED_DECIMAL_MINORITY * max(points, commas):
            (pc, pv), (cc, cv) = found["."], found[","]
            raise Es003FileError(
                f'{file_label} writes numbers both with a decimal point ({pc} "{pv}") and with a decimal comma '
                f'({cc} "{cv}"), so its amounts cannot be read safely. Export the report again from ACE (amounts '
                "as $2,567.49) or save it from Excel with one number format."
            )
        # Each odd cell is refused on its own row by repairs._point_form ("written with a decimal comma …").
        return "." if points > commas else ","
    if "," in found:
        return ","
    if "." in found:
        return "."
    # Excel writes ";" (or tabs) as the list separator precisely where the decimal separator is a comma; a
    # comma-separated file (ACE's own CSV) writes decimal points.
    if list_separator in (None, ","):
        return "."
    if "?" in found:
        col, v = found["?"]
        raise Es003FileError(
            f'{file_label}: cannot tell whether numbers use a decimal point or a decimal comma: {col} has "{v}" '
            "(a thousands separator or a decimal one?), and no amount in the first rows shows which. Export the "
            "report again from ACE (amounts as $2,567.49), or with two decimals on every amount (850,00)."
        )
    return "?"


DELIMITERS = (",", ";", "\t")


def _sniff_delimiter(head: str) -> str:
    """The list separator: the one under which the first lines hold the most ES-003 headers (Excel with a
    European list separator writes ';', "Unicode Text" writes tabs). Counting characters would be fooled
    by amounts such as "$2,567.49" in a ';'-separated file."""
    lines = head.splitlines()[:HEADER_SCAN_ROWS]
    if len(lines) > 1 and len(head) >= 1 << 15:
        lines = lines[:-1]  # the sample may end inside a line
    best, best_found = ",", 0
    for delimiter in DELIMITERS:
        try:
            found = max((len(match_header(row)) for row in csv.reader(lines, delimiter=delimiter)), default=0)
        except csv.Error:
            continue
        if found > best_found:
            best, best_found = delimiter, found
    return best


def _csv_file_error(file_label: str, row_no: int, exc: csv.Error) -> Es003FileError:
    limit = csv.field_size_limit()
    if "field larger than field limit" in str(exc):
        return Es003FileError(
            f"{file_label}: row {row_no} has a cell longer than {limit:,} characters, over the size limit "
            "for one cell; an ES-003 cell is never that large. Check that the file is a plain ES-003 export."
        )
    return Es003FileError(f"{file_label}: row {row_no} cannot be read as CSV ({exc}).")


@dataclass
class Limits:
    max_rows: int = 5_000_000
    max_uncompressed: int = 2 * 1024**3
    max_ratio: int = 100

    @classmethod
    def from_settings(cls) -> Limits:
        """The limits an upload is read under (settings ES003_MAX_ROWS, ES003_MAX_XLSX_UNCOMPRESSED, ES003_MAX_XLSX_RATIO)."""
        return cls(
            max_rows=int(getattr(settings, "ES003_MAX_ROWS", cls.max_rows)),
            max_uncompressed=int(getattr(settings, "ES003_MAX_XLSX_UNCOMPRESSED", cls.max_uncompressed)),
            max_ratio=int(getattr(settings, "ES003_MAX_XLSX_RATIO", cls.max_ratio)),
        )


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
            raise Es003FileError(
                f"{self.file_label} is an old binary Excel (.xls) workbook: open it in Excel and save it as .xlsx or CSV."
            )
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
        for item in self._rows:
            self._buffered.append(item)
            if len(self._buffered) >= DECIMAL_SCAN_ROWS:
                break
        self.layout.decimal = detect_decimal(
            self._buffered[:DECIMAL_SCAN_ROWS],
            self.layout,
            list_separator=getattr(self, "delimiter", None),
            file_label=self.file_label,
        )
        self.rows_total = max(0, self._physical_rows - self.layout.header_row)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        yield from self._buffered
        self._buffered = []
        yield from self._rows

    # -- CSV
    def _open_csv(self) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open("rb") as fh:
            sample = fh.read(1 << 20)
            utf16 = sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # Excel's "Unicode Text"
            if b"\x00" in sample[:8192] and not utf16:
                raise Es003FileError(f"{self.file_label} is neither a CSV text file nor an XLSX workbook.")
            lines = sample.count(b"\n")
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                lines += chunk.count(b"\n")
        if sample and not sample.endswith(b"\n"):
            lines += 1
        self._physical_rows = lines
        if lines > self.limits.max_rows:
            raise Es003FileError(
                f"{self.file_label} has {lines:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range."
            )
        if utf16:
            encoding = "utf-16"  # the BOM says which byte order
        else:
            encoding = "utf-8-sig"
            try:
                codecs.getincrementaldecoder("utf-8-sig")().decode(
                    sample[: len(sample) - 4] if len(sample) == 1 << 20 else sample, final=False
                )
            except UnicodeDecodeError:
                encoding = "cp1252"  # Excel on Windows saves CSV in the ANSI code page
        self.encoding = encoding
        head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample[: 1 << 16], final=False)
        self.delimiter = _sniff_delimiter(head)
        return self._iter_csv(encoding, self.delimiter)

    def _iter_csv(self, encoding: str, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open("r", encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            n = 0
            try:
                for row in reader:
                    n += 1
                    yield n, row
            except csv.Error as exc:
                raise _csv_file_error(self.file_label, n + 1, exc) from None

    # -- XLSX
    def _check_zip(self) -> None:
        try:
            zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise Es003FileError(
                f"{self.file_label} looks like a zip file but cannot be opened as an XLSX workbook."
            ) from None
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
            self._check_extent(name)
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
            raise Es003FileError(
                f"{self.file_label} has {total:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range."
            )
        return self._iter_xlsx(sheet, start_row)

    def _check_extent(self, sheet_name: str) -> None:
        """Refuse a sheet whose used range is mostly empty before python-calamine allocates all of it."""
        with zipfile.ZipFile(self.path) as zf:
            part = xlsxrange.sheet_part(zf, sheet_name)
            parts = [part] if part in zf.NameToInfo else [n for n in zf.namelist() if n.startswith("xl/worksheets/")]
            for part in parts:
                extent = xlsxrange.sheet_extent(zf, part)
                if extent.too_sparse():
                    gb = extent.area * xlsxrange.CELL_BYTES / 1024**3
                    raise Es003FileError(
                        f'{self.file_label}: sheet "{sheet_name}" has cells as far as {extent.range} '
                        f"({extent.rows:,} rows by {extent.columns:,} columns) but only {extent.cells:,} of them are "
                        f"filled; reading it would take {gb:,.1f} GB of memory. A stray cell far below or to the right "
                        "of the report does this: delete the rows and columns after the report in Excel (or export it "
                        "as CSV) and upload it again."
                    )

    @staticmethod
    def _iter_xlsx(sheet: Any, start_row: int) -> Iterator[tuple[int, list[Any]]]:
        n = start_row
        for row in sheet.iter_rows():
            n += 1
            yield n, row
