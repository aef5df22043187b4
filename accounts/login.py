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
            cleaned = super().clean()  # type: ignore[misc]  # AuthenticationForm.clean: untyped in the stubs
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

    def get_redirect_url(self) -> str:  # type: ignore[override]  # Django 5.2's takes no request; the stubs' does
        return next_path(self.request, self.redirect_field_name)


class LogoutView(auth_views.LogoutView):
    def get_redirect_url(self) -> str:  # type: ignore[override]  # Django 5.2's takes no request; the stubs' does
        return next_path(self.request, self.redirect_field_name)


def reset_throttled_message() -> str:
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    return f"Too many password reset requests from here or for this email. Wait {minutes} minutes and try again."


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request (no answer tells whether the email belongs to a user), counted per address and per
    email by the log-in throttle so it cannot be used to flood a mailbox."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "email/password_reset.txt"
    subject_template_name = "email/password_reset_subject.txt"

    def form_valid(self, form: Any) -> Any:
        if not throttle.password_reset_allowed(self.request, form.cleaned_data["email"]):
            form.add_error(None, forms.ValidationError(reset_throttled_message(), code="throttled"))
            return self.form_invalid(form)
        audit(action="auth.password_reset_requested")
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form: Any) -> Any:
        response = super().form_valid(form)
        # The lock-out message says "or reset your password": a new password lifts the username's lock-out.
        throttle.clear(self.request, self.user.get_username())  # type: ignore[union-attr]  # a valid link found the user
        audit(action="auth.password_reset", user=self.user)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"

    def form_valid(self, form: Any) -> Any:
        response = super().form_valid(form)
        audit(action="auth.password_change", user=self.request.user)
        return response
