from __future__ import annotations

import hashlib

import pytest

from cape.csvfile import (
    MAX_ENTRIES_PER_DECLARATION,
    DeclarationFileError,
    render_declaration_csv,
    sha256_hex,
    split_for_declarations,
)
from entries.entrynumber import check_digit

# Real entry numbers with verified check digits (shared/domain/README.md §3).
REAL = ["00261103162", "00261111157", "60576069342"]


def make_numbers(count: int, filer: str = "ABC") -> list[str]:
    out = []
    for serial in range(count):
        first10 = f"{filer}{serial:07d}"
        out.append(first10 + str(check_digit(first10)))
    return out


def test_it_writes_the_exact_bytes_cape_expects() -> None:
    data = render_declaration_csv(REAL)
    assert data == b"Entry Number\n00261103162\n00261111157\n60576069342\n"
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data and b'"' not in data
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_it_keeps_the_given_order_and_leading_zeros() -> None:
    data = render_declaration_csv(["60576069342", "00261103162"])
    assert data.split(b"\n")[1:3] == [b"60576069342", b"00261103162"]


def test_a_full_declaration_stays_under_one_megabyte() -> None:
    data = render_declaration_csv(make_numbers(MAX_ENTRIES_PER_DECLARATION))
    assert len(data) == len("Entry Number\n") + 12 * 9999
    assert len(data) < 1_000_000


@pytest.mark.parametrize(
    "numbers, fragment",
    [
        ([], "at least one"),
        (["00261103163"], "check digit"),
        (["261103162"], "11 characters"),
        (["002-6110316-2"], "11 characters"),
        (["00261103162 "], "11 characters"),
        (["00261103162", "00261103162"], "more than once"),
    ],
)
def test_it_refuses_invalid_input(numbers: list[str], fragment: str) -> None:
    with pytest.raises(DeclarationFileError, match=fragment):
        render_declaration_csv(numbers)


def test_it_refuses_more_than_9999() -> None:
    with pytest.raises(DeclarationFileError, match="10,000 entry numbers: CAPE takes at most 9,999 per declaration"):
        render_declaration_csv(make_numbers(10_000))


def test_9999_entries_make_one_declaration_and_10000_make_two() -> None:
    assert [len(c) for c in split_for_declarations(make_numbers(9999))] == [9999]
    chunks = split_for_declarations(make_numbers(10_000))
    assert [len(c) for c in chunks] == [9999, 1]
    assert chunks[0][0] == make_numbers(1)[0] and chunks[1] == make_numbers(10_000)[-1:]


def test_split_refuses_a_limit_above_cape_maximum() -> None:
    with pytest.raises(ValueError):
        split_for_declarations(REAL, limit=10_000)
