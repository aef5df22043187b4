"""The one money format and the one count format of every page, PDF and e-mail (issue #20 item 6).

``{{ amount|money }}``: "$1,234.56" (always cents, always thousands separators; "-$12.50" below zero).
``{{ amount|usd }}``: the same without the dollar sign. ``{{ n|count }}``: "12,007".
XLSX cells carry the same two formats as number formats (``MONEY_FORMAT``, ``COUNT_FORMAT``).

``floatformat`` goes through the localisation machinery (active language, format modules, grouping)
for every cell: on the entries list, fifty of them cost more than the page's query. Money here is
always U.S. dollars shown the U.S. way, so the format is fixed. Rounding half up, as floatformat."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()
CENT = Decimal("0.01")
MONEY_FORMAT = "#,##0.00"  # XLSX number format of every money cell
COUNT_FORMAT = "#,##0"  # XLSX number format of every count cell


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


def format_money(value: Any) -> str:
    """"$1,234.56": the text of ``{{ amount|money }}``, for Python that builds a sentence."""
    text = usd(value)
    if not text:
        return ""
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


@register.filter(is_safe=True)
def money(value: Any) -> str:
    return format_money(value)


def format_count(value: Any) -> str:
    """"12,007": the text of ``{{ n|count }}``, for Python that builds a sentence."""
    return count(value)


@register.filter(is_safe=True)
def count(value: Any) -> str:
    """``{{ n|count }}``: a count with thousands separators, "12,007" (the one count format of every page)."""
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}"
    except (ValueError, TypeError):
        return str(value)
