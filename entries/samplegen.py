"""Realistic ES-003 "Entry Summary Line Tariff Details" exports, generated deterministically.

Used by the tests and by bench/ingest.py. Two writers reproduce the shapes real files take
(shared/domain/README.md §5):

* ``write_csv``: as the ACE Portal writes CSV: text identifiers wrapped as ``="..."`` (no CSV quoting
  around the guard), amounts as ``$2,567.49`` (quoted because of the comma), dates ``MM/DD/YYYY``,
  CRLF line endings, optional title lines above the header.
* ``write_xlsx``: as Excel saves a workbook after a user opened and re-saved the export: sheet
  ``Main Report``, shared strings, dates as date-formatted serial numbers, amounts as currency-formatted
  numbers, and digit-only identifiers (entry numbers, HTS numbers, ports) turned into numbers, which
  strips their leading zeros. The writer is a few lines of XML streamed into a zip so that a 200,000
  line workbook takes seconds (openpyxl needs minutes).

Values in a row may be: ``Text`` (an identifier ACE guards), ``str`` (written as given), ``Decimal``
(money), ``date``/``datetime``, ``int``/``float`` (numbers), ``Formula`` (XLSX only), ``None`` (blank).
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from entries.entrynumber import check_digit

STANDARD_COLUMNS = [
    "Entry Summary Number",
    "Entry Summary Line Number",
    "Entry Type Code",
    "Importer Number",
    "Importer Name",
    "Port of Entry Code",
    "Entry Date",
    "Entry Summary Date",
    "Country of Origin Code",
    "Country of Export Code",
    "Tariff Ordinal Number",
    "HTS Number - Full",
    "Line Tariff Goods Value Amount",
    "Line Tariff Duty Amount",
    "Line Tariff Quantity (1)",
    "Line Tariff UOM (1) Code",
]
EXTENDED_COLUMNS = STANDARD_COLUMNS + [
    "Liquidation Date",
    "Liquidation Status",
    "Reconciliation Indicator",
    "Protest Number",
    "Protest Status",
    "Post Summary Correction Indicator",
    "Filer Name",
    "Importation Date",
    "Line SPI Code",
    "Manufacturer ID",
]
TITLE_LINES = [
    "ES-003 Entry Summary Line Tariff Details",
    "Run Date: 05/01/2026 08:15 AM",
    "Entry Summary Date: 02/01/2025 - 04/30/2026",
]
DEFAULT_IMPORTERS = [("93-417726100", "Blue Heron Housewares Inc")]


class Text(str):
    """An identifier ACE guards as ``="..."`` in CSV; Excel turns it into a number if it is all digits."""


@dataclass(frozen=True)
class Formula:
    """An XLSX formula cell with its cached value (what Excel stored the last time it calculated)."""

    expression: str
    cached: object = None


def entry_number(filer: str, serial: int) -> str:
    first10 = f"{filer}{serial:07d}"
    return first10 + str(check_digit(first10))


# ------------------------------------------------------------------ realistic rows
_COMMODITIES = ["8516797000", "9403608081", "3924104000", "8471300100", "6403999065", "4202929100", "8528720000",
                "0101210010", "7323930080", "9503000073", "6109100012", "8443321010"]
# (heading, rate) Chapter 99 lines: IEEPA fentanyl/reciprocal, a zero-duty IEEPA exception, Section 301.
_CH99 = [("99030124", Decimal("0.10")), ("99030125", Decimal("0.10")), ("99030132", Decimal("0")),
         ("99030201", Decimal("0.10")), ("99038815", Decimal("0.25"))]
_STATUSES = ["Unliquidated", "Liquidated", "Liquidated", "Suspended", "Extended"]


def es003_rows(
    n_lines: int,
    *,
    seed: int = 1,
    layout: str = "extended",
    importers: Sequence[tuple[str, str]] = DEFAULT_IMPORTERS,
    filer: str = "3BZ",
    first_serial: int = 5500000,
    first_entry_date: date = date(2025, 3, 3),
) -> Iterator[list[object]]:
    """Exactly ``n_lines`` data rows (tariff ordinals) in the column order of ``layout``, deterministic."""
    rng = random.Random(seed)
    extended = layout == "extended"
    produced, serial = 0, first_serial
    while produced < n_lines:
        ir, name = importers[serial % len(importers)]
        number = Text(entry_number(filer, serial))
        serial += 1
        entry_date = first_entry_date + timedelta(days=rng.randrange(0, 330))
        summary_date = entry_date + timedelta(days=8)
        status = rng.choice(_STATUSES) if entry_date < date(2025, 11, 1) else "Unliquidated"
        liq_date = entry_date + timedelta(days=314) if status == "Liquidated" else None
        etype = rng.choice(["01", "01", "01", "11", "21"])
        country = rng.choice(["CN", "CN", "CN", "VN", "MX", "CA", "IN"])
        recon = "Y" if rng.random() < 0.03 else "N"
        for line in range(1, rng.randint(1, 4) + 1):
            value = Decimal(rng.randrange(10_000, 5_000_000)) / 100
            ordinals: list[tuple[str, Decimal | None, Decimal]] = [(rng.choice(_COMMODITIES), value, Decimal("0.00"))]
            for heading, rate in rng.sample(_CH99, rng.randint(1, 2)):
                ordinals.append((heading, None, (value * rate).quantize(Decimal("0.01"))))
            for ordinal, (hts, goods, duty) in enumerate(ordinals, start=1):
                if produced >= n_lines:
                    return
                row: list[object] = [
                    number, line, Text(etype), Text(ir), name, Text("1001"), entry_date, summary_date, country,
                    country, ordinal, Text(hts), goods if goods is not None else Decimal("0.00"), duty,
                    rng.randint(1, 500) if ordinal == 1 else 0, "PCS" if ordinal == 1 else "",
                ]
                if extended:
                    row += [liq_date, status, recon, "", "", "N", "Harbor Customs Brokerage", entry_date, "", "CNMANUF123SHA"]
                produced += 1
                yield row


# ------------------------------------------------------------------ CSV as ACE writes it
def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Text):
        return f'="{value}"'
    if isinstance(value, Decimal):
        text = f"${abs(value):,.2f}"
        text = f"({text})" if value < 0 else text
    elif isinstance(value, datetime):
        text = value.strftime("%m/%d/%Y")
    elif isinstance(value, date):
        text = value.strftime("%m/%d/%Y")
    elif isinstance(value, Formula):
        text = "=" + value.expression
    else:
        text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(
    path: str | Path,
    rows: Iterable[Sequence[object]],
    *,
    header: Sequence[str] | None = None,
    layout: str = "extended",
    title_lines: Sequence[str] = (),
    encoding: str = "utf-8",
) -> Path:
    path = Path(path)
    header = list(header or (EXTENDED_COLUMNS if layout == "extended" else STANDARD_COLUMNS))
    with path.open("w", encoding=encoding, newline="") as fh:
        for title in title_lines:
            fh.write(_csv_cell(title) + "\r\n")
        if title_lines:
            fh.write("\r\n")
        fh.write(",".join(_csv_cell(h) for h in header) + "\r\n")
        write = fh.write
        for row in rows:
            write(",".join(_csv_cell(v) for v in row) + "\r\n")
    return path


# ------------------------------------------------------------------ XLSX as Excel saves it
_EXCEL_EPOCH = date(1899, 12, 30)
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{sheets}<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="&quot;$&quot;#,##0.00"/></numFmts><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"""


