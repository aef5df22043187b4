"""The Protest Details Spreadsheet, the reason for protest and CBP protest numbers, over plain data (no ORM).

Sources (shared/domain/README.md §7a):
* CBP CAMS guidance "Recommended Submission of Spreadsheets for Entry Changes Being Protested": a
  spreadsheet (Excel, CSV or TXT) uploaded with the protest whose first four columns are fixed as Entry
  Number, Entry Line Number, Change From, Change To; more columns may follow.
* ACE Protest Module: attachments up to 10 MB each (CBP ACE Protest FAQ).
* Protest numbers: 4-digit port code, 2-digit year, 6-digit serial (e.g. 2704-26-100412).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

ZERO = Decimal("0.00")

# CBP CAMS guidance: columns 1-4 fixed, in this order; ours follow.
FIXED_COLUMNS = ["Entry Number", "Entry Line Number", "Change From", "Change To"]
SPREADSHEET_COLUMNS = [*FIXED_COLUMNS, "Chapter 99 HTS Number", "Commodity HTS Number", "IEEPA Duty",
                       "Liquidation Date", "Port of Entry"]

# ACE Protest Module: each attachment at most 10 MB (CBP ACE Protest FAQ). Counted as 10,000,000 bytes (the
# smaller reading of "MB"), and the CSV, always the larger of our two formats (the XLSX is compressed), is
# kept under 9,500,000 so that neither file comes near it.
ACE_ATTACHMENT_LIMIT = 10_000_000
SPREADSHEET_BUDGET = 9_500_000


@lru_cache(maxsize=65536)
def hts_dotted(hts: str) -> str:
    """HTSUS numbers as printed: 9903.01.25 (from 9903012500), 3923.90.00.80."""
    digits = "".join(c for c in hts if c.isdigit())
    if len(digits) == 10 and digits.startswith("99") and digits.endswith("00"):
        digits = digits[:8]  # Chapter 99 provisions are 8-digit headings; the ES-003 pads them to 10
    if len(digits) not in (8, 10):
        return hts
    parts = [digits[:4], digits[4:6], digits[6:8]] + ([digits[8:]] if len(digits) == 10 else [])
    return ".".join(parts)


def entry_number_display(n: str) -> str:
    return f"{n[:3]}-{n[3:10]}-{n[10:]}" if len(n) == 11 else n


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One IEEPA tariff line (an ES-003 Chapter 99 row of an entry-summary line)."""

    entry_number: str
    line_number: int
    hts: str  # the Chapter 99 heading, 9903.01.xx / 9903.02.xx
    duty: Decimal
    commodity_hts: str  # the line's commodity HTS (its non-Chapter 99 row), blank when the report had none
    liquidation_date: date | None
    port_code: str

    @property
    def hts_display(self) -> str:
        return hts_dotted(self.hts)


def change_from(line: SheetLine) -> str:
    return f"{hts_dotted(line.hts)} duty {line.duty:.2f}"


def change_to(line: SheetLine) -> str:
    # The duty the protestant asks for on the line: none (Learning Resources, Inc. v. Trump).
    return f"{hts_dotted(line.hts)} duty 0.00"


def text_row(line: SheetLine) -> list[str]:
    hts = hts_dotted(line.hts)
    duty = f"{line.duty:.2f}"
    return [line.entry_number, str(line.line_number), f"{hts} duty {duty}", f"{hts} duty 0.00", hts,
            hts_dotted(line.commodity_hts) if line.commodity_hts else "", duty,
            f"{line.liquidation_date:%m/%d/%Y}" if line.liquidation_date else "", line.port_code]


