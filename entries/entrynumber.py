"""CBP entry numbers: 3-character filer code + 7-digit serial + 1 check digit (11 characters).

The one home of the entry-number rules: every way a number comes in (ES-003 upload on both paths, the
entry facts file, the CAPE build form and API, CAPE Claim Details, REV-603/615/613, the entries search)
repairs it with ``repair``/``parse`` and checks it with ``is_valid``/``check_digits_ok``, so a number
typed one way is the same number everywhere.

Source: CBP Customs Directive 3550-079A / the ACE entry-number check-digit algorithm as described in
shared/domain/README.md §3 (a Luhn variant). Verified on the real numbers listed there. The letter
table (A-I→1-9, J-R→1-9, S-Z→2-9) is the standard one but has not been checked against a real
alphabetic filer code, so it is kept isolated here and tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import numpy as np

LENGTH = 11
# Filer code (letters or digits), serial and check digit (digits). ASCII only: str.isdigit would take "²".
SHAPE = re.compile(r"[0-9A-Z]{3}[0-9]{8}", re.ASCII)
_fullmatch = SHAPE.fullmatch
# The two spellings of nearly every cell of an ES-003: clean, or in ACE's ="…" guard.
_clean_or_guarded = re.compile(r'="([0-9A-Z]{3}[0-9]{8})"|([0-9A-Z]{3}[0-9]{8})', re.ASCII).fullmatch

_LETTER_VALUES: dict[str, int] = {}
for _i, _c in enumerate("ABCDEFGHI"):
    _LETTER_VALUES[_c] = _i + 1
for _i, _c in enumerate("JKLMNOPQR"):
    _LETTER_VALUES[_c] = _i + 1
for _i, _c in enumerate("STUVWXYZ"):
    _LETTER_VALUES[_c] = _i + 2


def char_value(c: str) -> int:
    if len(c) == 1 and "0" <= c <= "9":
        return int(c)
    try:
        return _LETTER_VALUES[c]
    except KeyError:
        raise ValueError(f"{c!r} cannot appear in an entry number") from None


# The check digit as two lookup tables, one per position parity (positions 1,3,5,7,9 add the value;
# 2,4,6,8,10 add the digit sum of twice the value: 10→1, 12→3, …, 18→9). Every check below, the
# vectorised one included, reads these tables: the ruleset checks every entry every night and an
# ES-003 upload every entry of the report.
_ODD: dict[str, int] = {c: char_value(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_EVEN: dict[str, int] = {c: (2 * v - 9 if 2 * v > 9 else 2 * v) for c, v in _ODD.items()}
_LUT_ODD = np.zeros(256, dtype=np.int64)
_LUT_EVEN = np.zeros(256, dtype=np.int64)
for _c, _v in _ODD.items():
    _LUT_ODD[ord(_c)] = _v
    _LUT_EVEN[ord(_c)] = _EVEN[_c]


def check_digit(first10: str) -> int:
    """The check digit for the first ten characters (filer code + serial)."""
    if len(first10) != 10:
        raise ValueError("the check digit is computed over exactly 10 characters")
    first10 = first10.upper()
    for c in first10:
        char_value(c)  # the reason, for a character outside the table
    return _digit(first10)


def _digit(n: str) -> int:
    odd, even = _ODD, _EVEN
    total = odd[n[0]] + even[n[1]] + odd[n[2]] + even[n[3]] + odd[n[4]] + even[n[5]] + odd[n[6]] + even[n[7]] \
        + odd[n[8]] + even[n[9]]
    return (10 - total % 10) % 10


def is_valid(entry_number: str | None) -> bool:
    """Eleven characters in the filer/serial/check shape, with the right check digit (no repair)."""
    n = entry_number or ""
    if len(n) != LENGTH or not _fullmatch(n):
        return False
    odd, even = _ODD, _EVEN  # _digit inlined: the ruleset asks this of every entry, every night
    total = odd[n[0]] + even[n[1]] + odd[n[2]] + even[n[3]] + odd[n[4]] + even[n[5]] + odd[n[6]] + even[n[7]] \
        + odd[n[8]] + even[n[9]]
    return (10 - total % 10) % 10 == ord(n[10]) - 48


def check_digits_ok(numbers: Sequence[str]) -> np.ndarray:
    """``is_valid`` of many numbers at once, each already of the 11-character shape (``SHAPE``)."""
    if not numbers:
        return np.ones(0, dtype=bool)
    b = np.frombuffer("".join(numbers).encode("ascii"), dtype=np.uint8).reshape(-1, LENGTH)
    total = _LUT_ODD[b[:, 0:10:2]].sum(axis=1) + _LUT_EVEN[b[:, 1:10:2]].sum(axis=1)
    return (10 - total % 10) % 10 == (b[:, 10].astype(np.int64) - 48)


def valid_many(numbers: Sequence[str | None]) -> list[bool]:
    """``is_valid`` of each number, the check digits computed for all of them at once (a classification run
    asks it of every entry)."""
    shaped = [i for i, n in enumerate(numbers) if n and len(n) == LENGTH and _fullmatch(n)]
    out = [False] * len(numbers)
    for i, ok in zip(shaped, check_digits_ok([str(numbers[i]) for i in shaped]).tolist(), strict=True):
        out[i] = ok
    return out


# ----------------------------------------------------------------------------- repair
class EntryNumberError(ValueError):
    """The value cannot be repaired to an entry number's shape; the message says why."""


