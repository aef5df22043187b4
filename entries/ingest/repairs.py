"""The public kernel of ES-003 cell repairs: one raw cell in, one repaired plain value out. No ORM, no files.

Both ES-003 paths call these functions: the row path (``entries.ingest.parser.Es003Parser``) per distinct
cell value, and the vectorised CSV path (``entries.ingest.fast``) once per distinct value of a batch, so the
two never disagree. The shapes real exports take are in shared/domain/README.md §3 and §5.

Repairs: ``="..."`` guards; money ``$2,567.49``, ``FREE``, blank, ``(12.00)``; dates ``MM/DD/YYYY``, ISO,
Excel date cells and serial numbers; HTS with or without dots (and leading zeros Excel dropped); entry
numbers with dashes/spaces, lost leading zeros, floats (``6.0576069342E10``); entry type ``1`` → ``01``;
IR numbers in any accepted spelling → canonical. A value that cannot be repaired raises ``RepairError``
(the ``*_cell`` functions and the callers' caches return a ``Bad`` marker instead).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.irnumber import InvalidIRNumber, canonical_ir_number, mask_ir_number
from entries import entrynumber
from entries.spellings import normalize_reason_code


class RepairError(ValueError):
    """One value cannot be repaired; the message says why."""


# Liquidation Status wording -> the ruleset's code (Entry.LiquidationStatus, cape.rules.LIQUIDATION_STATUSES).
# shared/domain/rules.md "Inputs": free text mapped case-insensitively (spacing ignored); anything else is
# unknown, stored as "unknown" with a warning and its raw text kept. The ruleset reads only the codes.
LIQUIDATION_STATUSES: dict[str, str] = {
    "unliquidated": "unliquidated",
    "open": "unliquidated",
    "not liquidated": "unliquidated",
    "liquidated": "liquidated",
    "closed": "liquidated",
    "suspended": "suspended",
    "extended": "extended",
    "under review": "under_review",
    "in review": "under_review",
    "under_review": "under_review",
    "final": "final",
    "finally liquidated": "final",
    # rules.md 2026.12 spellings ("pending" alone stays unknown). A deemed liquidation (19 U.S.C. 1504(d)) and a
    # reliquidation are liquidations; the ES-003 Liquidation Date is then the latest liquidation.
    "pending liquidation": "unliquidated",
    "final liquidation": "final",
    "deemed liquidated": "liquidated",
    "reliquidated": "liquidated",
}


def normalise_liquidation_status(raw: str | None) -> str:
    """An ES-003 Liquidation Status (or an already normalised code) as one of the ruleset's seven codes."""
    return LIQUIDATION_STATUSES.get(" ".join((raw or "").strip().lower().split()), "unknown")


