"""Log filter that masks bank account numbers and SSN-form importer numbers before anything is written."""

from __future__ import annotations

import logging
import re

# SSN-form IR numbers (NNN-NN-NNNN) and long digit runs that could be bank account numbers (8-17 digits).
_SSN = re.compile(r"\b\d{3}-\d{2}-(\d{4})\b")
_ACCOUNT = re.compile(r"\b\d{4,13}(\d{4})\b")


def redact(text: str) -> str:
    text = _SSN.sub(r"***-**-\1", text)
    return _ACCOUNT.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(1), text)


_FORMATTER = logging.Formatter()


class RedactSensitiveFilter(logging.Filter):
    """Masks the message, the traceback and the stack of every record.

    A formatter writes ``record.exc_text`` when it is set instead of formatting ``exc_info`` again, so the
    traceback is formatted here once, redacted, and left in ``exc_text``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class NoTracebackForClientErrors(logging.Filter):
    """A refused request (403 PermissionDenied, 400 SuspiciousOperation, 404) is the user's business, not a
    defect: Django's request logger attaches the exception's traceback to its warning line, which buries
    real errors. Keep the one-line warning, drop the traceback; 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
