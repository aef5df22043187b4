"""``{{ amount|usd }}``: a dollar amount as "1,234.56", what ``floatformat:"2g"`` prints in U.S. English.

``floatformat`` goes through the localisation machinery (active language, format modules, grouping)
for every cell: on the entries list, fifty of them cost more than the page's query. Money here is
always U.S. dollars shown the U.S. way, so the format is fixed. Rounding half up, as floatformat."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()
CENT = Decimal("0.01")


@register.filter(is_safe=True)
def usd(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        return ""
    if not amount.is_finite():
        return ""
    return f"{abs(amount) if amount == 0 else amount:,}"  # no "-0.00"


@register.filter(is_safe=True)
def count(value: Any) -> str:
    """``{{ n|count }}``: a count with thousands separators, "12,007" (the one count format of every page)."""
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}"
    except (ValueError, TypeError):
        return str(value)
