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

``Es003Parser.feed`` is the row path: it caches every repair by raw value and re-parses entry-level
columns only when they differ from the previous row's. XLSX files and every entry the vectorised CSV
path (``entries.es003_fast``) does not accept go through it; that path calls its repair functions, so
the two never disagree.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from accounts.irnumber import InvalidIRNumber, canonical_ir_number, mask_ir_number
from entries import entrynumber, xlsxrange
from entries.hts import ieepa_prefixes
from entries.spellings import normalize_reason_code

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
    # The extended ES-003 layout has it per line ("Line Post Summary Correction Indicator"): an entry with a
    # corrected line is flagged (Es003Parser._parse_entry keeps the flag once any row of the entry sets it).
    "psc_flag": ("Post Summary Correction Indicator", ("postsummarycorrectionindicator", "postsummarycorrectionflag", "pscindicator",
                                                       "linepostsummarycorrectionindicator", "linepscindicator")),
    "filer_name": ("Filer Name", ("filername", "brokername")),
    # Optional columns kept when present (domain README §5, "optional added columns"). Importation Date is
    # the entry's (CBP Form 7501 block 11, Import Date); the rest are per tariff line: ES-003 repeats them on
    # every row, and the 7501 instructions allow a different manufacturer and exporting country per line
    # (blocks 13 and 14: "MULTI" in the header, the value at line level).
    "importation_date": ("Importation Date", ("importationdate", "importdate", "dateofimportation")),
    # ACE Entry Summary Query: Liquidation Reason Code (36 = refunded through CAPE; ruleset 2026.12 R3).
    "liquidation_reason_code": ("Liquidation Reason Code", ("liquidationreasoncode", "liquidationreason")),
    "country_of_export": ("Country of Export Code", ("countryofexportcode", "countryofexport", "exportcountrycode",
                                                     "exportingcountrycode", "exportingcountry")),
    "spi_code": ("Line SPI Code", ("linespicode", "spicode", "linespi", "spi")),
    "manufacturer_id": ("Manufacturer ID", ("manufacturerid", "manufactureridentificationcode", "manufactureridcode",
                                            "linemanufacturerid", "mid")),
    "quantity": ("Line Tariff Quantity (1)", ("linetariffquantity1", "linetariffquantity", "tariffquantity1", "quantity1")),
    "uom": ("Line Tariff UOM (1) Code", ("linetariffuom1code", "linetariffuomcode", "linetariffuom1", "uom1code",
                                         "unitofmeasure1code", "uom1")),
}
HEADER_MAP: dict[str, str] = {spelling: fld for fld, (_, spellings) in HEADERS.items() for spelling in spellings}
LABELS: dict[str, str] = {fld: label for fld, (label, _) in HEADERS.items()}
REQUIRED = ("entry_number", "entry_type", "importer_number", "hts", "duty")
REQUIRED_ONE_OF = ("entry_date", "entry_summary_date")
ENTRY_FIELDS = ("entry_number", "entry_type", "importer_number", "importer_name", "port_code", "entry_date",
                "entry_summary_date", "liquidation_date", "liquidation_status", "recon_flag", "protest_number",
                "protest_status", "psc_flag", "filer_name", "importation_date", "liquidation_reason_code")
LINE_FIELDS = ("line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "country_of_export", "spi_code",
               "manufacturer_id", "quantity", "uom")

# Liquidation Status wording -> the ruleset's code (Entry.LiquidationStatus, cape.rules.LIQUIDATION_STATUSES).
# shared/domain/rules.md "Inputs": free text mapped case-insensitively (spacing ignored); anything else is
# unknown, stored as "unknown" with a warning and its raw text kept. The ruleset reads only the codes.
LIQUIDATION_STATUSES: dict[str, str] = {
    "unliquidated": "unliquidated", "open": "unliquidated", "not liquidated": "unliquidated",
    "liquidated": "liquidated", "closed": "liquidated",
    "suspended": "suspended",
    "extended": "extended",
    "under review": "under_review", "in review": "under_review", "under_review": "under_review",
    "final": "final", "finally liquidated": "final",
    # rules.md 2026.12 spellings ("pending" alone stays unknown). A deemed liquidation (19 U.S.C. 1504(d)) and a
    # reliquidation are liquidations; the ES-003 Liquidation Date is then the latest liquidation.
    "pending liquidation": "unliquidated", "final liquidation": "final",
    "deemed liquidated": "liquidated", "reliquidated": "liquidated",
}


def normalise_liquidation_status(raw: str | None) -> str:
    """An ES-003 Liquidation Status (or an already normalised code) as one of the ruleset's seven codes."""
    return LIQUIDATION_STATUSES.get(" ".join((raw or "").strip().lower().split()), "unknown")


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


_FLOAT_LIKE = re.compile(r"^\d+(\.\d+)?([eE][+-]?\d+)?$", re.ASCII)


def _integral_text(s: str) -> str:
    """'6.0576069342E10' or '60576069342.0' → '60576069342' (numbers Excel turned into floats)."""
    if _FLOAT_LIKE.match(s) and ("." in s or "e" in s.lower()):
        try:
            d = Decimal(s)
        except InvalidOperation:
            return s
        if d.adjusted() < 30 and d == d.to_integral_value():  # never expand '1E999999' into a million digits
            return str(int(d))
    return s


def parse_entry_number(value: object) -> str:
    """11 characters, filer code + serial + check digit: ``entries.entrynumber.parse`` (its repairs), the
    reason as a ``RepairError``. A wrong check digit is stored and warned about, not refused."""
    try:
        return entrynumber.parse(value)
    except entrynumber.EntryNumberError as exc:
        raise RepairError(str(exc)) from None


def parse_entry_type(value: object) -> str:
    s = _integral_text(_text(value))
    if not s:
        raise RepairError("the entry type is blank")
    if not (s.isascii() and s.isdigit()) or len(s) > 2:
        raise RepairError("an entry type code is two digits (e.g. 01, 11, 21)")
    return s.zfill(2)


