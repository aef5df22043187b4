"""The CAPE declaration file: writer and splitter (no ORM).

Source: shared/domain/README.md §6 (CBP CAPE guidance as summarised there):
CSV, one column, header ``Entry Number`` in A1, one 11-character entry number per row, at most
9,999 entries per declaration, under 1 MB, no duplicates. We write UTF-8 without a BOM, ``\\n``
line endings and no quoting, so the bytes are predictable and their SHA-256 is meaningful.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from entries.entrynumber import char_value

HEADER = "Entry Number"
MAX_ENTRIES_PER_DECLARATION = 9999
# "under 1 MB": read as strictly fewer than 1,000,000 bytes (the stricter of 10^6 and 2^20).
MAX_FILE_BYTES = 1_000_000
ENTRY_NUMBER_LENGTH = 11

_SHAPE = re.compile(r"^[0-9A-Z]{3}[0-9]{8}$")


class DeclarationFileError(ValueError):
    """The entry numbers cannot make a valid CAPE declaration file; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _weight(value: int, even: bool) -> int:
    if not even:
        return value
    doubled = value * 2
    return doubled - 9 if doubled > 9 else doubled


# The same check-digit rule as entries.entrynumber (README §3), precomputed by character group so
# a million numbers validate in well under a second: the filer code (positions 1-3, cached per
# code), serial positions 4-6 and 7-10 (full tables). entries.entrynumber stays the reference and
# a test checks both agree.
_DIGITS3 = {f"{i:03d}": sum(_weight(int(c), p % 2 == 0) for p, c in zip((4, 5, 6), f"{i:03d}", strict=True)) for i in range(1000)}
_DIGITS4 = {f"{i:04d}": sum(_weight(int(c), p % 2 == 0) for p, c in zip((7, 8, 9, 10), f"{i:04d}", strict=True)) for i in range(10000)}
_FILER: dict[str, int] = {}


def _filer_sum(code: str) -> int:
    total = _FILER.get(code)
    if total is None:
        total = sum(_weight(char_value(c), p % 2 == 0) for p, c in zip((1, 2, 3), code, strict=True))
        _FILER[code] = total
    return total


def check_digit_ok(n: str) -> bool:
    """True when the 11th character is the right check digit (n must already have the right shape)."""
    total = _filer_sum(n[:3]) + _DIGITS3[n[3:6]] + _DIGITS4[n[6:10]]
    return (10 - total % 10) % 10 == ord(n[10]) - 48


def invalid_entry_numbers(entry_numbers: Iterable[str]) -> list[tuple[int, str, str]]:
    """(1-based position, value, why) for every entry number that is not a well-formed CBP number."""
    bad: list[tuple[int, str, str]] = []
    match = _SHAPE.match
    for i, n in enumerate(entry_numbers, start=1):
        if not isinstance(n, str) or len(n) != ENTRY_NUMBER_LENGTH or not match(n):
            bad.append((i, repr(n) if not isinstance(n, str) else n, "not 11 characters: 3-character filer code, 7-digit serial, check digit"))
        elif not check_digit_ok(n):
            bad.append((i, n, "wrong check digit"))
    return bad


def render_declaration_csv(entry_numbers: Sequence[str]) -> bytes:
    """The exact bytes of one CAPE declaration file.

    Raises DeclarationFileError when the list is empty, longer than 9,999, has duplicates, holds
    anything that is not a valid 11-character entry number, or would reach 1 MB.
    """
    count = len(entry_numbers)
    if count == 0:
        raise DeclarationFileError("A CAPE declaration needs at least one entry number.")
    if count > MAX_ENTRIES_PER_DECLARATION:
        raise DeclarationFileError(
            f"{count:,} entry numbers: CAPE takes at most {MAX_ENTRIES_PER_DECLARATION:,} per declaration; split them first."
        )
    bad = invalid_entry_numbers(entry_numbers)
    if bad:
        raise DeclarationFileError(_describe(bad), [f"line {p + 1}: {v}: {why}" for p, v, why in bad])
    if len(set(entry_numbers)) != count:
        dups = sorted(n for n, c in Counter(entry_numbers).items() if c > 1)
        raise DeclarationFileError(
            f"{len(dups):,} entry number(s) appear more than once: {', '.join(dups[:10])}", [f"{n}: duplicate" for n in dups]
        )
    data = (HEADER + "\n" + "\n".join(entry_numbers) + "\n").encode("ascii")
    if len(data) >= MAX_FILE_BYTES:  # cannot happen at 9,999 × 12 bytes; kept as the stated CBP limit
        raise DeclarationFileError(f"The file would be {len(data)} bytes; CAPE takes files under 1 MB.")
    return data


def _describe(bad: list[tuple[int, str, str]]) -> str:
    head = "; ".join(f"line {p + 1}: {v} ({why})" for p, v, why in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f"{len(bad)} invalid entry number(s): {head}{more}"


def split_for_declarations(entry_numbers: Sequence[str], limit: int = MAX_ENTRIES_PER_DECLARATION) -> list[list[str]]:
    """Consecutive chunks of at most ``limit`` (≤ 9,999) entry numbers, order kept."""
    if limit < 1 or limit > MAX_ENTRIES_PER_DECLARATION:
        raise ValueError(f"limit must be between 1 and {MAX_ENTRIES_PER_DECLARATION}")
    items = list(entry_numbers)
    return [items[i : i + limit] for i in range(0, len(items), limit)]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_declaration_csv(data: bytes) -> list[str]:
    """Read back a file we wrote (used by preflight to check the bytes, not the intent)."""
    text = data.decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines[1:]
