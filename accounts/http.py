"""The typed requests of a member's page and API endpoint (issue #21 item 5)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import Membership, Organization


class OrgRequest(HttpRequest):
    """A page request behind ``member_required`` (or ``editor_required``, ``editor_for_post``): a signed-in user
    acting for one organisation. ``ActiveOrganizationMiddleware`` sets ``membership`` and ``organization`` on every
    request (lazily; ``None`` when the user belongs to none); the decorators turn away a request without them, so a
    view that takes an ``OrgRequest`` may use them as set."""

    user: User
    membership: Membership
    organization: Organization


class OrgApiRequest(Request):
    """The same for an API endpoint behind ``IsOrganizationMember``: the permission resolves the acting membership
    (``accounts.permissions.resolve_membership``) and sets both attributes on the request DRF wraps, which this
    request reads through."""

    user: User
    membership: Membership
    organization: Organization