def parse_ir_number(value: object) -> str:
    s = _integral_text(_text(value))
    if s.isascii() and s.isdigit() and len(s) == 10:
        s = s.zfill(11)  # an EIN+suffix whose leading zero Excel dropped
    try:
        return canonical_ir_number(s)
    except InvalidIRNumber as exc:
        raise RepairError(f"not a valid importer number: {exc.reason}") from None


_MONEY = re.compile(r"^-?\d+(\.\d+)?$", re.ASCII)
_CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal("1e14")  # numeric(16,2): the database refuses anything larger
_TOO_LARGE = "the amount is too large to be a duty or value"


def _quantized(d: Decimal) -> Decimal:
    if not d.is_finite():
        raise RepairError("not an amount (not a finite number)")
    if abs(d) >= _MONEY_LIMIT:
        raise RepairError(_TOO_LARGE)
    try:
        return d.quantize(_CENT)
    except InvalidOperation:  # more digits than the decimal context holds
        raise RepairError(_TOO_LARGE) from None


def shown_ir_number(value: object) -> str:
    """An importer number as an error report may show it: SSN-form numbers masked (they are personal data)."""
    s = _text(value)
    try:
        canonical = parse_ir_number(value)
    except RepairError:
        return mask_ir_number(s)
    masked = mask_ir_number(canonical)
    return s if masked == canonical else masked


# The decimal separator of a file (``Layout.decimal``): "." as ACE writes (``$2,567.49``), "," as Excel writes
# CSV in locales whose list separator is ";" (``850,00``, ``1.200,50``), or "?" when the first rows of a file
# with such a list separator do not show which: values that could be read either way are then refused.
_GROUPED_POINT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+", re.ASCII)
_GROUPED_COMMA = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d+", re.ASCII)
_AMBIGUOUS = re.compile(r"[1-9]\d{0,2}[.,]\d{3}", re.ASCII)  # 1,200 or 1.200: a thousands or a decimal separator
_DECIMAL_CHARS = re.compile(r"[0-9.,]+", re.ASCII)


def decimal_evidence(value: object) -> str | None:
    """What a cell says about its file's decimal separator: ".", ",", "?" (either), or None (nothing)."""
    if not isinstance(value, str):
        return None
    core = _text(value).upper().replace("$", "").replace("USD", "").replace(" ", "").replace("\u00a0", "")
    core = core.strip("()-")
    if not _DECIMAL_CHARS.fullmatch(core) or ("." not in core and "," not in core):
        return None
    if _AMBIGUOUS.fullmatch(core):
        return "?"
    if _GROUPED_POINT.fullmatch(core):
        return "."
    if _GROUPED_COMMA.fullmatch(core):
        return ","
    return None


def _point_form(s: str, *, decimal: str) -> str:
    """Digits and separators in the file's convention → digits with a decimal point (thousands dropped)."""
    if decimal == ",":
        if "." in s and not _GROUPED_COMMA.fullmatch(s):
            raise RepairError("written with a decimal point, but this file writes decimals with a comma "
                              "(e.g. 1.234,56); export the report again with one number format")
        return s.replace(".", "").replace(",", ".")
    if "," in s and not _GROUPED_POINT.fullmatch(s):
        if decimal == "?":
            raise RepairError("written with a decimal comma; the first rows of this file do not show whether it "
                              "writes decimals with a point or a comma: export the report again with $1,234.56 amounts")
        raise RepairError("written with a decimal comma (e.g. 850,00), but this file writes decimals with a point "
                          "(e.g. $2,567.49); export the report again with one number format")
    if decimal == "?" and _AMBIGUOUS.fullmatch(s):
        raise RepairError(f"{s} could be read with a decimal point or a decimal comma, and the first rows of this file "
                          "do not show which it uses: export the report again with $1,234.56 amounts")
    return s.replace(",", "")


def parse_money(value: object, *, blank: str | None = "0.00", decimal: str = ".") -> str | None:
    """A validated decimal string with two places. ``$2,567.49``, ``FREE`` (0), blank (``blank``), ``(12.00)``;
    with ``decimal=","`` also ``850,00`` and ``1.200,50``."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise RepairError("not an amount (not a finite number)")
        return str(_quantized(Decimal(repr(value) if isinstance(value, float) else value)))
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
    up = up.replace("$", "").replace(" ", "").replace("\u00a0", "").replace("USD", "")
    if up.startswith("-"):
        negative, up = not negative if negative else True, up[1:]
    if up.endswith("-"):  # trailing minus (some exports)
        negative, up = True, up[:-1]
    up = _point_form(up, decimal=decimal)
    if not _MONEY.match(up):
        raise RepairError("not an amount (expected e.g. $2,567.49, FREE, (12.00) or blank)")
    d = _quantized(Decimal(up))
    return str(-d if negative else d)


_EXCEL_EPOCH = date(1899, 12, 30)
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$", re.I | re.ASCII)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII)
_SERIAL = re.compile(r"^\d{4,5}(\.\d+)?$", re.ASCII)
_SERIAL_MAX = 2_958_465  # 9999-12-31, the last day Excel can hold


def _serial_date(serial: float) -> date:
    if not (math.isfinite(serial) and 1 <= serial <= _SERIAL_MAX):
        raise RepairError("not a date: an Excel date serial number is between 1 and 2,958,465")
    return _checked(_EXCEL_EPOCH + timedelta(days=int(serial)))


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
        return _serial_date(float(value) if isinstance(value, float) or abs(value) < 1 << 53 else math.inf)
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
        return _serial_date(float(s))
    raise RepairError("not a date (expected MM/DD/YYYY, YYYY-MM-DD or an Excel date)")


def parse_hts(value: object) -> str:
    """Digits only: '9903.01.25' and '99030125' are the same; leading zeros Excel dropped are restored."""
    s = _integral_text(_text(value))
    if not s:
        raise RepairError("the HTS number is blank")
    digits = s.replace(".", "").replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        raise RepairError("an HTS number is digits, with or without dots (e.g. 9903.01.25 or 3923900080)")
    if len(digits) in (7, 9):
        digits = "0" + digits  # chapters 01-09 lose their leading zero when Excel reads them as numbers
    if len(digits) not in (4, 6, 8, 10):
        raise RepairError("an HTS number has 8 or 10 digits")
    return digits


def parse_int(value: object, *, what: str) -> int:
    s = _integral_text(_text(value))
    if not (s.isascii() and s.isdigit()):
        raise RepairError(f"the {what} is not a whole number")
    n = int(s)
    if n > 999_999:
        raise RepairError(f"the {what} is too large")
    return n


def parse_flag(value: object) -> bool:
    return _text(value).upper() in _TRUE


# rules.md "Inputs" (2026.12): Reconciliation Indicator Y, Yes, True or 1 (any case); anything else is no flag.
_RECON_TRUE = frozenset({"Y", "YES", "TRUE", "1"})


def parse_recon_flag(value: object) -> bool:
    return _text(value).strip().upper() in _RECON_TRUE


def parse_code(value: object, *, length: int, pad: int = 0) -> str:
    """A short code; ``pad`` restores leading zeros Excel dropped from an all-digit code (ports are 4 digits)."""
    s = _integral_text(_text(value)).upper()
    if pad and s.isascii() and s.isdigit() and len(s) < pad:
        s = s.zfill(pad)
    return s[:length]


def _checked_code(value: object, pattern: re.Pattern[str], reason: str, *, drop: str = "") -> str:
    """A code that must have a known shape (blank allowed): ``parse_code``'s repairs, then the shape check."""
    s = _integral_text(_text(value)).upper()
    for c in drop:
        s = s.replace(c, "")
    if not s:
        return ""
    if _is_formula(s):
        raise RepairError("a formula is not a code (formulas are never evaluated)")
    if not pattern.fullmatch(s):
        raise RepairError(reason)
    return s