def _col(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


class _SharedStrings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def get(self, s: str) -> int:
        self.count += 1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.index)
        return i


def _xlsx_cell(ref: str, value: object, sst: _SharedStrings, excel_numbers: bool) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Formula):
        cached = "" if value.cached is None else f"<v>{escape(str(value.cached))}</v>"
        return f'<c r="{ref}"><f>{escape(value.expression)}</f>{cached}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, Decimal):
        return f'<c r="{ref}" s="2"><v>{value}</v></c>'
    if isinstance(value, datetime):
        delta = value - datetime(1899, 12, 30)
        return f'<c r="{ref}" s="1"><v>{delta.days + delta.seconds / 86400}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="1"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = str(value)
    if excel_numbers and isinstance(value, Text) and text.isdigit() and len(text) < 16:
        # Excel converts a digit-only identifier to a number: leading zeros are lost.
        return f'<c r="{ref}"><v>{int(text)}</v></c>'
    return f'<c r="{ref}" t="s"><v>{sst.get(text)}</v></c>'


def write_xlsx(
    path: str | Path,
    rows: Iterable[Sequence[object]],
    *,
    header: Sequence[str] | None = None,
    layout: str = "extended",
    title_lines: Sequence[str] = (),
    sheet_name: str = "Main Report",
    extra_sheets: Sequence[str] = (),
    excel_numbers: bool = True,
) -> Path:
    """Write a workbook; ``extra_sheets`` are empty sheets placed *before* the report sheet."""
    path = Path(path)
    header = list(header or (EXTENDED_COLUMNS if layout == "extended" else STANDARD_COLUMNS))
    sst = _SharedStrings()
    names = list(extra_sheets) + [sheet_name]
    report_index = len(names)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(1, report_index):
            zf.writestr(f"xl/worksheets/sheet{i}.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}"><sheetData/></worksheet>')
        with zf.open(f"xl/worksheets/sheet{report_index}.xml", "w", force_zip64=True) as raw:
            buf: list[str] = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}"><sheetData>']
            r = 0

            def emit(values: Sequence[object]) -> None:
                nonlocal r
                r += 1
                cells = "".join(_xlsx_cell(f"{_col(c)}{r}", v, sst, excel_numbers) for c, v in enumerate(values))
                buf.append(f'<row r="{r}">{cells}</row>')
                if len(buf) >= 2000:
                    raw.write("".join(buf).encode())
                    buf.clear()

            for title in title_lines:
                emit([title])
            if title_lines:
                r += 1
            emit(header)
            for row in rows:
                emit(row)
            buf.append("</sheetData></worksheet>")
            raw.write("".join(buf).encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as raw:
            raw.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{_NS}" count="{sst.count}" uniqueCount="{len(sst.index)}">'.encode())
            chunk: list[str] = []
            for s in sst.index:
                chunk.append(f'<si><t xml:space="preserve">{escape(s)}</t></si>')
                if len(chunk) >= 5000:
                    raw.write("".join(chunk).encode())
                    chunk.clear()
            raw.write(("".join(chunk) + "</sst>").encode())
        sheets = "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1))
        zf.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>{sheets}</sheets></workbook>')
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1)
        )
        n = len(names) + 1
        rels += f'<Relationship Id="rId{n}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        rels += f'<Relationship Id="rId{n + 1}" Type="{_REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        zf.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(names) + 1)
        )
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("{sheets}", overrides))
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
    return path


def write_es003(path: str | Path, n_lines: int, *, fmt: str | None = None, layout: str = "extended", seed: int = 1,
                title_lines: Sequence[str] = TITLE_LINES, **kwargs: object) -> Path:
    """A deterministic ES-003 of ``n_lines`` lines, CSV or XLSX by ``fmt`` (default: the path's suffix)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    rows = es003_rows(n_lines, seed=seed, layout=layout, **kwargs)  # type: ignore[arg-type]  # kwargs: es003_rows' own options
    if fmt == "xlsx":
        return write_xlsx(path, rows, layout=layout, title_lines=title_lines)
    return write_csv(path, rows, layout=layout, title_lines=title_lines)
