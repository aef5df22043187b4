"""The ACH guidance data file (ach/data/ach_guidance.json), loaded once. No ORM here."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


@cache
def guidance() -> dict[str, Any]:
    return json.loads((DATA / "ach_guidance.json").read_text(encoding="utf-8"))


def special_case(code: str) -> dict[str, Any]:
    g = guidance()
    case = dict(g["special_cases"][code])
    case["code"] = code
    case["contact_details"] = [dict(g["contacts"][c], code=c) for c in case.get("contacts", [])]
    return case


def contact(code: str) -> dict[str, Any]:
    return dict(guidance()["contacts"][code], code=code)


def replacement_weeks() -> tuple[int, int]:
    r = guidance()["replacement"]
    return int(r["wait_weeks_min"]), int(r["wait_weeks_max"])


SPECIAL_CASE_CODES = ("foreign_no_us_bank", "ace_account_inactive", "ace_account_voided", "paper_check_waiver")
