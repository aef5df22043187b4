"""Importer record numbers (IR#): the three formats CBP accepts, validated and stored in one canonical form.

Source: CBP, Automated ACE Portal Account Application for Importers (Oct 2025) and CBP Form 5106
instructions; see shared/domain/README.md §3.

* EIN with suffix: ``NN-NNNNNNNXX``; the suffix is two alphanumerics, never O, I or Z.
* SSN: ``NNN-NN-NNNN``.
* CBP-assigned: ``YYDDPP-NNNNN`` (year, district/port, serial).

Eleven characters typed without dashes are ambiguous between an EIN with a numeric suffix and a
CBP-assigned number; they are read as EIN (by far the commoner form). A CBP-assigned number must be
typed with its dash after the sixth digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VALID_FORMATS_MESSAGE = (
    "Valid importer numbers: EIN with its 2-character suffix NN-NNNNNNNXX (e.g. 12-345678900; "
    "the suffix never uses O, I or Z), SSN NNN-NN-NNNN, or CBP-assigned YYDDPP-NNNNN."
)
_SUFFIX_FORBIDDEN = set("OIZ")
_EIN = re.compile(r"^(\d{2})-?(\d{7})-?([0-9A-Z]{2})$")  # 12-345678900, also 12-3456789-00
_SSN = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")
_CBP = re.compile(r"^(\d{6})-(\d{5})$")


class InvalidIRNumber(ValueError):
    def __init__(self, value: str, reason: str = "") -> None:
        self.value = value
        self.reason = reason or "it matches none of the accepted formats"
        super().__init__(f"{value!r} is not a valid importer number: {self.reason}. {VALID_FORMATS_MESSAGE}")


@dataclass(frozen=True)
class IRNumber:
    canonical: str
    kind: str  # "ein", "ssn" or "cbp"

    @property
    def masked(self) -> str:
        """SSN-form numbers are personal data: show only the last four digits."""
        if self.kind == "ssn":
            return "***-**-" + self.canonical[-4:]
        return self.canonical


def parse_ir_number(value: str) -> IRNumber:
    raw = (value or "").strip().upper().replace(" ", "")
    if raw.startswith('="') and raw.endswith('"'):
        raw = raw[2:-1]
    if not raw:
        raise InvalidIRNumber(value, "it is blank; fill in the importer of record's number: CBP's importer number is "
                                     "the EIN plus a 2-character suffix, usually 00 (e.g. 12-345678900)")
    if m := _CBP.match(raw):
        return IRNumber(f"{m.group(1)}-{m.group(2)}", "cbp")
    if m := _SSN.match(raw):
        return IRNumber(f"{m.group(1)}-{m.group(2)}-{m.group(3)}", "ssn")
    if m := _EIN.match(raw):
        suffix = m.group(3)
        bad = sorted(set(suffix) & _SUFFIX_FORBIDDEN)
        if bad:
            raise InvalidIRNumber(value, f"the EIN suffix {suffix!r} uses {', '.join(bad)}, which CBP never assigns")
        return IRNumber(f"{m.group(1)}-{m.group(2)}{suffix}", "ein")
    if m := re.fullmatch(r"(\d{2})-?(\d{7})", raw):
        # CBP Form 5106 instructions and the ACE Portal application: the importer number is the IRS EIN plus a
        # 2-character suffix CBP assigned, 00 unless the company has several importer records.
        raise InvalidIRNumber(value, f"an EIN alone is not an importer number: CBP's importer number is the EIN plus a "
                                     f"2-character suffix, usually 00; write {m.group(1)}-{m.group(2)} as "
                                     f"{m.group(1)}-{m.group(2)}00 (or with the suffix on the importer's CBP Form 5106)")
    raise InvalidIRNumber(value)


def canonical_ir_number(value: str) -> str:
    return parse_ir_number(value).canonical


def mask_ir_number(canonical: str) -> str:
    """Mask an already canonical number for display (SSN form only)."""
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", canonical or ""):
        return "***-**-" + canonical[-4:]
    return canonical