# Country codes are ISO 3166-1 alpha-2 (CBP Form 7501 instructions, blocks 10 Country of Origin and 14
# Exporting Country). Checked rather than cut to two characters: "CHINA" cut would read as CH, Switzerland.
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
# Special Program Indicators are one or two letters, some followed by *, + or # (HTSUS General Note 3(c)(i),
# e.g. A, A+, CA, MX, S+).
_SPI = re.compile(r"[A-Z]{1,2}[*+#]?", re.ASCII)
# The manufacturer identification code is at most 15 letters and digits (CBP Form 7501 instructions,
# block 13, and their appendix on constructing the MID).
_MID = re.compile(r"[A-Z0-9]{1,15}", re.ASCII)
# Units of quantity are short HTSUS abbreviations (No., kg, doz., m2, X; ACE writes NO, KG, DOZ, M2, X).
_UOM = re.compile(r"[A-Z0-9]{1,4}", re.ASCII)


def parse_country_code(value: object) -> str:
    return _checked_code(value, _COUNTRY, "a country code is two letters (ISO 3166-1 alpha-2, e.g. CN)")


def parse_spi_code(value: object) -> str:
    return _checked_code(value, _SPI, "a Special Program Indicator is one or two letters, optionally followed by *, + or # "
                                      "(HTSUS General Note 3(c)(i), e.g. A+, CA, S+)")


def parse_manufacturer_id(value: object) -> str:
    return _checked_code(value, _MID, "a Manufacturer ID is up to 15 letters and digits (CBP Form 7501 instructions, block 13)",
                         drop=" -")


def parse_uom(value: object) -> str:
    return _checked_code(value, _UOM, "a unit of measure is an HTSUS unit abbreviation of up to 4 letters or digits (e.g. NO, KG, DOZ, M2)",
                         drop=". ")


_QUANTITY = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
_QUANTITY_PLACES = Decimal("0.0001")
_QUANTITY_LIMIT = Decimal("1e14")  # numeric(18,4)


def parse_quantity(value: object, *, decimal: str = ".") -> str | None:
    """Line Tariff Quantity as decimal text with 4 places (``1,250`` → ``1250.0000``); blank → None.

    Never negative; more than 4 decimal places is refused rather than rounded (a quantity is kept as reported).
    """
    if isinstance(value, bool):
        raise RepairError("not a quantity (expected a number such as 1,250 or 12.5)")
    if isinstance(value, float | int):
        if isinstance(value, float) and not math.isfinite(value):
            raise RepairError("not a quantity (not a finite number)")
        d = Decimal(repr(value) if isinstance(value, float) else value)
    else:
        s = _text(value)
        if not s:
            return None
        if _is_formula(s):
            raise RepairError("a formula is not a quantity (formulas are never evaluated)")
        t = s.replace(" ", "").replace("\u00a0", "")
        if _DECIMAL_CHARS.fullmatch(t.lstrip("-")):
            t = t[:1] + _point_form(t[1:], decimal=decimal) if t.startswith("-") else _point_form(t, decimal=decimal)
        if not _QUANTITY.fullmatch(t):
            raise RepairError("not a quantity (expected a number such as 1,250 or 12.5)")
        d = Decimal(t)
    if d < 0:
        raise RepairError("a quantity is never negative")
    if d >= _QUANTITY_LIMIT:
        raise RepairError("the quantity is too large")
    q = d.quantize(_QUANTITY_PLACES)
    if q != d:
        raise RepairError("a quantity has at most 4 decimal places")
    return str(abs(q))


def parse_liquidation_status(value: object) -> tuple[str, str]:
    raw = _text(value)[:60]
    if not raw.strip():
        return "unknown", ""
    return normalise_liquidation_status(raw), raw


