"""The one error a service raises when a business rule refuses a request (re-exported by accounts.services).

It lives at the bottom layer so that ORM-free helpers (refundready.forms.submit_form) can catch it without
importing an app. Pages show it beside the field it names; the API answers it as a 400 (accounts/api_errors.py).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A business rule refused the request. ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
