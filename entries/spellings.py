"""How an ES-003 or a facts file spells what the ruleset (cape.rules) reads as a code: the protest status
(rules.md "Inputs": none/open/suspended/denied/approved) and the liquidation reason code. Read here, on the
entries side, so that entries never imports cape; cape.rules re-exports them."""

from __future__ import annotations

from decimal import Decimal

# rules.md "Inputs": protest_status none/open/suspended/denied/approved; "Pending"/"Filed" are open,
# "Allowed"/"Granted" approved. Anything else counts as none (an entry with a Protest Number: open).
PROTEST_SPELLINGS = {
    "none": "none", "open": "open", "pending": "open", "filed": "open", "suspended": "suspended",
    "denied": "denied", "approved": "approved", "allowed": "approved", "granted": "approved",
}


def normalize_protest_status(raw: str | None, protest_number: str | None = "") -> str:
    """One of none/open/suspended/denied/approved; a Protest Number without a status counts as open."""
    status = PROTEST_SPELLINGS.get((raw or "").strip().lower(), "none")
    if status == "none" and (protest_number or "").strip():
        return "open"
    return status


def normalize_reason_code(raw: object) -> int | None:
    """ES-003 Liquidation Reason Code read as a number: `36`, `036` and `36.0` are all 36; blank is None."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    s = str(raw).strip()
    if not s:
        return None
    try:
        value = Decimal(s)
    except Exception:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)
