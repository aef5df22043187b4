"""The organisation's own data (export everything, delete everything) and one's own API token."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.api_tokens import api_token_create, api_token_revoke, expiry_from_choice
from accounts.forms import ApiTokenForm, OrganizationSettingsForm
from accounts.http import OrgRequest
from accounts.models import ApiToken, Membership
from accounts.permissions import member_required
from accounts.services import ServiceError, organization_email_domains_set


def _owner_only(request: OrgRequest) -> None:
    # Another role sees no such page (404, as for another tenant's object): only owners export or delete.
    if request.membership.role != Membership.Role.OWNER:
        raise Http404


@login_required
@never_cache  # the page that shows a new key must not be kept by the browser or a proxy
def api_token(request: HttpRequest) -> HttpResponse:
    """One's own API token: create (or replace) it with an expiry, the key shown on this response only; revoke it."""
    new_key = ""
    form = ApiTokenForm(request.POST if request.POST.get("action") == "create" else None)
    organization = getattr(request, "organization", None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            if form.is_valid():
                _token, new_key = api_token_create(
                    user=request.user, expires_at=expiry_from_choice(form.cleaned_data["expires_in"]), organization=organization
                )
                messages.success(request, "A new API token was created. Copy it now: it is not shown again.")
                form = ApiTokenForm()
        elif action == "revoke":
            deleted = api_token_revoke(user=request.user, organization=organization)
            messages.success(request, "Your API token was revoked." if deleted else "You had no API token.")
            return redirect("api_token")
        else:
            return HttpResponse("Unknown action.", status=400)
    token = ApiToken.objects.filter(user=cast(User, request.user)).first()  # login_required: a User
    return render(request, "organization/api_token.html", {"token": token, "new_key": new_key, "form": form,
                                                           "expired": token is not None and token.is_expired(timezone.now())})


@member_required
def organization_settings(request: OrgRequest) -> HttpResponse:
    """A broker organisation's settings (owner only): its own email domains."""
    _owner_only(request)
    organization = request.organization
    if organization.kind != organization.Kind.BROKER:
        raise Http404
    initial = {"email_domains": "\n".join(organization.email_domains or [])}
    form = OrganizationSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            organization_email_domains_set(organization=organization, domains=form.cleaned_data["email_domains"], user=request.user)
        except ServiceError as exc:
            form.add_error("email_domains", exc.message)
        else:
            messages.success(request, "Organisation settings saved.")
            return redirect("organization_settings")
    return render(request, "accounts/org_settings.html", {"form": form}, status=400 if form.errors else 200)
