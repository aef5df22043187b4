"""The CAPE declaration file: writer and splitter (no ORM).

Source: shared/domain/README.md §6 (CBP CAPE guidance as summarised there):
CSV, one column, header ``Entry Number`` in A1, one 11-character entry number per row, at most
9,999 entries per declaration, under 1 MB, no duplicates. We write UTF-8 without a BOM, ``\\n``
line endings and no quoting, so the bytes are predictable and their SHA-256 is meaningful.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

from entries import entrynumber

HEADER = "Entry Number"
MAX_ENTRIES_PER_DECLARATION = 9999
# "under 1 MB": read as strictly fewer than 1,000,000 bytes (the stricter of 10^6 and 2^20).
MAX_FILE_BYTES = 1_000_000


class DeclarationFileError(ValueError):
    """The entry numbers cannot make a valid CAPE declaration file; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def invalid_entry_numbers(entry_numbers: Iterable[str]) -> list[tuple[int, str, str]]:
    """(1-based position, value, why) for every entry number that is not a well-formed CBP number."""
    bad: list[tuple[int, str, str]] = []
    shaped: list[tuple[int, str]] = []
    match = entrynumber.SHAPE.fullmatch
    for i, n in enumerate(entry_numbers, start=1):
        if not isinstance(n, str) or len(n) != entrynumber.LENGTH or not match(n):
            bad.append((i, repr(n) if not isinstance(n, str) else n, "not 11 characters: 3-character filer code, 7-digit serial, check digit"))
        else:
            shaped.append((i, n))
    # The check digit of a whole declaration at once (a million numbers in a fraction of a second).
    ok = entrynumber.check_digits_ok([n for _, n in shaped])
    bad += [(shaped[k][0], shaped[k][1], "wrong check digit") for k in (~ok).nonzero()[0]]
    return sorted(bad)


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
