from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from accounts.http import OrgRequest
from accounts.models import Membership
from accounts.selectors import active_membership, memberships_for

SESSION_KEY = "active_org_id"


def request_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships, read once per request (the active one and the page's organisation menu)."""
    cached = getattr(request, "_memberships", None)
    if cached is None:
        cached = request._memberships = list(memberships_for(request.user))  # type: ignore[attr-defined]  # this module's per-request cache
    return cached


def _membership(request: HttpRequest) -> Membership | None:
    return active_membership(request.user, org_id=request.session.get(SESSION_KEY), memberships=request_memberships(request))


class ActiveOrganizationMiddleware:
    """Sets request.membership and request.organization: the organisation the user acts for."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = SimpleLazyObject(lambda: _membership(request))
        org_request = cast(OrgRequest, request)  # this is where OrgRequest's attributes are set
        org_request.membership = membership  # type: ignore[assignment]  # lazy; None without one (member_required)
        org_request.organization = SimpleLazyObject(  # type: ignore[assignment]  # lazy, as membership
            lambda: membership.organization if membership else None
        )
        return self.get_response(request)
