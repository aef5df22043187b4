"""Cells of the CSV and XLSX files people download, made safe to open in a spreadsheet (no ORM).

OWASP "CSV Injection": a text cell that begins with = + - or @ is run as a formula by Excel, LibreOffice and
Google Sheets, and some of them strip a leading tab or carriage return first. Every export writes its text
through ``neutralise``.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that would start a formula gets a leading apostrophe (shown as text); numbers, dates and other
    values pass through unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
