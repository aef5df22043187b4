"""The onboarding data files (accounts/data/*.json) and the limits read from settings."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

DATA = Path(__file__).resolve().parent.parent / "data"

# Limits of the account application; override in settings. The ten minutes are CBP's (seed 001:
# "The verification code will only be valid for ten minutes"); the others are ours.
DEFAULT_LIMITS: dict[str, int] = {
    "ONBOARDING_CODE_VALID_MINUTES": 10,
    "ONBOARDING_MAX_WRONG_CODES": 5,
    # Codes sent (first send and resends) per IR number and per IP address within the window.
    "ONBOARDING_CODES_PER_IR": 5,
    "ONBOARDING_CODES_PER_IP": 20,
    "ONBOARDING_CODE_WINDOW_MINUTES": 60,
    # Applications started (checks run, passed or failed) per IP address within the window.
    "ONBOARDING_STARTS_PER_IP": 30,
    # After the code: time allowed to fill in the details and submit.
    "ONBOARDING_DETAILS_MINUTES": 60,
    # Readiness: an ES-003 older than this is stale (CBP liquidates weekly).
    "READINESS_ES003_MAX_AGE_DAYS": 7,
}


def limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULT_LIMITS[name]))


@cache
def load(name: str) -> Any:
    with (DATA / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def sources() -> dict[str, str]:
    return load("cbp_contacts.json")["sources"]


def contact(key: str | None) -> dict[str, str] | None:
    """A CBP contact with its source spelled out, or None."""
    if not key:
        return None
    raw = load("cbp_contacts.json")["contacts"][key]
    return {**raw, "key": key, "source_text": sources().get(raw["source"], raw["source"])}


def already_linked_guide() -> dict[str, Any]:
    guide = dict(load("cbp_contacts.json")["already_linked_guide"])
    guide["steps"] = [{**step, "contact": contact(step.get("contact"))} for step in guide["steps"]]
    return guide


def form5106_update_text() -> str:
    return load("cbp_contacts.json")["form5106_update"]["text"]


def sub_account_letter_rules() -> dict[str, Any]:
    rules = dict(load("cbp_contacts.json")["sub_account_letter"])
    rules["source_text"] = sources().get(rules["source"], rules["source"])
    return rules


def free_mail_domains() -> frozenset[str]:
    return frozenset(d.lower() for d in load("free_mail_domains.json")["domains"])


def org_structure_choices() -> list[tuple[str, str]]:
    return [(o["code"], o["label"]) for o in load("org_structures.json")["organizational_structures"]]


def country_choices() -> list[tuple[str, str]]:
    countries = load("org_structures.json")["countries"]
    us = [c for c in countries if c["code"] == "US"]
    rest = [c for c in countries if c["code"] != "US"]
    return [(c["code"], f"{c['name']} ({c['code']})") for c in us + rest]
