from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.middleware import request_memberships


def organization(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "active_membership": membership if membership else None,
        "active_organization": membership.organization if membership else None,
        "all_memberships": request_memberships(request),
    }
