"""accounts.templatetags.money.usd prints what floatformat:"2g" prints for U.S. English."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat
from django.utils import translation

from accounts.templatetags.money import usd


@pytest.mark.parametrize(
    "value",
    [Decimal("0.00"), Decimal("0"), Decimal("5"), Decimal("1234.5"), Decimal("1234567.89"), Decimal("999999999999.99"),
     Decimal("-1234.56"), Decimal("0.005"), Decimal("2.675"), Decimal("-0.001"), Decimal("12.3456"), 0, 7, 1234567,
     "1234.5", 3.5],
)
def test_it_matches_floatformat_2g(value) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en-us"):
        assert usd(value) == floatformat(value, "2g")


@pytest.mark.parametrize("value", [None, "", "n/a", Decimal("NaN"), Decimal("Infinity")])
def test_it_prints_nothing_for_what_is_not_an_amount(value) -> None:  # type: ignore[no-untyped-def]
    assert usd(value) == ""
