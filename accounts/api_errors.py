"""The API's one exception mapping (settings REST_FRAMEWORK["EXCEPTION_HANDLER"]).

A service that refuses a request raises ``ServiceError``; every API endpoint answers it as DRF answers a
validation error: 400 with ``{"<field>": ["<message>"]}``, the field being the one the service named or
``non_field_errors``. Endpoints need no ``except ServiceError`` of their own unless they answer otherwise
(several files in one request, a file's own field)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.services import ServiceError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        exc = ValidationError({exc.field or api_settings.NON_FIELD_ERRORS_KEY: [exc.message]})
    return drf_exception_handler(exc, context)
