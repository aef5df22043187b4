"""ABA routing transit numbers: nine digits with a weighted checksum (no ORM here).

Source: ABA / Federal Reserve routing number check digit, 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9)
≡ 0 (mod 10); shared/domain/README.md §3 (examples 021000021 and 111000025 are valid).
"""

from __future__ import annotations

WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


class InvalidRoutingNumber(ValueError):
    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"{value!r} is not a valid ABA routing number: {reason}.")


def checksum(digits: str) -> int:
    return sum(w * int(d) for w, d in zip(WEIGHTS, digits, strict=True)) % 10


def parse_routing_number(value: str) -> str:
    """Return the nine digits (spaces and dashes removed, ="..." guard stripped) or raise InvalidRoutingNumber."""
    raw = (value or "").strip()
    if raw.startswith('="') and raw.endswith('"'):
        raw = raw[2:-1]
    raw = raw.replace(" ", "").replace("-", "")
    if not raw:
        raise InvalidRoutingNumber(value, "it is blank")
    if not raw.isascii() or not raw.isdigit():
        raise InvalidRoutingNumber(value, "a routing number has digits only")
    if len(raw) != 9:
        raise InvalidRoutingNumber(value, f"a routing number has exactly 9 digits, this has {len(raw)}")
    if checksum(raw) != 0:
        raise InvalidRoutingNumber(
            value, "the check digit does not match (a digit is probably mistyped; copy it from a check or your bank)"
        )
    return raw


def is_valid_routing_number(value: str) -> bool:
    try:
        parse_routing_number(value)
    except InvalidRoutingNumber:
        return False
    return True
