"""XLSX cells in the pages' one money format and one count format (issue #20 item 6).

Money stays a number in the workbook (sums and filters work) shown as "1,234.56"; a count is a number shown
as "12,007". Write-only worksheets need a WriteOnlyCell to carry a number format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from accounts.templatetags.money import COUNT_FORMAT, MONEY_FORMAT


def typed_row(ws: Any, values: Iterable[Any], *, text: Callable[[Any], Any] = lambda v: v) -> list[Any]:
    """The row's cells: Decimal amounts as money, integers as counts, everything else through ``text``
    (the formula-injection guard of the caller)."""
    from openpyxl.cell import WriteOnlyCell

    row: list[Any] = []
    for v in values:
        if isinstance(v, Decimal):
            cell = WriteOnlyCell(ws, value=v)
            cell.number_format = MONEY_FORMAT
        elif isinstance(v, int) and not isinstance(v, bool):
            cell = WriteOnlyCell(ws, value=v)
            cell.number_format = COUNT_FORMAT
        else:
            cell = text(v)
        row.append(cell)
    return row
