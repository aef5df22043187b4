"""Content-Security-Policy on every response (settings.CONTENT_SECURITY_POLICY).

The pages run only the app's own files: htmx (vendored in static/js) and static/js/*.js. No template has an
inline <script>, an on* handler attribute or a style attribute, and htmx is configured (base.html's
htmx-config) neither to evaluate code nor to insert its own <style>, so the policy needs no
'unsafe-inline' or 'unsafe-eval' for scripts or styles. The Swagger UI page (/api/docs/) loads its
start-up script from a URL of its own (drf-spectacular's split view) and its page styles from a file.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy:
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