_GUARD = re.compile(r'^=\s*"(.*)"$', re.S)  # ACE Portal CSV exports: ="60576069342" (README §3)
# Dashes people type or paste (hyphen-minus, the Unicode hyphens and dashes, minus sign) and whitespace.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_FLOAT_LIKE = re.compile(r"^\d+(\.\d+)?([eE][+-]?\d+)?$", re.ASCII)


def _unwrap(s: str) -> str:
    """The text inside what spreadsheets put around a number: ACE's ``="…"`` guard, Excel's leading
    apostrophe (text marker) and plain double quotes, in any nesting."""
    while True:
        s = s.strip()
        if s.startswith("'"):
            s = s[1:]
        elif (m := _GUARD.match(s)) is not None:
            s = m.group(1)
        elif len(s) >= 2 and s[0] == s[-1] == '"':
            s = s[1:-1]
        else:
            return s


def _integral(s: str) -> str:
    """'6.0576069342E10' or '60576069342.0' → '60576069342' (numbers Excel turned into floats)."""
    if _FLOAT_LIKE.match(s) and ("." in s or "e" in s.lower()):
        try:
            d = Decimal(s)
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            return s
        if d.adjusted() < 30 and d == d.to_integral_value():  # never expand '1E999999' into a million digits
            return str(int(d))
    return s


def clean(raw: str) -> str:
    """What a person typed, without the spreadsheet wrappers (``_unwrap``), dashes and spaces, in upper case:
    ``repair`` without its float and leading-zero repairs (the entries search looks for this inside numbers)."""
    return _SEPARATORS.sub("", _unwrap(raw)).upper()


def repair(raw: object) -> str:
    """Undo what ACE, Excel and people do to an entry number (README §3): the ``="…"`` guard, a leading
    apostrophe, quotes, dashes and spaces, lower case, float notation (``6.0576069342E10``, a spreadsheet
    cell holding 60576069342.0) and stripped leading zeros (``261103162`` → ``00261103162``).

    Best effort: what cannot be repaired comes back cleaned but not of the entry-number shape (check with
    ``is_valid``, or use ``parse`` for the reason)."""
    if raw is None or isinstance(raw, bool):
        return ""
    if isinstance(raw, float | int) and 0 <= raw < 10**LENGTH and raw == int(raw):  # a number cell
        return str(int(raw)).zfill(LENGTH)  # Excel stripped the leading zeros
    if isinstance(raw, float):
        s = repr(raw)
    elif isinstance(raw, str):
        if len(raw) == LENGTH and _fullmatch(raw):  # already clean
            return raw
        s = _unwrap(raw)
    else:
        s = str(raw)
    # Float notation first: the separators pass would read the minus of 6.05E-10 as a dash.
    s = _SEPARATORS.sub("", _integral(s.upper()))
    if s.isascii() and s.isdigit() and len(s) < LENGTH:
        s = s.zfill(LENGTH)  # Excel stripped the leading zeros of an all-digit number
    return s


def parse(raw: object) -> str:
    """``repair``, then the shape (filer code, serial, check digit) or ``EntryNumberError`` saying why.

    The check digit is not verified here: an ES-003 keeps a number with a wrong check digit (and warns),
    since the number itself is what ACE knows the entry by; a CAPE file or form requires ``is_valid``."""
    if type(raw) is str and (m := _clean_or_guarded(raw)) is not None:  # nearly every cell of a report
        return m[m.lastindex]  # type: ignore[index]  # the pattern always captures a group
    s = repair(raw)
    if len(s) == LENGTH and SHAPE.fullmatch(s):
        return s
    if not s:
        raise EntryNumberError("the entry number is blank")
    if s.startswith("="):
        raise EntryNumberError("a formula is not an entry number (formulas are never evaluated)")
    if not s.isascii():
        raise EntryNumberError("an entry number is ASCII letters and digits")
    if len(s) != LENGTH or not s.isalnum():
        raise EntryNumberError("an entry number has 11 characters (3-character filer code, 7-digit serial, check digit); "
                               "this one cannot be repaired to that shape")
    raise EntryNumberError("the serial number and check digit of an entry number are digits")
