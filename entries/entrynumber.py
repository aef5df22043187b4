"""CBP entry numbers: 3-character filer code + 7-digit serial + 1 check digit (11 characters).

Source: CBP Customs Directive 3550-079A / the ACE entry-number check-digit algorithm as described in
shared/domain/README.md §3 (a Luhn variant). Verified on the real numbers listed there. The letter
table (A-I→1-9, J-R→1-9, S-Z→2-9) is the standard one but has not been checked against a real
alphabetic filer code, so it is kept isolated here and tested on its own.
"""

from __future__ import annotations

import re

_LETTER_VALUES: dict[str, int] = {}
for _i, _c in enumerate("ABCDEFGHI"):
    _LETTER_VALUES[_c] = _i + 1
for _i, _c in enumerate("JKLMNOPQR"):
    _LETTER_VALUES[_c] = _i + 1
for _i, _c in enumerate("STUVWXYZ"):
    _LETTER_VALUES[_c] = _i + 2

_FORMAT = re.compile(r"^[0-9A-Z]{3}[0-9]{7}[0-9]$")


def char_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    try:
        return _LETTER_VALUES[c]
    except KeyError:
        raise ValueError(f"{c!r} cannot appear in an entry number") from None


def check_digit(first10: str) -> int:
    """The check digit for the first ten characters (filer code + serial)."""
    if len(first10) != 10:
        raise ValueError("the check digit is computed over exactly 10 characters")
    total = 0
    for position, c in enumerate(first10.upper(), start=1):
        v = char_value(c)
        if position % 2 == 0:
            v *= 2
            v = v - 9 if v > 9 else v  # digit sum: 10→1, 12→3, …, 18→9
        total += v
    return (10 - total % 10) % 10


def is_valid(entry_number: str) -> bool:
    """Eleven characters in the filer/serial/check shape, with the right check digit."""
    if not _FORMAT.match(entry_number or ""):
        return False
    return check_digit(entry_number[:10]) == int(entry_number[10])


def format_entry_number(entry_number: str) -> str:
    n = entry_number
    return f"{n[:3]}-{n[3:10]}-{n[10:]}" if len(n) == 11 else n
