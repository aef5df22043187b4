"""Who may do what: members read and export; owners and staff change; viewers never change."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.http import OrgRequest
from accounts.selectors import active_membership, membership_for_slug, memberships_for, organization_slug_exists


class UnknownOrganization(exceptions.APIException):
    status_code = 400
    default_code = "unknown_organization"


def _membership_named(request: Any, slug: str) -> Any:
    """The membership X-Organization names. A slug the user is not a member of is refused rather than replaced by
    another organisation (the caller would act for one it did not name): 403 when the organisation exists, 400 when
    none has that slug. The message names only the user's own organisations, never another's."""
    memberships = list(memberships_for(request.user))
    membership = membership_for_slug(request.user, slug, memberships=memberships)
    if membership is not None:
        return membership
    yours = ", ".join(m.organization.slug for m in memberships) or "none"
    if organization_slug_exists(slug):
        raise exceptions.PermissionDenied(
            f"X-Organization: you are not a member of that organisation. Send the slug of one of yours ({yours}), "
            "or leave the header out to act for your current organisation.",
            code="not_a_member",
        )
    raise UnknownOrganization(
        f"X-Organization: no organisation has that slug. Send the slug of one of yours ({yours}), "
        "or leave the header out to act for your current organisation."
    )


def resolve_membership(request: Any) -> Any:
    """The acting membership for a page or API request (API: header X-Organization = slug, which must name one of
    the user's organisations; else the session's organisation, else the first)."""
    membership = getattr(request, "_rr_membership", None)
    if membership is None:
        django_request = getattr(request, "_request", request)
        slug = (request.headers.get("X-Organization") or "").strip() if hasattr(request, "headers") else ""
        if slug:
            membership = _membership_named(request, slug)
        else:
            org_id = django_request.session.get("active_org_id") if hasattr(django_request, "session") else None
            membership = active_membership(request.user, org_id=org_id)
        request._rr_membership = membership
        django_request.membership = membership
        django_request.organization = membership.organization if membership else None
    return membership


class IsOrganizationMember(BasePermission):
    message = "You must belong to an organisation; viewers may only read."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        membership = resolve_membership(request)
        if membership is None:
            return False
        if request.method in SAFE_METHODS or getattr(view, "viewer_may_post", False):
            return True
        return membership.can_edit


def member_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @login_required
    @wraps(view)
    def wrapper(request: OrgRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.membership:  # the middleware's lazy membership: None when the user has none
            return redirect("no_organization")
        return view(request, *args, **kwargs)

    return wrapper


def editor_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Owners and staff only; viewers (compliance staff) read and export but never change."""

    @member_required
    @wraps(view)
    def wrapper(request: OrgRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.membership.can_edit:
            raise PermissionDenied("Viewers can read and export but not change anything.")
        return view(request, *args, **kwargs)

    return wrapper


def editor_for_post(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """GET for every member; POST for owners and staff only."""

    @member_required
    @wraps(view)
    def wrapper(request: OrgRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not request.membership.can_edit:
            raise PermissionDenied("Viewers can read and export but not change anything.")
        return view(request, *args, **kwargs)

    return wrapper