def _csv_text(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()


# Only the values that come from a report as typed could need CSV quoting; the others are formatted here.
_NEEDS_QUOTING = re.compile(r'[",\r\n]')


def csv_line(line: SheetLine) -> str:
    """The line's CSV record, CRLF-terminated, as the csv module writes it (quoting only when a value needs it)."""
    if _NEEDS_QUOTING.search(line.entry_number + line.hts + line.commodity_hts + line.port_code):
        return _csv_text([text_row(line)])
    return ",".join(text_row(line)) + "\r\n"


def header_bytes() -> int:
    return len(_csv_text([SPREADSHEET_COLUMNS]).encode("utf-8"))


def line_bytes(line: SheetLine) -> int:
    """What the line adds to the CSV, exactly (the split into protests counts with it)."""
    return len(csv_line(line).encode("utf-8"))


def render_csv(lines: Iterable[SheetLine]) -> bytes:
    """UTF-8 without BOM, CRLF line ends (RFC 4180), header first."""
    return (_csv_text([SPREADSHEET_COLUMNS]) + "".join(csv_line(line) for line in lines)).encode("utf-8")


def _detail_rows(lines: Iterable[SheetLine]) -> Iterator[str]:
    from protests import xlsx

    yield xlsx.header(SPREADSHEET_COLUMNS)
    text, day = xlsx.text, xlsx.day
    for line in lines:
        hts = hts_dotted(line.hts)
        duty = f"{line.duty:.2f}"
        yield (f"<row>{text(line.entry_number)}<c><v>{line.line_number}</v></c>{text(f'{hts} duty {duty}')}"
               f"{text(f'{hts} duty 0.00')}{text(hts)}{text(hts_dotted(line.commodity_hts)) if line.commodity_hts else '<c/>'}"
               f'<c s="{xlsx.MONEY}"><v>{duty}</v></c>{day(line.liquidation_date)}{text(line.port_code) if line.port_code else "<c/>"}</row>')


def render_xlsx(lines: Iterable[SheetLine], summary: list[tuple[str, Any]]) -> bytes:
    """Sheet "Protest Details" (the CBP columns, one row per line; entry numbers and HTS numbers as text so
    that Excel keeps their leading zeros; the duty a number with two decimals; the liquidation date a date),
    then a "Summary" sheet with the protest's facts and totals."""
    from protests import xlsx

    return xlsx.workbook([
        ("Protest Details", _detail_rows(lines)),
        ("Summary", (xlsx.row([neutralise(label), neutralise(value)]) for label, value in summary)),
    ])


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe (OWASP CSV injection guidance)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def split_by_size(groups: Iterable[tuple[Any, int]], budget: int) -> Iterator[list[Any]]:
    """Consecutive groups (an entry and the bytes its lines add) into chunks whose header plus lines stay
    within ``budget``; an entry is never split across two protests. A single entry larger than the budget
    (thousands of lines) still gets a protest of its own."""
    chunk: list[Any] = []
    used = header_bytes()
    for item, size in groups:
        if chunk and used + size > budget:
            yield chunk
            chunk, used = [], header_bytes()
        chunk.append(item)
        used += size
    if chunk:
        yield chunk


# ----------------------------------------------------------------------------- protest numbers
_PROTEST_NUMBER = re.compile(r"^(\d{4})(\d{2})(\d{6})$")


class ProtestNumberError(ValueError):
    pass


def parse_protest_number(raw: str, *, filed_on: date | None = None) -> str:
    """CBP numbers a protest by its port code (4 digits), the year (2 digits) and a serial (6 digits), e.g.
    2704-26-100412 (shared/domain/README.md §7a). Typed with or without dashes or spaces; stored as the 12
    digits. The year must be the filing date's."""
    compact = re.sub(r"[\s\-]", "", raw or "")
    m = _PROTEST_NUMBER.match(compact)
    if not m:
        raise ProtestNumberError(
            "A protest number is the port code (4 digits), the year (2 digits) and a serial number (6 digits), "
            "for example 2704-26-100412."
        )
    if filed_on is not None and int(m.group(2)) != filed_on.year % 100:
        raise ProtestNumberError(
            f"The year in the protest number ({m.group(2)}) is not the year it was filed ({filed_on:%y}): "
            "CBP numbers a protest with the year of filing."
        )
    return compact


# ----------------------------------------------------------------------------- the reason for protest
DEFAULT_REASON = (
    "The protestant protests the liquidation of each entry listed, including the assessment of duties under "
    "the Chapter 99 headings 9903.01 and 9903.02 of the Harmonized Tariff Schedule of the United States, "
    "imposed under the International Emergency Economic Powers Act (IEEPA), on the lines listed in the "
    "attached Protest Details Spreadsheet.\n\n"
    "On February 20, 2026 the Supreme Court of the United States held in Learning Resources, Inc. v. Trump "
    "that IEEPA does not authorize the imposition of tariffs. The duties assessed under those headings were "
    "therefore collected without legal authority.\n\n"
    "The protestant asks U.S. Customs and Border Protection to reliquidate each entry without the IEEPA "
    "duties (duty 0.00 on each listed line, as set out in the Change From and Change To columns of the "
    "spreadsheet) and to refund the duties deposited, with interest as provided by 19 U.S.C. 1505.\n\n"
    "This protest is filed under 19 U.S.C. 1514 within 180 days after liquidation (19 U.S.C. 1514(c)(3))."
)