PROTEST_STATUSES: dict[str, str] = {
    "open": "open",
    "pending": "open",
    "filed": "open",
    "received": "open",
    "underreview": "open",
    "suspended": "suspended",
    "denied": "denied",
    "approved": "approved",
    "allowed": "approved",
    "granted": "approved",
    "partiallyapproved": "approved",
    "none": "none",
    "": "none",
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


def text(value: object) -> str:
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
    s = _integral_text(text(value))
    if not s:
        raise RepairError("the entry type is blank")
    if not (s.isascii() and s.isdigit()) or len(s) > 2:
        raise RepairError("an entry type code is two digits (e.g. 01, 11, 21)")
    return s.zfill(2)


def parse_ir_number(value: object) -> str:
    s = _integral_text(text(value))
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
    s = text(value)
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
    core = text(value).upper().replace("$", "").replace("USD", "").replace(" ", "").replace("\u00a0", "")
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
            raise RepairError(
                "written with a decimal point, but this file writes decimals with a comma "
                "(e.g. 1.234,56); export the report again with one number format"
            )
        return s.replace(".", "").replace(",", ".")
    if "," in s and not _GROUPED_POINT.fullmatch(s):
        if decimal == "?":
            raise RepairError(
                "written with a decimal comma; the first rows of this file do not show whether it "
                "writes decimals with a point or a comma: export the report again with $1,234.56 amounts"
            )
        raise RepairError(
            "written with a decimal comma (e.g. 850,00), but this file writes decimals with a point "
            "(e.g. $2,567.49); export the report again with one number format"
        )
    if decimal == "?" and _AMBIGUOUS.fullmatch(s):
        raise RepairError(
            f"{s} could be read with a decimal point or a decimal comma, and the first rows of this file "
            "do not show which it uses: export the report again with $1,234.56 amounts"
        )
    return s.replace(",", "")


def parse_money(value: object, *, blank: str | None = "0.00", decimal: str = ".") -> str | None:
    """A validated decimal string with two places. ``$2,567.49``, ``FREE`` (0), blank (``blank``), ``(12.00)``;
    with ``decimal=","`` also ``850,00`` and ``1.200,50``."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise RepairError("not an amount (not a finite number)")
        return str(_quantized(Decimal(repr(value) if isinstance(value, float) else value)))
    s = text(value)
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
_US_DATE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$", re.I | re.ASCII
)
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)
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
    s = text(value)
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
    s = _integral_text(text(value))
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
    s = _integral_text(text(value))
    if not (s.isascii() and s.isdigit()):
        raise RepairError(f"the {what} is not a whole number")
    n = int(s)
    if n > 999_999:
        raise RepairError(f"the {what} is too large")
    return n


def parse_flag(value: object) -> bool:
    return text(value).upper() in _TRUE


# rules.md "Inputs" (2026.12): Reconciliation Indicator Y, Yes, True or 1 (any case); anything else is no flag.
_RECON_TRUE = frozenset({"Y", "YES", "TRUE", "1"})


def parse_recon_flag(value: object) -> bool:
    return text(value).strip().upper() in _RECON_TRUE


def parse_code(value: object, *, length: int, pad: int = 0) -> str:
    """A short code; ``pad`` restores leading zeros Excel dropped from an all-digit code (ports are 4 digits)."""
    s = _integral_text(text(value)).upper()
    if pad and s.isascii() and s.isdigit() and len(s) < pad:
        s = s.zfill(pad)
    return s[:length]


def _checked_code(value: object, pattern: re.Pattern[str], reason: str, *, drop: str = "") -> str:
    """A code that must have a known shape (blank allowed): ``parse_code``'s repairs, then the shape check."""
    s = _integral_text(text(value)).upper()
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
    return _checked_code(
        value,
        _SPI,
        "a Special Program Indicator is one or two letters, optionally followed by *, + or # "
        "(HTSUS General Note 3(c)(i), e.g. A+, CA, S+)",
    )


def parse_manufacturer_id(value: object) -> str:
    return _checked_code(
        value,
        _MID,
        "a Manufacturer ID is up to 15 letters and digits (CBP Form 7501 instructions, block 13)",
        drop=" -",
    )


def parse_uom(value: object) -> str:
    return _checked_code(
        value,
        _UOM,
        "a unit of measure is an HTSUS unit abbreviation of up to 4 letters or digits (e.g. NO, KG, DOZ, M2)",
        drop=". ",
    )


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
        s = text(value)
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
    raw = text(value)[:60]
    if not raw.strip():
        return "unknown", ""
    return normalise_liquidation_status(raw), raw


def parse_reason_code(value: object) -> int | None:
    """Liquidation Reason Code read as a number (`36`, `036`, `36.0` are 36; rules.md 2026.12); blank is None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    code = normalize_reason_code(text(value))
    if code is None and text(value).strip():
        raise RepairError("a liquidation reason code is a whole number, such as 36")
    if code is not None and not 0 <= code <= 32767:
        raise RepairError("a liquidation reason code is a number from 0 to 32767")
    return code


def parse_protest_status(value: object, protest_number: str) -> str:
    key = normalise_header(text(value))
    if key in PROTEST_STATUSES and key not in ("", "none"):
        return PROTEST_STATUSES[key]
    if key and key not in PROTEST_STATUSES:
        return "open" if protest_number else "none"
    # A protest number with no status: treat as open (an open protest blocks CAPE; domain README §9).
    return "open" if protest_number else "none"


class Bad:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_FAST_MONEY = re.compile(r"^\d+\.\d\d$", re.ASCII)


def money_cell(value: Any, decimal: str = ".") -> Any:
    """Money cell → (text, cents) or Bad. The common ACE shapes ($1,234.56) take the fast path."""
    if type(value) is str and decimal != ",":
        t = value.replace("$", "").replace(",", "")
        if _FAST_MONEY.match(t):
            return t, int(t.replace(".", ""))
    try:
        text = parse_money(value, decimal=decimal)
    except RepairError as exc:
        return Bad(str(exc))
    return text, int(text.replace(".", "")) if text is not None else 0


def goods_cell(value: Any, decimal: str = ".") -> Any:
    if type(value) is str and decimal != ",":
        t = value.replace("$", "").replace(",", "")
        if _FAST_MONEY.match(t):
            return t
    try:
        return parse_money(value, blank=None, decimal=decimal)
    except RepairError as exc:
        return Bad(str(exc))


def line_parsers(decimal: str) -> dict[str, Callable[[Any], Any]]:
    """LINE_PARSERS for a file with this decimal separator."""
    return {**LINE_PARSERS, "quantity": lambda x: parse_quantity(x, decimal=decimal)}


# Entry-level column → repair. Each distinct raw value is repaired once per file (cached).
ENTRY_PARSERS: dict[str, Callable[[Any], Any]] = {
    "entry_number": parse_entry_number,
    "entry_type": parse_entry_type,
    "importer_number": parse_ir_number,
    "importer_name": lambda x: text(x)[:200],
    "port_code": lambda x: parse_code(x, length=8, pad=4),
    "entry_date": parse_date,
    "entry_summary_date": parse_date,
    "liquidation_date": parse_date,
    "liquidation_status": parse_liquidation_status,
    "recon_flag": parse_recon_flag,
    "psc_flag": parse_flag,
    "protest_number": lambda x: parse_code(x, length=40),
    "protest_status": lambda x: x,
    "filer_name": lambda x: text(x)[:200],
    "importation_date": parse_date,
    "liquidation_reason_code": parse_reason_code,
}
# Optional line-level column → repair (cached per raw value, like the entry columns).
LINE_PARSERS: dict[str, Callable[[Any], Any]] = {
    "country_of_export": parse_country_code,
    "spi_code": parse_spi_code,
    "manufacturer_id": parse_manufacturer_id,
    "quantity": parse_quantity,
    "uom": parse_uom,
}
