"""Control characters in text that reaches an email header (no ORM).

A carriage return or line feed in a header is header injection, and Django refuses to send it
(BadHeaderError): such text is refused where people type it, and stripped where it arrives from a file."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# C0 controls (tab, CR and LF among them) and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

CONTROL_CHARACTERS_MESSAGE = "Remove the line break, tab or other control character: type it on one line."


def has_control_characters(value: str) -> bool:
    return bool(CONTROL_CHARACTERS.search(value or ""))


def strip_control_characters(value: str) -> str:
    """Each run of control characters becomes one space; the ends are trimmed."""
    return re.sub(r"\s{2,}", " ", CONTROL_CHARACTERS.sub(" ", value or "")).strip()


@deconstructible
class ProhibitControlCharactersValidator:
    """Like Django's ProhibitNullCharactersValidator, for every control character."""

    message = CONTROL_CHARACTERS_MESSAGE
    code = "control_characters"

    def __call__(self, value: object) -> None:
        if has_control_characters(str(value)):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProhibitControlCharactersValidator)


no_control_characters = ProhibitControlCharactersValidator()
