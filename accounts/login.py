from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm

from accounts import throttle
from accounts.services import audit
from refundready.redirects import next_path


def lockout_message() -> str:
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    return f"Too many failed log-in attempts. Wait {minutes} minutes and try again, or reset your password."


class ThrottledLoginMixin:
    """The log-in lock-out (accounts.throttle, per username and per address) for any AuthenticationForm: the site's
    log-in page and the Django admin's, so that neither can be used to guess a password the other protects."""

    request: Any
    data: Any

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username", "")
        if throttle.is_locked(self.request, username):
            raise forms.ValidationError(lockout_message(), code="throttled")
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            throttle.record_failure(self.request, username)
            audit(action="auth.login_failed", username=username[:150])
            raise
        throttle.clear(self.request, username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's log-in form (staff only) behind the same lock-out; set as admin.site.login_form in accounts/admin.py."""


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def get_redirect_url(self) -> str:
        return next_path(self.request, self.redirect_field_name)


class LogoutView(auth_views.LogoutView):
    def get_redirect_url(self) -> str:
        return next_path(self.request, self.redirect_field_name)
