"""Reads scoped to the acting organisation. Every tenant-owned object is fetched through these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import (
    AccountApplication,
    AuditLog,
    Form5106Record,
    Importer,
    ImporterAssignment,
    ImporterGrant,
    ImporterNote,
    Membership,
    Organization,
)


def memberships_for(user: User | AnonymousUser) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")


def active_membership(user: User | AnonymousUser, *, org_id: int | None = None, org_slug: str | None = None,
                      memberships: list[Membership] | None = None) -> Membership | None:
    """The membership the user acts through: the one asked for if the user has it, else the first.
    ``memberships``: the user's, already read (memberships_for)."""
    if memberships is None:
        memberships = list(memberships_for(user))
    for m in memberships:
        if (org_id is not None and m.organization_id == org_id) or (org_slug and m.organization.slug == org_slug):
            return m
    return memberships[0] if memberships else None


def membership_for_slug(user: User | AnonymousUser, slug: str,
                        memberships: list[Membership] | None = None) -> Membership | None:
    """The user's membership in the organisation with this slug; None when the user is not in it."""
    if memberships is None:
        memberships = list(memberships_for(user))
    return next((m for m in memberships if m.organization.slug == slug), None)


def organization_slug_exists(slug: str) -> bool:
    return Organization.objects.filter(slug=slug).exists()


def importers_for(organization: Organization | None) -> QuerySet[Importer]:
    """Importers the organisation owns, plus those it manages through an unrevoked grant."""
    if organization is None:
        return Importer.objects.none()
    granted = ImporterGrant.objects.filter(
        importer=OuterRef("pk"), organization=organization, revoked_at__isnull=True
    )
    return Importer.objects.filter(Exists(granted) | Exists(Importer.objects.filter(pk=OuterRef("pk"), owner=organization)))


def organizations_seeing(importer_ids: Iterable[int] | QuerySet[Any, Any]) -> QuerySet[Organization]:
    """Every organisation that sees any of these importers (importers_for the other way round): each
    importer's owner and every organisation with an unrevoked grant on it. An entry's facts, path and CAPE
    history are shared by all of them, so a change to one is a change for each (caches, audit, digests)."""
    ids = importer_ids if isinstance(importer_ids, QuerySet) else list(importer_ids)
    granted = ImporterGrant.objects.filter(organization=OuterRef("pk"), importer_id__in=ids, revoked_at__isnull=True)
    return Organization.objects.filter(Exists(granted) | Exists(Importer.objects.filter(owner=OuterRef("pk"), pk__in=ids)))


def grants_for_owner(organization: Organization) -> QuerySet[ImporterGrant]:
    return ImporterGrant.objects.filter(importer__owner=organization).select_related("importer", "organization")


def audit_log_for(organization: Organization) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(organization=organization).select_related("user")


def importer_countries(importer_ids: Iterable[int]) -> dict[int, str]:
    """The country (ISO code) of each importer's address where one is on file: the country chosen on
    its submitted account application, else the country named at the end of its 5106 address.
    Importers with neither are left out. Two queries whatever the number of importers."""
    # Here, not at the top: accounts.countries reads accounts.onboarding, whose services import this module.
    from accounts.countries import country_in_address

    ids = list(importer_ids)
    countries: dict[int, str] = {}
    for importer_id, address in Form5106Record.objects.filter(importer_id__in=ids).values_list("importer_id", "address"):
        code = country_in_address(address)
        if code:
            countries[importer_id] = code
    applications = (
        AccountApplication.objects.filter(importer_id__in=ids, status=AccountApplication.Status.SUBMITTED)
        .order_by("importer_id", "submitted_at")
        .values_list("importer_id", "details")
    )
    for importer_id, details in applications:  # the latest submitted application wins
        code = str((details or {}).get("country") or "").upper()
        if code:
            countries[importer_id] = code
    return countries


def audit_log_filtered(
    organization: Organization,
    *,
    user_id: int | None = None,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: datetime | None = None,
    before: datetime | None = None,
) -> QuerySet[AuditLog]:
    """The organisation's audit rows narrowed by the audit log page's filters, latest first. Always
    starts from the organisation's own rows: a filter can only narrow them."""
    rows = audit_log_for(organization)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if action:
        rows = rows.filter(action=action)
    if object_type:
        rows = rows.filter(object_type=object_type)
    if object_id:
        rows = rows.filter(object_id=object_id)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if before is not None:
        rows = rows.filter(at__lt=before)
    return rows.order_by("-at", "-pk")


def audit_log_choices(organization: Organization) -> dict[str, list[Any]]:
    """What the organisation's own rows hold, for the filter menus: users, actions, object types."""
    from django.contrib.auth import get_user_model

    rows = audit_log_for(organization).order_by()
    users = list(
        get_user_model().objects.filter(pk__in=rows.filter(user__isnull=False).values("user_id")).order_by("username")
    )
    actions = sorted(set(rows.values_list("action", flat=True).distinct()))
    object_types = sorted(set(rows.exclude(object_type="").values_list("object_type", flat=True).distinct()))
    return {"users": users, "actions": actions, "object_types": object_types}


# ----------------------------------------------------------------------------- client work
def assignments_for(organization: Organization | None) -> QuerySet[ImporterAssignment]:
    """The organisation's own assignments, on importers it may still see (a revoked grant hides them)."""
    if organization is None:
        return ImporterAssignment.objects.none()
    return ImporterAssignment.objects.filter(organization=organization, importer__in=importers_for(organization))


def assigned_importer_ids(organization: Organization | None, user: User | AnonymousUser) -> list[int]:
    """The importers assigned to this member: "my clients"."""
    if organization is None or not user.is_authenticated:
        return []
    return list(assignments_for(organization).filter(member=user).values_list("importer_id", flat=True))


def assignable_members(organization: Organization) -> QuerySet[Any]:
    """Members who may be assigned clients: the organisation's owners and staff (viewers only read)."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(memberships__organization=organization,
                        memberships__role__in=[Membership.Role.OWNER, Membership.Role.STAFF])
        .order_by("username")
    )


def notes_for(organization: Organization | None, importer: Importer | None = None) -> QuerySet[ImporterNote]:
    """The organisation's own notes (on importers it may still see), newest first."""
    if organization is None:
        return ImporterNote.objects.none()
    qs = ImporterNote.objects.filter(organization=organization, importer__in=importers_for(organization))
    if importer is not None:
        qs = qs.filter(importer=importer)
    return qs.select_related("created_by").order_by("-created_at", "-pk")
