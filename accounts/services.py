"""Writes for organisations, memberships, importers and grants. Every state change is audited."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.irnumber import canonical_ir_number
from accounts.models import AuditLog, Importer, ImporterGrant, Membership, Organization

User = get_user_model()


class ServiceError(Exception):
    """A business rule refused the request. ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def audit(
    *,
    action: str,
    user: Any = None,
    organization: Organization | None = None,
    obj: models.Model | None = None,
    **detail: Any,
) -> AuditLog:
    return AuditLog.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        organization=organization,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail={k: v for k, v in detail.items() if v is not None},
    )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(*, name: str, kind: str, owner: Any | None = None, slug: str | None = None) -> Organization:
    org = Organization.objects.create(name=name, kind=kind, slug=slug or _unique_slug(name))
    if owner is not None:
        Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    audit(action="organization.create", user=owner, organization=org, obj=org, kind=kind)
    return org


@transaction.atomic
def membership_set(*, organization: Organization, user: Any, role: str, actor: Any = None) -> Membership:
    membership, _ = Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    audit(action="membership.set", user=actor, organization=organization, obj=membership, member=user.get_username(), role=role)
    return membership


@transaction.atomic
def membership_digest_set(*, membership: Membership, email_digest: bool, user: Any) -> Membership:
    """A member's own choice to receive (or not) the daily deadline digest of that organisation.
    It is personal, like one's API token: any role may change it for itself, never for another."""
    if membership.user_id != getattr(user, "pk", None):
        raise ServiceError("You can change only your own settings.")
    if membership.email_digest != email_digest:
        membership.email_digest = email_digest
        membership.save(update_fields=["email_digest"])
        audit(action="membership.email_digest", user=user, organization=membership.organization, obj=membership,
              email_digest=email_digest)
    return membership


DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_EMAIL_DOMAINS = 20


def parse_email_domains(text: str) -> list[str]:
    """Domains separated by commas, spaces or new lines; "@harborcb.com" and "Harborcb.com" both
    mean harborcb.com. Raises ServiceError naming the first bad one."""
    from accounts.onboarding.data import free_mail_domains

    domains: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        domain = raw.strip().lstrip("@").rstrip(".").lower()
        if not domain:
            continue
        if "@" in domain:
            raise ServiceError(f"{raw!r} is an email address: enter only the part after the @.", field="email_domains")
        if not DOMAIN_RE.match(domain):
            raise ServiceError(f"{raw!r} is not an email domain such as harborcb.com.", field="email_domains")
        if domain in free_mail_domains():
            raise ServiceError(f"{domain} is a free-mail provider, not your organisation's own domain.", field="email_domains")
        if domain not in domains:
            domains.append(domain)
    if len(domains) > MAX_EMAIL_DOMAINS:
        raise ServiceError(f"Enter at most {MAX_EMAIL_DOMAINS} domains.", field="email_domains")
    return domains


@transaction.atomic
def organization_email_domains_set(*, organization: Organization, domains: str, user: Any) -> Organization:
    """The organisation's own email domains, besides its members' login domains. A broker's are used
    to warn when a client's 5106 POC email is at the broker (the code would not reach the importer)."""
    parsed = parse_email_domains(domains)
    if parsed != list(organization.email_domains or []):
        old = list(organization.email_domains or [])
        organization.email_domains = parsed
        organization.save(update_fields=["email_domains"])
        audit(action="organization.email_domains", user=user, organization=organization, obj=organization,
              old=old, new=parsed)
    return organization


@transaction.atomic
def importer_create(*, organization: Organization, ir_number: str, name: str = "", user: Any = None) -> Importer:
    """A broker creates a (pending) importer record for a client; an importer organisation, its own.

    A broker adding an IR number that already exists gets a grant only if nobody owns it yet;
    an owned importer's access is the owner's to give.
    """
    canonical = canonical_ir_number(ir_number)
    existing = Importer.objects.select_for_update().filter(ir_number=canonical).first()
    if organization.kind == Organization.Kind.IMPORTER:
        if existing is not None and existing.owner_id not in (None, organization.pk):
            raise ServiceError("This importer number is already owned by another organisation.", field="ir_number")
        importer = existing or Importer(ir_number=canonical, created_by=organization)
        importer.owner = organization
        importer.name = name or importer.name
        importer.status = Importer.Status.ACTIVE
        importer.save()
    else:
        if existing is not None and existing.owner_id is not None:
            raise ServiceError(
                "This importer already has its own workspace: ask its owner to grant your organisation access.",
                field="ir_number",
            )
        if existing is not None and managed_elsewhere(existing, organization):
            # Typing an IR number (an EIN is no secret) must not open another broker's client: its 5106 POC
            # email decides where the account application's verification code goes.
            raise ServiceError(MANAGED_ELSEWHERE, field="ir_number")
        importer = existing or Importer.objects.create(ir_number=canonical, name=name, created_by=organization)
        if name and not importer.name:
            importer.name = name
            importer.save(update_fields=["name"])
        grant_create(importer=importer, organization=organization, user=user, _audit=False)
    audit(action="importer.create", user=user, organization=organization, obj=importer, ir_number=canonical)
    return importer


MANAGED_ELSEWHERE = (
    "Another organisation already manages this importer of record. Ask the importer to set up its own "
    "workspace (the account application under Onboarding): its owner can then grant your organisation access."
)


def managed_elsewhere(importer: Importer, organization: Organization) -> bool:
    """An importer without an owner that another organisation holds an active grant on."""
    return (
        importer.owner_id is None
        and ImporterGrant.objects.filter(importer=importer, revoked_at=None).exclude(organization=organization).exists()
        and not ImporterGrant.objects.filter(importer=importer, revoked_at=None, organization=organization).exists()
    )


def grant_create(*, importer: Importer, organization: Organization, user: Any = None, _audit: bool = True) -> ImporterGrant:
    try:
        with transaction.atomic():
            grant, _ = ImporterGrant.objects.get_or_create(importer=importer, organization=organization, revoked_at=None)
    except IntegrityError:
        grant = ImporterGrant.objects.get(importer=importer, organization=organization, revoked_at=None)
    if _audit:
        audit(action="grant.create", user=user, organization=importer.owner or organization, obj=grant, broker=organization.slug)
    return grant


@transaction.atomic
def grant_revoke(*, grant: ImporterGrant, user: Any = None) -> ImporterGrant:
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    audit(action="grant.revoke", user=user, organization=grant.importer.owner, obj=grant, broker=grant.organization.slug)
    return grant


class ImporterNotManaged(ServiceError):
    pass


def importer_for_upload(*, organization: Organization, ir_number: str, name: str = "", user: Any = None) -> Importer:
    """Resolve the importer an ES-003 row belongs to, within what the organisation may load.

    A broker gets a pending importer record (and a grant) for a client it has not added yet; an
    importer organisation may load only its own importers' entries.
    """
    from accounts.selectors import importers_for

    canonical = canonical_ir_number(ir_number)
    found = importers_for(organization).filter(ir_number=canonical).first()
    if found is not None:
        return found
    if organization.kind == Organization.Kind.BROKER:
        return importer_create(organization=organization, ir_number=canonical, name=name, user=user)
    raise ImporterNotManaged(
        f"Importer {canonical} is not one of this organisation's importers; an importer organisation "
        "may not load another company's entries.",
        field="Importer Number",
    )
