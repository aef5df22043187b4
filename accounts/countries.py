"""The country of an importer's address, from the account application (an ISO code) or from the free
text of its CBP Form 5106 address. No ORM here.

A foreign importer is a special case for ACH refunds (seed 004, "Special Cases": "Foreign importer
(no U.S. bank) — Must have a U.S. bank account, OR designate a U.S. customs broker as the authorized
notify party"), so the country is read from the facts on file instead of waiting for someone to tick
a box.
"""

from __future__ import annotations

import re
from functools import cache

from accounts.onboarding.data import load

# U.S. territories have their own ISO 3166-1 codes, but their banks have ABA routing numbers and
# take part in U.S. ACH: not foreign for a refund (our reading; no CBP text says otherwise).
DOMESTIC = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})

# How people write a country on the last line of an address, beyond its ISO English name.
ALIASES = {
    "USA": "US", "U S": "US", "U S A": "US", "UNITED STATES OF AMERICA": "US", "AMERICA": "US",
    "UK": "GB", "U K": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB",
    "NORTHERN IRELAND": "GB", "SOUTH KOREA": "KR", "KOREA": "KR", "PRC": "CN", "P R C": "CN", "PEOPLES REPUBLIC OF CHINA": "CN",
    "TAIWAN": "TW", "VIETNAM": "VN", "RUSSIA": "RU", "HOLLAND": "NL", "THE NETHERLANDS": "NL", "TURKEY": "TR",
    "CZECH REPUBLIC": "CZ", "IRAN": "IR", "LAOS": "LA", "BOLIVIA": "BO", "VENEZUELA": "VE", "TANZANIA": "TZ",
    "SYRIA": "SY", "MOLDOVA": "MD", "HONG KONG SAR": "HK",
}


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^A-Za-z]+", " ", text).upper().split())


@cache
def _names() -> dict[str, str]:
    names = {}
    for c in load("org_structures.json")["countries"]:
        names[_key(c["name"])] = c["code"]
        # "Korea, Republic of" is also written "Republic of Korea"
        if "," in c["name"]:
            head, tail = (p.strip() for p in c["name"].split(",", 1))
            names[_key(f"{tail} {head}")] = c["code"]
    names.update({_key(k): v for k, v in ALIASES.items()})
    return names


def country_name(code: str) -> str:
    for c in load("org_structures.json")["countries"]:
        if c["code"] == code:
            return str(c["name"])
    return code


def country_in_address(address: str) -> str | None:
    """The ISO code of the country named at the end of a free-text address, or None when none is
    named (a U.S. address usually ends with "City, ST 12345" and names no country)."""
    lines = [ln.strip() for ln in (address or "").splitlines() if ln.strip()]
    if not lines:
        return None
    names = _names()
    last = lines[-1]
    # The whole last line, then its last comma-separated part ("Toronto, ON M5V 2T6, Canada").
    for candidate in (last, last.rsplit(",", 1)[-1]):
        code = names.get(_key(candidate))
        if code:
            return code
    return None


def is_foreign(code: str | None) -> bool:
    return bool(code) and code not in DOMESTIC
