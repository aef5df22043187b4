"""Writes for organisations, memberships, importers and grants. Every state change is audited."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.irnumber import canonical_ir_number
from accounts.models import (
    AuditLog,
    Importer,
    ImporterAssignment,
    ImporterGrant,
    ImporterNote,
    Membership,
    Organization,
)
from accounts.selectors import importers_for
from accounts.signals import importer_facts_changed
from accounts.textcheck import strip_control_characters
from refundready.dates import today_eastern
from refundready.errors import ServiceError  # its home is the bottom layer; every app imports it from here

User = get_user_model()


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
    # Here, not at the top: accounts.onboarding imports this module (its 5106 and application services).
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


# One reply for every IR number a broker may not add (owned by a workspace, managed by another broker):
# an IR number (an EIN) is no secret, so the refusal must not tell who holds the importer, or that anyone does.
IMPORTER_UNAVAILABLE = (
    "This importer of record cannot be added to your organisation. If it is your client, ask the importer to "
    "grant your organisation access from its own RefundReady workspace, or to complete the account application "
    "(Onboarding) first."
)

# An importer organisation proves it is the importer of record only as CBP's own ACE application does: with the
# verification code sent to the point of contact on the importer's CBP Form 5106 (box 2E) (CBP, "Automated ACE
# Portal Account Application for Importers", Oct 2025). Typing an IR number proves nothing.
IMPORTER_BY_APPLICATION = (
    "An importer organisation adds its importer of record through the account application (Onboarding > Apply): "
    "a verification code is emailed to the point of contact on the importer's CBP Form 5106, and entering it "
    "links the importer to your workspace."
)


@transaction.atomic
def importer_create(*, organization: Organization, ir_number: str, name: str = "", user: Any = None) -> Importer:
    """A broker creates a (pending) importer record for a client, or re-adds one it already manages.

    Ownership comes only from proof (the account application's verification code, sent to the 5106 POC), so an
    importer organisation never becomes owner here: it gets its own importer back, or is sent to the application.
    A broker is refused, with one neutral message, an importer that is owned or that another broker manages.
    """
    canonical = canonical_ir_number(ir_number)
    # The name may come from an ES-003 file; it reaches an email subject, where a line break is header injection.
    name = strip_control_characters(name)
    existing = Importer.objects.select_for_update().filter(ir_number=canonical).first()
    if organization.kind == Organization.Kind.IMPORTER:
        if existing is not None and existing.owner_id == organization.pk:
            return existing
        # The same message whether the number exists or not: it must not confirm that anyone holds it.
        raise ServiceError(IMPORTER_BY_APPLICATION, field="ir_number")
    if existing is not None and (
        (existing.owner_id is not None and not _has_grant(existing, organization)) or managed_elsewhere(existing, organization)
    ):
        raise ServiceError(IMPORTER_UNAVAILABLE, field="ir_number")
    if existing is not None and existing.owner_id is not None:
        return existing  # the owner granted this broker access already: nothing to add
    importer = existing or Importer.objects.create(ir_number=canonical, name=name, created_by=organization)
    if name and not importer.name:
        importer.name = name
        importer.save(update_fields=["name"])
    if existing is None:
        grant_create(importer=importer, organization=organization, user=user, _audit=False)
        audit(action="importer.create", user=user, organization=organization, obj=importer, ir_number=canonical)
    else:
        # An unowned importer nobody manages any more (its broker let it go): a new grant, audited in the
        # logs of this broker and of the organisation that created the record.
        grant_create(importer=importer, organization=organization, user=user)
    return importer


def _has_grant(importer: Importer, organization: Organization) -> bool:
    return ImporterGrant.objects.filter(importer=importer, organization=organization, revoked_at=None).exists()


def managed_elsewhere(importer: Importer, organization: Organization) -> bool:
    """An importer without an owner that another organisation holds an active grant on."""
    return (
        importer.owner_id is None
        and ImporterGrant.objects.filter(importer=importer, revoked_at=None).exclude(organization=organization).exists()
        and not _has_grant(importer, organization)
    )


def organizations_involved(importer: Importer, *also: Organization | None) -> list[Organization]:
    """Every organisation a change of the importer's owner or grants concerns: its owner, each organisation
    with an active grant, the organisation that created the record, and any given. Each appears once."""
    found: dict[int, Organization] = {}
    candidates = [importer.owner, importer.created_by, *also]
    candidates += [g.organization for g in importer.grants.filter(revoked_at=None).select_related("organization")]
    for org in candidates:
        if org is not None and org.pk not in found:
            found[org.pk] = org
    return list(found.values())


def audit_everywhere(*, action: str, organizations: list[Organization], user: Any = None, obj: models.Model | None = None,
                     **detail: Any) -> list[AuditLog]:
    """The same event in each organisation's own audit log (each reads only its own)."""
    return [audit(action=action, user=user, organization=org, obj=obj, **detail) for org in organizations]


def grant_create(*, importer: Importer, organization: Organization, user: Any = None, _audit: bool = True) -> ImporterGrant:
    """Give a broker access to the importer. A new grant is audited in the owner's and the broker's logs
    (and, for an importer without an owner, in the log of the organisation that created it)."""
    try:
        with transaction.atomic():
            grant, created = ImporterGrant.objects.get_or_create(importer=importer, organization=organization, revoked_at=None)
    except IntegrityError:
        grant, created = ImporterGrant.objects.get(importer=importer, organization=organization, revoked_at=None), False
    if _audit and created:
        involved = [o for o in (importer.owner, organization) if o is not None]
        if importer.owner is None and importer.created_by is not None:
            involved.append(importer.created_by)
        audit_everywhere(action="grant.create", organizations=list({o.pk: o for o in involved}.values()), user=user,
                         obj=grant, importer_id=importer.pk, broker=organization.slug)
    return grant


@transaction.atomic
def grant_revoke(*, grant: ImporterGrant, user: Any = None) -> ImporterGrant:
    """End a broker's access; audited in the owner's and the broker's logs."""
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    involved = {o.pk: o for o in (grant.importer.owner, grant.organization) if o is not None}
    audit_everywhere(action="grant.revoke", organizations=list(involved.values()), user=user, obj=grant,
                     importer_id=grant.importer_id, broker=grant.organization.slug)
    return grant


class ImporterNotManaged(ServiceError):
    pass


def importer_for_upload(*, organization: Organization, ir_number: str, name: str = "", user: Any = None) -> Importer:
    """Resolve the importer an ES-003 row belongs to, within what the organisation may load.

    A broker gets a pending importer record (and a grant) for a client it has not added yet; an
    importer organisation may load only its own importers' entries.
    """
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


# ----------------------------------------------------------------------------- client work
# Assignments and notes are the acting organisation's own (a broker's notes on a client are never shown to the
# importer's owner or another broker): every write takes the organisation, checks the importer is one it may
# see (accounts.selectors.importers_for) and is audited in that organisation's log.
NOTE_MAX_LENGTH = 2000


def _visible_importer(organization: Organization, importer: Importer) -> None:
    if not importers_for(organization).filter(pk=importer.pk).exists():
        raise ServiceError("This importer is not one of this organisation's importers.", field="importer")


@transaction.atomic
def importer_assign(*, organization: Organization, importer: Importer, member: Any, user: Any) -> ImporterAssignment:
    """Assign the importer to a member (owner or staff) of the organisation. Assigning twice changes nothing."""
    _visible_importer(organization, importer)
    membership = Membership.objects.filter(organization=organization, user=member).first()
    if membership is None or not membership.can_edit:
        raise ServiceError("Choose an owner or staff member of this organisation (viewers only read).", field="member")
    assignment, created = ImporterAssignment.objects.get_or_create(
        organization=organization, importer=importer, member=member, defaults={"assigned_by": user if getattr(user, "is_authenticated", False) else None}
    )
    if created:
        audit(action="importer.assign", user=user, organization=organization, obj=importer, member=member.get_username())
    return assignment


@transaction.atomic
def importer_unassign(*, organization: Organization, importer: Importer, member: Any, user: Any) -> bool:
    """Take the importer off the member's clients. Returns whether there was such an assignment."""
    _visible_importer(organization, importer)
    deleted, _ = ImporterAssignment.objects.filter(organization=organization, importer=importer, member=member).delete()
    if deleted:
        audit(action="importer.unassign", user=user, organization=organization, obj=importer, member=member.get_username())
    return bool(deleted)


@transaction.atomic
def importer_note_add(
    *, organization: Organization, importer: Importer, text: str, follow_up_on: Any = None, user: Any
) -> ImporterNote:
    """A note on the importer, with an optional follow-up date (shown on the portfolio until it is done)."""
    _visible_importer(organization, importer)
    text = strip_control_characters(text or "").strip()
    if not text:
        raise ServiceError("Write the note.", field="text")
    if len(text) > NOTE_MAX_LENGTH:
        raise ServiceError(f"A note holds at most {NOTE_MAX_LENGTH:,} characters.", field="text")
    note = ImporterNote.objects.create(
        organization=organization, importer=importer, text=text, follow_up_on=follow_up_on,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    audit(action="importer.note_add", user=user, organization=organization, obj=note, importer=importer.name,
          follow_up_on=follow_up_on.isoformat() if follow_up_on else None)
    return note


@transaction.atomic
def importer_note_follow_up_done(*, organization: Organization, note: ImporterNote, user: Any) -> ImporterNote:
    """Mark the note's follow-up done (today, U.S. Eastern): it no longer shows as due on the portfolio."""
    if note.organization_id != organization.pk:
        raise ServiceError("This note is not one of this organisation's notes.")
    if note.follow_up_on is None:
        raise ServiceError("This note has no follow-up date.")
    if note.follow_up_done_on is None:
        note.follow_up_done_on = today_eastern()
        note.save(update_fields=["follow_up_done_on"])
        audit(action="importer.follow_up_done", user=user, organization=organization, obj=note,
              importer=note.importer.name, follow_up_on=note.follow_up_on.isoformat())
    return note


# ----------------------------------------------------------------------------- importer facts
IMPORTER_FACTS = ("cit_plaintiff", "cit_case_note", "paper_check_waiver_granted", "paper_check_waiver_date")


def importer_facts_update(*, importer: Importer, organization: Organization, user: Any, as_of: date | None = None,
                          **facts: Any) -> list[tuple[str, Any, Any]]:
    """Set an importer's CIT plaintiff status (with its case note) and paper-check waiver (with its date),
    each change audited; the importer's entries (shared by every organisation that sees it) are classified again when a fact the
    ruleset reads changed. Returns (fact, old, new) of each change."""
    unknown = set(facts) - set(IMPORTER_FACTS)
    if unknown:
        raise ServiceError(f"Unknown importer fact(s): {', '.join(sorted(unknown))}.")
    if facts.get("paper_check_waiver_granted") and not facts.get("paper_check_waiver_date", importer.paper_check_waiver_date):
        raise ServiceError("Give the date CBP granted the paper-check waiver (31 CFR 208.4).",
                           field="paper_check_waiver_date")
    changes: list[tuple[str, Any, Any]] = []
    with transaction.atomic():
        locked = Importer.objects.select_for_update().get(pk=importer.pk)
        if locked.owner_id not in (None, organization.pk):
            # The importer's own organisation keeps its company facts; a broker may set them only for a
            # client that has not onboarded (no owner yet), as for the corporate status.
            raise ServiceError("Only the importer's own organisation can change its CIT and paper-check facts.")
        for name, value in facts.items():
            if value is None or getattr(locked, name) == value:
                continue
            changes.append((name, getattr(locked, name), value))
            setattr(locked, name, value)
        if not changes:
            return []
        locked.save(update_fields=[c[0] for c in changes])
        for name, old, new in changes:
            audit(action="importer.fact_set", user=user, organization=organization, obj=locked, fact=name,
                  old=old.isoformat() if isinstance(old, date) else old,
                  new=new.isoformat() if isinstance(new, date) else new)
        if any(c[0] in ("cit_plaintiff", "paper_check_waiver_granted") for c in changes):
            # The ruleset reads them: cape classifies the importer's entries again, here, in this transaction.
            importer_facts_changed.send(sender=Importer, importer_ids=[locked.pk], as_of=as_of)
    for name, _old, new in changes:
        setattr(importer, name, new)
    return changes