def parse_reason_code(value: object) -> int | None:
    """Liquidation Reason Code read as a number (`36`, `036`, `36.0` are 36; rules.md 2026.12); blank is None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    code = normalize_reason_code(_text(value))
    if code is None and _text(value).strip():
        raise RepairError("a liquidation reason code is a whole number, such as 36")
    if code is not None and not 0 <= code <= 32767:
        raise RepairError("a liquidation reason code is a number from 0 to 32767")
    return code


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
    decimal: str = "."  # the file's decimal separator: ".", "," or "?" (see _point_form)

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
        headers, found = [_text(c) for c in nonblank if _text(c)], {}
    else:
        headers, found = [_text(c) for c in best[2] if _text(c)], best[3]
    missing = _missing(found)
    near = _near_misses(headers, found)
    said = ""
    if near:
        said = " Columns that look like them but are not ES-003 columns: " + "; ".join(
            f'"{h}" (not {label})' for h, label in near[:10]) + "."
        if any("ieepa" in normalise_header(h) for h, _ in near):
            said += " A column named for IEEPA duty belongs to a broker's or consultant's workbook, not to an ACE report."
    shown = ", ".join(f'"{h}"' for h in headers[:40]) or "none"
    more = f" and {len(headers) - 40} more" if len(headers) > 40 else ""
    raise Es003FileError(
        f"{file_label} is not an ES-003 Entry Summary Line Tariff Details report: required column(s) missing: "
        f"{', '.join(missing)}.{said} In ACE Reports run ES-003 \"Entry Summary Line Tariff Details\" and upload its "
        f"CSV or XLSX export. Headers found (first {HEADER_SCAN_ROWS} rows searched): {shown}{more}."
    )


# Words that mark a header as a near miss for a required column it does not match (find_layout's message).
_NEAR_WORDS: dict[str, tuple[str, ...]] = {
    "entry_number": ("entry", "entrysummary"), "entry_type": ("type",), "importer_number": ("importer", "ior", "ein"),
    "hts": ("hts", "harmonized", "tariff"), "duty": ("duty", "ieepa"), "entry_date": ("date",), "entry_summary_date": ("date",),
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
            if any(w in key for w in _NEAR_WORDS.get(f, ())) or difflib.get_close_matches(key, spellings, n=1, cutoff=0.75):
                label = LABELS[f] if f != "entry_date" else f"{LABELS['entry_date']} or {LABELS['entry_summary_date']}"
                out.append((h, label))
                break
    return out


DECIMAL_SCAN_ROWS = 5_000
_DECIMAL_FIELDS = ("duty", "goods_value", "quantity")


def detect_decimal(rows: list[tuple[int, list[Any]]], layout: Layout, *, list_separator: str | None, file_label: str) -> str:
    """The file's decimal separator from the text cells of its money and quantity columns in ``rows``: "." or ",",
    or "?" when nothing in them tells and the list separator is not a comma. A file uses one convention: one that
    shows both, or only values that read either way (1,200 / 1.200) with a ";" or tab list separator, is refused."""
    cols = [(f, layout.columns[f]) for f in _DECIMAL_FIELDS if f in layout.columns]
    found: dict[str, tuple[str, str]] = {}  # evidence -> (column label, value) where first seen
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
            if kind is not None and kind not in found:
                found[kind] = (LABELS[f], _text(v))
    if "." in found and "," in found:
        (pc, pv), (cc, cv) = found["."], found[","]
        raise Es003FileError(
            f'{file_label} writes numbers both with a decimal point ({pc} "{pv}") and with a decimal comma ({cc} "{cv}"), '
            "so its amounts cannot be read safely. Export the report again from ACE (amounts as $2,567.49) or save "
            "it from Excel with one number format.")
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
            "report again from ACE (amounts as $2,567.49), or with two decimals on every amount (850,00).")
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
            found = max((len(_match_header(row)) for row in csv.reader(lines, delimiter=delimiter)), default=0)
        except csv.Error:
            continue
        if found > best_found:
            best, best_found = delimiter, found
    return best


def _csv_file_error(file_label: str, row_no: int, exc: csv.Error) -> Es003FileError:
    limit = csv.field_size_limit()
    if "field larger than field limit" in str(exc):
        return Es003FileError(f"{file_label}: row {row_no} has a cell longer than {limit:,} characters, over the size limit "
                              "for one cell; an ES-003 cell is never that large. Check that the file is a plain ES-003 export.")
    return Es003FileError(f"{file_label}: row {row_no} cannot be read as CSV ({exc}).")


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
        for item in self._rows:
            self._buffered.append(item)
            if len(self._buffered) >= DECIMAL_SCAN_ROWS:
                break
        self.layout.decimal = detect_decimal(self._buffered[:DECIMAL_SCAN_ROWS], self.layout, list_separator=getattr(self, "delimiter", None),
                                             file_label=self.file_label)
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
            raise Es003FileError(f"{self.file_label} has {lines:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range.")
        if utf16:
            encoding = "utf-16"  # the BOM says which byte order
        else:
            encoding = "utf-8-sig"
            try:
                codecs.getincrementaldecoder("utf-8-sig")().decode(sample[: len(sample) - 4] if len(sample) == 1 << 20 else sample, final=False)
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
            raise Es003FileError(f"{self.file_label} has {total:,} rows; the limit is {self.limits.max_rows:,} per file. Split the report by date range.")
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
                        f"{self.file_label}: sheet \"{sheet_name}\" has cells as far as {extent.range} "
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


class ParsedEntry(NamedTuple):
    """An entry's own columns, repaired; the tuple itself is the staging row (``STAGE_ENTRY_COLUMNS``)."""

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
    importation_date: date | None
    liquidation_reason_code: int | None = None


STAGE_ENTRY_COLUMNS = ("entry_number", "importer_ir", "importer_name", "entry_type", "entry_date", "entry_summary_date",
                       "port_code", "filer_code", "filer_name", "liquidation_status", "liquidation_status_raw",
                       "liquidation_date", "recon_flag", "psc_flag", "protest_number", "protest_status", "importation_date",
                       "liquidation_reason_code")
