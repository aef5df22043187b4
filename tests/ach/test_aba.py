"""ABA routing numbers: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ach.aba import InvalidRoutingNumber, checksum, is_valid_routing_number, parse_routing_number


@pytest.mark.parametrize("number", ["021000021", "111000025", "011000015", "122105278"])
def test_it_accepts_real_routing_numbers(number: str) -> None:
    assert parse_routing_number(number) == number


@pytest.mark.parametrize("number", ["021000022", "021000020", "111000024", "111000026", "121000021", "021000121"])
def test_it_rejects_an_off_by_one_digit(number: str) -> None:
    with pytest.raises(InvalidRoutingNumber, match="check digit"):
        parse_routing_number(number)


@pytest.mark.parametrize("number", ["02100002A", "O21000021", "021.00021", "０２１００００２１"])
def test_it_rejects_non_digits(number: str) -> None:
    with pytest.raises(InvalidRoutingNumber, match="digits only"):
        parse_routing_number(number)


@pytest.mark.parametrize("number", ["02100002", "0210000210", "1", "0210000211234"])
def test_it_rejects_a_wrong_length(number: str) -> None:
    with pytest.raises(InvalidRoutingNumber, match="exactly 9 digits"):
        parse_routing_number(number)


def test_it_rejects_blank() -> None:
    with pytest.raises(InvalidRoutingNumber, match="blank"):
        parse_routing_number("  ")


def test_it_tidies_spaces_dashes_and_ace_text_guards() -> None:
    assert parse_routing_number(" 0210-00021 ") == "021000021"
    assert parse_routing_number('="111000025"') == "111000025"


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_exactly_one_check_digit_completes_any_eight_digits(first8: str) -> None:
    valid = [d for d in "0123456789" if is_valid_routing_number(first8 + d)]
    assert len(valid) == 1
    assert checksum(first8 + valid[0]) == 0
