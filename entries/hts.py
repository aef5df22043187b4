"""Which tariff lines carry IEEPA duty (shared/domain/README.md §8).

IEEPA duties were declared on Chapter 99 headings 9903.01.xx and 9903.02.xx. Some of those headings
are exceptions that carry no duty, and CAPE wants at least one *dutiable* IEEPA line, so a line counts
as IEEPA duty when its heading is in the list **and** its duty amount is positive. The heading
prefixes (with their sources) live in entries/data/ieepa_headings.csv, not in code. Section 301
(9903.88), Section 232 (9903.80/.81/.85/.94…) and Section 122 (9903.03.01) are not IEEPA.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

HEADINGS_FILE = Path(__file__).resolve().parent / "data" / "ieepa_headings.csv"


@lru_cache(maxsize=1)
def ieepa_prefixes() -> tuple[str, ...]:
    with HEADINGS_FILE.open(newline="", encoding="utf-8") as fh:
        return tuple(row["prefix"].strip() for row in csv.DictReader(fh) if row["prefix"].strip())


def normalise_hts(hts: str) -> str:
    return "".join(c for c in str(hts) if c.isdigit())


@lru_cache(maxsize=65536)
def is_ieepa_heading(hts: str) -> bool:
    """True when the HTS number (with or without dots) falls under an IEEPA Chapter 99 heading."""
    return normalise_hts(hts).startswith(ieepa_prefixes())


def is_ieepa_line(hts: str, duty: Decimal | str | int | float | None) -> bool:
    """An IEEPA heading with a positive duty amount (domain README §8)."""
    if duty is None or duty == "":
        return False
    return is_ieepa_heading(hts) and Decimal(str(duty)) > 0