# The order of a staging line tuple (Es003Parser.feed): entries_tariffline's columns, entry_id first.
STAGE_LINE_COLUMNS = ("entry_number", "line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "is_ieepa",
                      "country_of_export", "spi_code", "manufacturer_id", "quantity", "uom")
TARIFFLINE_COLUMNS = ("entry_id", *STAGE_LINE_COLUMNS[1:])

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
    bad_check_rows: list[int] = field(default_factory=list)  # the row where each of bad_check_digits was first met
    fast_lines: int = 0  # lines kept by the vectorised CSV path (entries.es003_fast), not in the parser's own set
    # Entries kept by that path: staging tables (STAGE_ENTRY_COLUMNS, ieepa_duty, total_duty, entry_id), not in
    # ``entries``; and their importers.
    fast_entries: list[Any] = field(default_factory=list)
    fast_importers: set[str] = field(default_factory=set)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    # entry number -> what ``unrepairable`` lists, for an entry whose importer number cannot be repaired
    importer_rejected: dict[str, dict[str, Any]] = field(default_factory=dict)
    # entry number -> [IEEPA duty, total duty] in cents over the entry's kept lines
    sums: dict[str, list[int]] = field(default_factory=dict)

    def good_entries(self) -> list[ParsedEntry]:
        return [e for n, e in self.entries.items() if n not in self.bad_entries]

    def importer_numbers(self) -> set[str]:
        """The importers of every entry kept (both paths)."""
        return {e.importer_ir for e in self.good_entries()} | self.fast_importers

    def entry_rows(self) -> Iterator[tuple[Any, ...]]:
        """Staging rows for good entries: ``STAGE_ENTRY_COLUMNS`` + IEEPA duty + total duty."""
        for number, entry in self.entries.items():
            if number in self.bad_entries:
                continue
            ieepa, total = self.sums.get(number, (0, 0))
            yield (*entry, _cents_text(ieepa), _cents_text(total))


def _cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    q, r = divmod(abs(cents), 100)
    return f"{sign}{q}.{r:02d}"


_FAST_MONEY = re.compile(r"^\d+\.\d\d$", re.ASCII)


def _money_cell(value: Any, decimal: str = ".") -> Any:
    """Money cell → (text, cents) or _Bad. The common ACE shapes ($1,234.56) take the fast path."""
    if type(value) is str and decimal != ",":
        t = value.replace("$", "").replace(",", "")
        if _FAST_MONEY.match(t):
            return t, int(t.replace(".", ""))
    try:
        text = parse_money(value, decimal=decimal)
    except RepairError as exc:
        return _Bad(str(exc))
    return text, int(text.replace(".", "")) if text is not None else 0


def _goods_cell(value: Any, decimal: str = ".") -> Any:
    if type(value) is str and decimal != ",":
        t = value.replace("$", "").replace(",", "")
        if _FAST_MONEY.match(t):
            return t
    try:
        return parse_money(value, blank=None, decimal=decimal)
    except RepairError as exc:
        return _Bad(str(exc))


def line_parsers(decimal: str) -> dict[str, Callable[[Any], Any]]:
    """_LINE_PARSERS for a file with this decimal separator."""
    return {**_LINE_PARSERS, "quantity": lambda x: parse_quantity(x, decimal=decimal)}


_MISSING = object()
# Entry-level column → repair. Each distinct raw value is repaired once per file (cached).
_ENTRY_PARSERS: dict[str, Callable[[Any], Any]] = {
    "entry_number": parse_entry_number,
    "entry_type": parse_entry_type,
    "importer_number": parse_ir_number,
    "importer_name": lambda x: _text(x)[:200],
    "port_code": lambda x: parse_code(x, length=8, pad=4),
    "entry_date": parse_date,
    "entry_summary_date": parse_date,
    "liquidation_date": parse_date,
    "liquidation_status": parse_liquidation_status,
    "recon_flag": parse_recon_flag,
    "psc_flag": parse_flag,
    "protest_number": lambda x: parse_code(x, length=40),
    "protest_status": lambda x: x,
    "filer_name": lambda x: _text(x)[:200],
    "importation_date": parse_date,
    "liquidation_reason_code": parse_reason_code,
}
# Optional line-level column → repair (cached per raw value, like the entry columns).
_LINE_PARSERS: dict[str, Callable[[Any], Any]] = {
    "country_of_export": parse_country_code,
    "spi_code": parse_spi_code,
    "manufacturer_id": parse_manufacturer_id,
    "quantity": parse_quantity,
    "uom": parse_uom,
}
_ENTRY_DEFAULTS: dict[str, Any] = {"entry_number": None, "entry_type": "", "importer_number": "", "recon_flag": False,
                                   "psc_flag": False}

