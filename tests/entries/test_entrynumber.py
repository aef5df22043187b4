"""entries.entrynumber: the one home of the entry-number rules (shared/domain/README.md §3). No database.

Every way a number comes in is tested with the same table in tests/test_entry_number_ways_in.py."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entries import entrynumber
from entries.entrynumber import EntryNumberError, check_digit, check_digits_ok, is_valid, parse, repair

# Real entry numbers with verified check digits (shared/domain/README.md §3).
REAL = ["00261103162", "00261111157", "00261112239", "00261111090", "00261110829", "60576069342", "60576072486"]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def luhn_as_written(first10: str) -> int:
    """README §3 step by step, written independently of the module's tables."""
    letters = {**{c: i + 1 for i, c in enumerate("ABCDEFGHI")}, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
               **{c: i + 2 for i, c in enumerate("STUVWXYZ")}}
    total = 0
    for position, c in enumerate(first10, start=1):
        v = int(c) if c.isdigit() else letters[c]
        if position % 2 == 0:
            v = sum(int(d) for d in str(2 * v))  # the digit sum of the doubled value
        total += v
    return (10 - total % 10) % 10


def test_the_real_numbers_have_the_right_check_digit() -> None:
    for n in REAL:
        assert check_digit(n[:10]) == int(n[10]) and is_valid(n)
        assert not is_valid(n[:10] + str((int(n[10]) + 1) % 10))
    assert list(check_digits_ok(REAL)) == [True] * len(REAL)


@pytest.mark.parametrize(("letters", "value"), [("AJ", 1), ("BK", 2), ("IR", 9), ("S", 2), ("T", 3), ("Z", 9)])
def test_the_letter_table_is_the_standard_one(letters: str, value: int) -> None:
    for c in letters:
        assert entrynumber.char_value(c) == value


def test_characters_outside_the_table_are_refused() -> None:
    with pytest.raises(ValueError):
        entrynumber.char_value("#")
    with pytest.raises(ValueError):
        check_digit("ABC000000#")
    assert not is_valid("ABC0000001#") and not is_valid("abc00000010") and not is_valid(None)


def test_the_check_digit_the_test_and_the_vectorised_test_agree_with_readme_s3() -> None:
    rng = random.Random(3)
    numbers, expected = [], []
    for _ in range(20_000):
        first10 = "".join(rng.choice(ALPHABET) for _ in range(3)) + f"{rng.randrange(10**7):07d}"
        digit = luhn_as_written(first10)
        assert check_digit(first10) == digit
        good, wrong = first10 + str(digit), first10 + str((digit + rng.randrange(1, 10)) % 10)
        assert is_valid(good) and not is_valid(wrong)
        numbers += [good, wrong]
        expected += [True, False]
    assert check_digits_ok(numbers).tolist() == expected
    assert check_digits_ok([]).tolist() == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('="60576069342"', "60576069342"), ('= "60576069342"', "60576069342"), ("605-7606934-2", "60576069342"),
     ("605 7606934 2", "60576069342"), ("605\u20137606934\u20132", "60576069342"), ("605\xa07606934\xa02", "60576069342"),
     ("261103162", "00261103162"), (261103162.0, "00261103162"), (261103162, "00261103162"),
     ("6.0576069342E10", "60576069342"), ("6.0576069342e+10", "60576069342"), (60576069342.0, "60576069342"),
     ("60576069342.0", "60576069342"), ("3bz-5500120-4", "3BZ55001204"), (" 3bz55001204 ", "3BZ55001204"),
     ("'3BZ55001204", "3BZ55001204"), ('"3BZ55001204"', "3BZ55001204"), ("'261103162", "00261103162"),
     ("'=\"3BZ55001204\"", "3BZ55001204")],
)
def test_it_repairs_entry_numbers(raw: object, expected: str) -> None:
    assert repair(raw) == expected == parse(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", "blank"), (None, "blank"), ("=A1", "formula"), ("3BZ5500120", "11 characters"), ("3BZ-55001-2045", "11 characters"),
     ("ABCDEFGHIJK", "digits"), ("605760693421", "11 characters"), ("6.0576069342E-10", "11 characters"),
     ("3BZ5500120\u00e9", "ASCII"), ("1E999999", "11 characters"), ('3BZ55001204"', "11 characters"),
     (float("inf"), "11 characters"), (float("nan"), "11 characters"), (2611031.5, "11 characters"),
     (1e12, "11 characters")],
)
def test_it_refuses_what_it_cannot_repair(raw: object, reason: str) -> None:
    with pytest.raises(EntryNumberError, match=reason):
        parse(raw)
    assert not is_valid(repair(raw))


def test_a_wrong_check_digit_is_repaired_not_refused() -> None:
    assert parse("605-7606934-3") == "60576069343" and not is_valid("60576069343")


@given(st.text(ALPHABET + "-= \"'.e", max_size=16))
def test_parse_is_repair_with_the_shape_checked(raw: str) -> None:
    once = repair(raw)
    try:
        assert parse(raw) == once and repair(once) == once
    except EntryNumberError:
        assert not entrynumber.SHAPE.fullmatch(once)


def test_clean_keeps_what_was_typed_without_the_wrappers() -> None:
    assert entrynumber.clean(" '2611-0316 ") == "26110316"
    assert entrynumber.clean('="abc-0000001-0"') == "ABC00000010"