class Es003Parser:
    """Feed rows one at a time; get back staging tuples for lines, and entries/errors at the end.

    An entry with any bad row is held back whole: its number goes to ``bad_entries`` and the merge
    ignores (or deletes) every staged line of it. ``importer_check(ir, name)`` returns a rejection reason for an
    importer the organisation may not load, or None; it is called while COPY holds the database
    connection, so it must answer without querying.
    """

    def __init__(self, layout: Layout, *, file_label: str, importer_check: ImporterCheck | None = None,
                 max_errors: int = 100_000, line_key: Callable[[str], Any] | None = None) -> None:
        self.layout = layout
        # What a staging line carries in place of its entry number (``line_key(number)``, asked once per
        # run of rows of one entry): the merge may know an entry's row id before the entry is written.
        self.line_key = line_key
        self.file_label = file_label
        self.importer_check = importer_check or (lambda ir, name: None)
        self.max_errors = max_errors
        self.result = ParseResult()
        cols = layout.columns
        self._entry_cols = [f for f in ENTRY_FIELDS if f in cols]
        idx = [cols[f] for f in self._entry_cols]
        self._width_needed = max(cols.values()) + 1
        self._entry_getter = itemgetter(*idx) if len(idx) > 1 else (lambda row, i=idx[0]: (row[i],))
        self._i_line = cols.get("line_number")
        self._i_ord = cols.get("ordinal")
        self._i_hts = cols["hts"]
        self._i_goods = cols.get("goods_value")
        self._i_duty = cols["duty"]
        self._i_country = cols.get("country_of_origin")
        # Optional per-line columns kept when present, in staging order after is_ieepa (STAGE_LINE_COLUMNS).
        self._extra_fields = ("country_of_export", "spi_code", "manufacturer_id", "quantity", "uom")
        self._extra_defaults = ("", "", "", None, "")
        self.decimal = layout.decimal
        self.line_parsers = line_parsers(layout.decimal)
        self._extras: list[tuple[Any, ...]] = [
            (j, cols[f], {}, self.line_parsers[f], f) for j, f in enumerate(self._extra_fields) if f in cols
        ]
        self._seen: set[tuple[str, int, int]] = set()
        self._counters: dict[Any, int] = {}
        self._c_line: dict[Any, Any] = {}
        self._c_ord: dict[Any, Any] = {}
        self._c_hts: dict[Any, Any] = {}
        self._c_duty: dict[Any, Any] = {}
        self._c_goods: dict[Any, Any] = {}
        self._c_country: dict[Any, str] = {}
        self._c_ieepa: dict[str, bool] = {}
        self._c_fields: dict[str, dict[Any, Any]] = {f: {} for f in ENTRY_FIELDS}
        self._prefixes = ieepa_prefixes()
        self._importers: dict[str, str | None] = {}
        self._warned_check: set[str] = set()
        self._c_unkept: dict[str, dict[Any, Any]] = {}
        self.chapter99_rows = 0  # rows with a Chapter 99 HTS, counted when the report has no ordinal column
        self.feed = self._make_feed()

    # -- errors
    def _error(self, row_no: int, fld: str, value: Any, reason: str) -> None:
        r = self.result
        r.errors_total += 1
        r.rejected_rows.add(row_no)
        if len(r.errors) < self.max_errors:
            shown = "" if value is None else shown_ir_number(value) if fld == "importer_number" else _text(value)
            r.errors.append({"file": self.file_label, "row": row_no, "column": LABELS.get(fld, fld),
                             "value": shown, "reason": reason})

    # -- entry-level columns (parsed once per run of identical values, each value cached)
    def _parse_entry(self, raw: tuple[Any, ...], row_no: int) -> tuple[ParsedEntry | None, list[tuple[str, Any, str]]]:
        errs: list[tuple[str, Any, str]] = []
        values: dict[str, Any] = {}
        for fld, cell in zip(self._entry_cols, raw, strict=True):
            spec = _ENTRY_PARSERS.get(fld)
            if spec is None:
                values[fld] = cell
                continue
            if fld == "entry_number":  # unique per entry: caching would only cost
                try:
                    value = spec(cell)
                except RepairError as exc:
                    value = _Bad(str(exc))
            else:
                cache = self._c_fields[fld]
                try:
                    value = cache.get(cell, _MISSING)
                except TypeError:
                    value = _MISSING
                if value is _MISSING:
                    value = _cached(cache, spec, cell)
            if type(value) is _Bad:
                errs.append((fld, cell, value.reason))  # and go on: every bad cell of the row is reported
                value = _ENTRY_DEFAULTS.get(fld)
            values[fld] = value
        number = values["entry_number"]
        if number is None:  # the entry number itself cannot be repaired
            return None, errs
        if "importer_number" in values and not values["importer_number"] and number not in self.result.importer_rejected:
            # Every row of such an entry is rejected: keep it visible (needs review), as a bad entry number is.
            bad = next(((c, why) for f, c, why in errs if f == "importer_number"), None)
            if bad is not None:
                self.result.importer_rejected[number] = {
                    "file": self.file_label, "row": row_no, "entry_number": number, "importer_number": shown_ir_number(bad[0]),
                    "reason": "bad_importer_number", "detail": bad[1]}
        entry_date, summary_date = values.get("entry_date"), values.get("entry_summary_date")
        if entry_date is None and summary_date is None and not any(f in REQUIRED_ONE_OF for f, _, _ in errs):
            fld = "entry_date" if "entry_date" in values else "entry_summary_date"
            errs.append((fld, dict(zip(self._entry_cols, raw, strict=True)).get(fld), "an entry needs an entry date or an entry summary date"))
        status, status_raw = values.get("liquidation_status") or ("unknown", "")
        protest_number = values.get("protest_number", "")
        protest_status = parse_protest_status(values.get("protest_status", ""), protest_number)
        ir, name = values.get("importer_number") or "", values.get("importer_name", "")
        if ir:
            reason = self._importers.get(ir, _MISSING)
            if reason is _MISSING:
                reason = self._importers[ir] = self.importer_check(ir, name)
            if reason:
                errs.append(("importer_number", raw[self._entry_cols.index("importer_number")], reason))  # type: ignore[arg-type]  # a str: not _MISSING
        psc = values.get("psc_flag", False)
        if not psc and (earlier := self.result.entries.get(number)) is not None:
            psc = earlier.psc_flag  # a line-level indicator: any corrected line flags the entry
        entry = ParsedEntry(number, ir, name, values.get("entry_type") or "", entry_date, summary_date,
                            values.get("port_code", ""), number[:3], values.get("filer_name", ""), status, status_raw,
                            values.get("liquidation_date"), values.get("recon_flag", False), psc,
                            protest_number, protest_status, values.get("importation_date"),
                            values.get("liquidation_reason_code"))
        if status == "unknown" and status_raw:
            self.result.unknown_statuses[status_raw] = self.result.unknown_statuses.get(status_raw, 0) + 1
        if not entrynumber.is_valid(number) and number not in self._warned_check:
            self._warned_check.add(number)
            self.result.bad_check_digits.append(number)
            self.result.bad_check_rows.append(row_no)
        return entry, errs

    def _row_errors(self, row_no: int, errs: list[tuple[str, Any, str]], raw: tuple[Any, ...], entry: ParsedEntry | None) -> None:
        for fld, value, reason in errs:
            self._error(row_no, fld, value, reason)
        if entry is None:  # the entry number itself cannot be repaired
            v = dict(zip(self._entry_cols, raw, strict=True))
            self.result.unrepairable.append({"file": self.file_label, "row": row_no, "entry_number": _text(v["entry_number"]),
                                             "importer_number": shown_ir_number(v.get("importer_number", ""))})

    def _line_cell_errors(self, row_no: int, row: list[Any]) -> None:
        """Report the bad line cells of a row whose entry number cannot be repaired (the row is not kept, but
        every bad cell of it is reported, not only the first)."""
        decimal = self.decimal
        checks: list[tuple[str, int | None, Callable[[Any], Any]]] = [
            ("line_number", self._i_line, lambda x: parse_int(x, what="line number")),
            ("ordinal", self._i_ord, lambda x: parse_int(x, what="tariff ordinal number")),
            ("hts", self._i_hts, parse_hts),
            ("duty", self._i_duty, lambda x: _money_cell(x, decimal)),
            ("goods_value", self._i_goods, lambda x: _goods_cell(x, decimal)),
            *((f, i, fn) for _, i, _, fn, f in self._extras),
        ]
        caches = self._c_unkept
        for fld, i, fn in checks:
            if i is None:
                continue
            value = _cached(caches.setdefault(fld, {}), fn, row[i])
            if type(value) is _Bad:
                self._error(row_no, fld, row[i], value.reason)

    def _make_feed(self) -> Callable[[int, list[Any]], tuple[Any, ...] | None]:
        """The per-row function, as a closure: every cache and index is a local, the hot path is a few
        dict lookups per column (this loop runs a million times for a large report)."""
        r = self.result
        width = self._width_needed
        entry_getter = self._entry_getter
        i_line, i_ord, i_hts, i_goods, i_duty, i_country = (self._i_line, self._i_ord, self._i_hts, self._i_goods,
                                                              self._i_duty, self._i_country)
        c_line, c_ord, c_hts, c_duty, c_goods, c_country, c_ieepa = (self._c_line, self._c_ord, self._c_hts, self._c_duty,
                                                                     self._c_goods, self._c_country, self._c_ieepa)
        seen, counters, sums_by_entry, entries = self._seen, self._counters, r.sums, r.entries
        bad_entries = r.bad_entries
        prefixes = self._prefixes
        parse_entry, error, row_errors, line_cell_errors = self._parse_entry, self._error, self._row_errors, self._line_cell_errors
        parse_line = lambda x: parse_int(x, what="line number")  # noqa: E731
        parse_ord = lambda x: parse_int(x, what="tariff ordinal number")  # noqa: E731
        state: list[Any] = [None, (None, []), None]  # previous raw entry cells, (entry, errors), line key
        # Without a line or an ordinal column nothing tells two lines apart but their cells: a row repeated
        # exactly is dropped (counted in ``duplicates``) instead of adding its duty twice.
        exact_rows: set[tuple[Any, ...]] | None = set() if i_line is None or i_ord is None else None
        no_ord = i_ord is None
        self._state = state
        line_key = self.line_key
        Bad = _Bad
        extras, extra_defaults, missing = self._extras, self._extra_defaults, _MISSING
        decimal = self.decimal
        money_cell: Callable[..., Any]
        goods_cell: Callable[..., Any]
        if decimal == ".":
            money_cell, goods_cell = _money_cell, _goods_cell
        else:
            money_cell, goods_cell = (lambda x: _money_cell(x, decimal)), (lambda x: _goods_cell(x, decimal))

        def feed(row_no: int, row: list[Any]) -> tuple[Any, ...] | None:
            if len(row) < width:
                if not any(_text(c) for c in row):
                    r.skipped_blank += 1
                    return None
                row = list(row) + [""] * (width - len(row))
            raw = entry_getter(row)
            if raw != state[0]:
                first = raw[0]
                if (first == "" or first is None or not _text(first)) and sum(1 for c in row if c not in ("", None)) < 3:
                    r.skipped_blank += 1  # a blank line or a footer ("End of report")
                    return None
                state[0] = raw
                parsed = state[1] = parse_entry(raw, row_no)
                if line_key is not None and parsed[0] is not None:
                    state[2] = line_key(parsed[0].entry_number)
            r.rows_read += 1
            entry, errs = state[1]
            if errs or entry is None:
                row_errors(row_no, errs, raw, entry)
                if entry is None:
                    line_cell_errors(row_no, row)
                    return None
            number = entry.entry_number
            bad = bool(errs)
            if exact_rows is not None:
                whole = tuple(_text(c) for c in row)
                if whole in exact_rows:
                    r.duplicates += 1
                    return None
                exact_rows.add(whole)
            if i_line is not None:
                cell = row[i_line]
                line_no = c_line.get(cell)
                if line_no is None:
                    line_no = _cached(c_line, parse_line, cell)
                if type(line_no) is Bad:
                    error(row_no, "line_number", cell, line_no.reason)
                    bad, line_no = True, 0
            else:
                line_no = counters[number] = counters.get(number, 0) + 1
            if i_ord is not None:
                cell = row[i_ord]
                ordinal = c_ord.get(cell)
                if ordinal is None:
                    ordinal = _cached(c_ord, parse_ord, cell)
                if type(ordinal) is Bad:
                    error(row_no, "ordinal", cell, ordinal.reason)
                    bad, ordinal = True, 0
            else:
                key2 = (number, line_no)
                ordinal = counters[key2] = counters.get(key2, 0) + 1
            cell = row[i_hts]
            hts: Any = c_hts.get(cell)  # a str once the _Bad ones have returned
            if hts is None:
                hts = _cached(c_hts, parse_hts, cell)
            if type(hts) is Bad:
                error(row_no, "hts", cell, hts.reason)
                bad = True
            elif no_ord and hts.startswith("99"):
                self.chapter99_rows += 1
            cell = row[i_duty]
            duty: Any = c_duty.get(cell)  # as hts
            if duty is None:
                duty = money_cell(cell)
                if len(c_duty) >= _CACHE_LIMIT:
                    c_duty.clear()
                c_duty[cell] = duty
            if type(duty) is Bad:
                error(row_no, "duty", cell, duty.reason)
                bad = True
            goods = None
            if i_goods is not None:
                cell = row[i_goods]
                goods = c_goods.get(cell)
                if goods is None and cell not in c_goods:
                    goods = goods_cell(cell)
                    if len(c_goods) >= _CACHE_LIMIT:
                        c_goods.clear()
                    c_goods[cell] = goods
                if type(goods) is Bad:
                    error(row_no, "goods_value", cell, goods.reason)
                    bad = True
            tail: tuple[Any, ...] = extra_defaults
            if extras:
                values = list(extra_defaults)
                for j, i, cache, fn, fld in extras:
                    cell = row[i]
                    value = cache.get(cell, missing)
                    if value is missing:
                        value = _cached(cache, fn, cell)
                    if type(value) is Bad:
                        error(row_no, fld, cell, value.reason)
                        bad = True
                    else:
                        values[j] = value
                tail = tuple(values)
            if bad:
                bad_entries.add(number)
                entries.setdefault(number, entry)
                return None
            country: str | None = ""
            if i_country is not None:
                cell = row[i_country]
                country = c_country.get(cell)
                if country is None:
                    country = c_country[cell] = _text(cell).upper()[:2]
            key3 = (number, line_no, ordinal)
            if key3 in seen:
                r.duplicates += 1
                return None
            seen.add(key3)
            entries[number] = entry
            ieepa = c_ieepa.get(hts)
            if ieepa is None:
                ieepa = c_ieepa[hts] = hts.startswith(prefixes)
            duty_text, cents = duty
            # IEEPA duty: an IEEPA heading with a positive duty (domain README §8; entries.hts.is_ieepa_line).
            sums = sums_by_entry.get(number)
            if sums is None:
                sums = sums_by_entry[number] = [0, 0]
            sums[1] += cents
            key = number if line_key is None else state[2]
            if ieepa and cents > 0:
                sums[0] += cents
                return (key, line_no, ordinal, hts, goods, duty_text, country, True, *tail)
            return (key, line_no, ordinal, hts, goods, duty_text, country, False, *tail)

        return feed

    def _refuse_line_level(self) -> None:
        """A report with no Tariff Ordinal Number column and no Chapter 99 row is a line-level report (ES-003 at
        entry-summary-line level, or a line report with "Line Duty Amount"): each row's duty is the line's total,
        with the IEEPA duty of its 9903.01/9903.02 ordinals inside it, so no IEEPA line can be seen. Refused:
        its entries would come out "no IEEPA duty" when we could not see their lines (domain README §5, §8)."""
        if self._i_ord is not None or self.chapter99_rows or not self.result.rows_read:
            return
        duty = self.layout.headers[self.layout.columns["duty"]] if self.layout.columns["duty"] < len(self.layout.headers) else ""
        raise Es003FileError(
            f"{self.file_label} is a line-level report: it has no {LABELS['ordinal']} column and none of its rows has a "
            f'Chapter 99 HTS number, so its duty column ("{duty or LABELS["duty"]}") holds each line\'s total and the IEEPA '
            "duty (HTS 9903.01 and 9903.02 lines) cannot be seen in it. Nothing was stored. In ACE Reports run "
            "ES-003 \"Entry Summary Line Tariff Details\" (one row per tariff ordinal) with the columns "
            f"{LABELS['entry_number']}, {LABELS['line_number']}, {LABELS['ordinal']}, {LABELS['hts']} and "
            f"{LABELS['duty']}, and upload that export."
        )

    def forget_previous_row(self) -> None:
        """The next row fed does not follow the last one fed (entries.es003_fast feeds only some rows):
        parse its entry columns afresh, as when the row before it differed."""
        self._state[0] = _MISSING

    def finish(self) -> ParseResult:
        """The result; raises Es003FileError for a line-level report (see ``_refuse_line_level``)."""
        r = self.result
        self._refuse_line_level()
        r.lines = len(self._seen) + r.fast_lines
        for number in r.bad_entries:
            r.entries.pop(number, None)
            r.sums.pop(number, None)
        # Entries held back because their importer number cannot be repaired stay listed (needs review).
        r.unrepairable += [v for n, v in r.importer_rejected.items() if n in r.bad_entries]
        if r.bad_check_digits:
            shown = ", ".join(r.bad_check_digits[:20])
            more = f" and {len(r.bad_check_digits) - 20} more" if len(r.bad_check_digits) > 20 else ""
            r.warnings.append(
                f"{len(r.bad_check_digits):,} entry number(s) have a check digit that does not match (CBP check-digit "
                f"rule): {shown}{more}. They were stored as written and will be marked for review; check them "
                "against the entry summary (CBP Form 7501)."
            )
        for raw, count in sorted(r.unknown_statuses.items()):
            r.warnings.append(f'Liquidation Status "{raw}" is not one we recognise ({count:,} row(s)); those entries are stored with status unknown.')
        if r.duplicates and (self._i_line is None or self._i_ord is None):
            r.warnings.append(f"{r.duplicates:,} row(s) repeated an earlier row exactly and were dropped (the report has no "
                              "column that tells such lines apart); each line's duty was counted once.")
        elif r.duplicates:
            r.warnings.append(f"{r.duplicates:,} row(s) repeated an entry, line and tariff ordinal already read in this file; each line was kept once.")
        if self._i_line is None or self._i_ord is None:
            missing = [LABELS[f] for f in ("line_number", "ordinal") if f not in self.layout.columns]
            r.warnings.append(f"The report has no {' or '.join(missing)} column: lines were numbered in file order. "
                              "Add the column in ACE Reports so that later reports merge line by line.")
        return r
