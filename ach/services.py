"""Writes for ACH refund readiness. Every state change is audited; the account number never is.

We record what ACE shows; nothing here submits anything to CBP.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from accounts.models import Importer, Organization, ReadinessState
from accounts.readiness import readiness_state_update
from accounts.selectors import importers_for, organizations_seeing
from accounts.services import ServiceError, audit
from ach import crypto
from ach.aba import InvalidRoutingNumber, parse_routing_number
from ach.models import AchEnrollment, AchRejection, NotifyParty
from ach.reports import Rev613Error, parse_rev613
from ach.selectors import ach_overview
from ach.signals import reclassification_requested
from refundready.spreadsheet import neutralise

logger = logging.getLogger(__name__)

MAX_ACCOUNT_DIGITS = 17  # ACE accepts U.S. account numbers up to 17 digits (domain README §3).
MIN_ACCOUNT_DIGITS = 4
# Evidence that the account is active in ACE: a screenshot or a PDF print of the ACE page.
EVIDENCE_TYPES = {b"%PDF-": ("application/pdf", "pdf"), b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg")}


def _org(importer: Importer, organization: Organization | None) -> Organization | None:
    return organization or importer.owner


def _reclassify_on_commit(importer_ids: Iterable[int]) -> None:
    """Reclassify every entry of these importers: a queued run, shown as "reclassifying…" at once on the pages
    of every organisation that sees one of them and run once committed (cape.classify.reclassify_later, asked for
    through the ach.signals.reclassification_requested hook).

    The `no_ach_refund` reason (shared/domain/rules.md, "Extra reasons") depends on the importer's refund
    route (its ACH enrollment and 4811 notify party), so any change to either must reach the stored
    classifications. If the broker cannot be reached the change is logged, and the worker's recovery and
    the nightly run catch up (cape.classify.due_entry_ids looks for route changes)."""
    ids = sorted(set(importer_ids))
    if not ids:
        return
    org = organizations_seeing(ids).order_by("pk").first()
    if org is not None:
        reclassification_requested.send(sender=AchEnrollment, organization=org, importer_ids=ids)


def _enrollment(importer: Importer, *, lock: bool = True) -> AchEnrollment:
    qs = AchEnrollment.objects.select_for_update() if lock else AchEnrollment.objects
    enrollment = qs.filter(importer=importer).first()
    if enrollment is None:
        try:
            with transaction.atomic():
                enrollment = AchEnrollment.objects.create(importer=importer)
        except IntegrityError:
            enrollment = qs.get(importer=importer)
    return enrollment


@sensitive_variables("account_number", "digits")
def clean_account_number(account_number: str) -> str:
    """Digits only, 4 to 17 of them. Error messages never repeat the value."""
    digits = (account_number or "").strip().replace(" ", "").replace("-", "")
    if digits.startswith('="') and digits.endswith('"'):
        digits = digits[2:-1]
    if not digits:
        raise ServiceError("Enter the bank account number.", field="account_number")
    if not digits.isascii() or not digits.isdigit():
        raise ServiceError("A bank account number has digits only (no letters or symbols).", field="account_number")
    if len(digits) > MAX_ACCOUNT_DIGITS:
        raise ServiceError(f"A U.S. bank account number has at most {MAX_ACCOUNT_DIGITS} digits; this has {len(digits)}.", field="account_number")
    if len(digits) < MIN_ACCOUNT_DIGITS:
        raise ServiceError(f"A bank account number has at least {MIN_ACCOUNT_DIGITS} digits.", field="account_number")
    return digits


@sensitive_variables("account_number", "digits")
def enrollment_details_save(
    *,
    importer: Importer,
    bank_name: str,
    routing_number: str,
    account_number: str,
    account_type: str,
    account_holder: str,
    organization: Organization | None = None,
    user: Any = None,
) -> AchEnrollment:
    """Record the bank details the importer has (or will put) in ACE's ACH Refund Authorization tab.

    The account number is stored only as ciphertext plus its last four digits. Changing the details
    of an enrollment that was entered or active means ACE must be updated too: the status goes back
    to "not started" until the new details are recorded as entered.
    """
    # Not @transaction.atomic: its wrapper frame would hold the account number in an error report.
    with transaction.atomic():
        try:
            routing = parse_routing_number(routing_number)
        except InvalidRoutingNumber as exc:
            raise ServiceError(str(exc), field="routing_number") from None
        digits = clean_account_number(account_number)
        if account_type not in AchEnrollment.AccountType.values:
            raise ServiceError("Choose checking or savings.", field="account_type")
        if not (bank_name or "").strip():
            raise ServiceError("Enter the bank's name.", field="bank_name")
        if not (account_holder or "").strip():
            raise ServiceError("Enter the account holder (the importer of record's name).", field="account_holder")

        enrollment = _enrollment(importer)
        changed_account = True
        if enrollment.account_number_encrypted:
            try:
                changed_account = crypto.decrypt(enrollment.account_number_encrypted) != digits
            except crypto.DecryptionFailed:
                changed_account = True
        changed = changed_account or routing != enrollment.routing_number or account_type != enrollment.account_type
        enrollment.bank_name = bank_name.strip()
        enrollment.routing_number = routing
        enrollment.account_number_encrypted = crypto.encrypt(digits)
        enrollment.account_last4 = digits[-4:]
        enrollment.account_type = account_type
        enrollment.account_holder = account_holder.strip()
        reset = changed and enrollment.status in (AchEnrollment.Status.ENTERED, AchEnrollment.Status.ACTIVE)
        if reset:
            enrollment.status = AchEnrollment.Status.NOT_STARTED
            enrollment.entered_on = None
            enrollment.entered_by = ""
            enrollment.confirmed_on = None
        enrollment.updated_at = timezone.now()
        enrollment.save()
        audit(
            action="ach.details_save",
            user=user,
            organization=_org(importer, organization),
            obj=enrollment,
            importer=importer.pk,
            bank_name=enrollment.bank_name,
            routing_number=routing,
            account_last4=enrollment.account_last4,
            account_type=account_type,
            status_reset=reset or None,
        )
        logger.info("ACH refund bank details recorded for importer %s (account %s)", importer.pk, enrollment.account_masked)
        _reclassify_on_commit([importer.pk])
        return enrollment


@transaction.atomic
def enrollment_mark_entered(
    *, importer: Importer, entered_on: date, entered_by: str, organization: Organization | None = None, user: Any = None
) -> AchEnrollment:
    """The TAO entered the details in ACE (date, by whom). Open rejections count as re-enrolled."""
    enrollment = _enrollment(importer)
    if not enrollment.has_bank_details:
        raise ServiceError("Record the bank details first (what was entered in ACE).", field="entered_on")
    if entered_on > timezone.localdate():
        raise ServiceError("The date entered in ACE cannot be in the future.", field="entered_on")
    if not (entered_by or "").strip():
        raise ServiceError("Say who entered it in ACE (the Trade Account Owner or an authorised user).", field="entered_by")
    previous = enrollment.status
    enrollment.status = AchEnrollment.Status.ENTERED
    enrollment.entered_on = entered_on
    enrollment.entered_by = entered_by.strip()
    enrollment.confirmed_on = None
    enrollment.updated_at = timezone.now()
    enrollment.save()
    reopened = AchRejection.objects.filter(importer=importer, resolved_on__isnull=True, re_enrolled_on__isnull=True).update(
        re_enrolled_on=entered_on
    )
    audit(action="ach.entered", user=user, organization=_org(importer, organization), obj=enrollment,
          importer=importer.pk, entered_on=entered_on.isoformat(), entered_by=enrollment.entered_by,
          previous_status=previous, rejections_re_enrolled=reopened or None)
    _reclassify_on_commit([importer.pk])
    return enrollment


def _check_evidence(upload: Any) -> tuple[str, str]:
    limit = int(getattr(settings, "ACH_EVIDENCE_MAX_SIZE", 5 * 1024 * 1024))
    size = getattr(upload, "size", 0) or 0
    if size > limit:
        raise ServiceError(f"The evidence file is {size:,} bytes; the limit is {limit:,} bytes.", field="evidence")
    if size == 0:
        raise ServiceError("The evidence file is empty.", field="evidence")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for magic, (content_type, ext) in EVIDENCE_TYPES.items():
        if head.startswith(magic):
            return content_type, ext
    raise ServiceError("Evidence must be a PDF, PNG or JPEG file (a screenshot or print of the ACE page).", field="evidence")


@transaction.atomic
def enrollment_confirm_active(
    *, importer: Importer, seen_on: date, evidence: Any = None, organization: Organization | None = None, user: Any = None
) -> AchEnrollment:
    """Record that ACE shows the ACH refund account as active, on the date it was seen there."""
    enrollment = _enrollment(importer)
    if not enrollment.has_bank_details:
        raise ServiceError("Record the bank details first, so that the account shown in ACE can be compared.", field="seen_on")
    if seen_on > timezone.localdate():
        raise ServiceError("The date seen in ACE cannot be in the future.", field="seen_on")
    if enrollment.entered_on and seen_on < enrollment.entered_on:
        raise ServiceError("The date seen active is before the date it was entered in ACE.", field="seen_on")
    evidence_kind = None
    if evidence:
        content_type, ext = _check_evidence(evidence)
        evidence_kind = content_type
        name = (getattr(evidence, "name", "") or f"evidence.{ext}")[-200:]
        replaced = enrollment.evidence.name if enrollment.evidence else ""
        enrollment.evidence.save(f"ach-{importer.pk}-{secrets.token_hex(8)}.{ext}", ContentFile(evidence.read()), save=False)
        enrollment.evidence_name = name
        if replaced:  # a screenshot of a bank page is not kept once it has been superseded
            storage = enrollment.evidence.storage
            transaction.on_commit(lambda: storage.delete(replaced))
    previous = enrollment.status
    enrollment.status = AchEnrollment.Status.ACTIVE
    enrollment.confirmed_on = seen_on
    if not enrollment.entered_on:
        enrollment.entered_on = seen_on
    enrollment.updated_at = timezone.now()
    enrollment.save()
    AchRejection.objects.filter(importer=importer, resolved_on__isnull=True, re_enrolled_on__isnull=True).update(re_enrolled_on=seen_on)
    audit(action="ach.confirmed_active", user=user, organization=_org(importer, organization), obj=enrollment,
          importer=importer.pk, seen_on=seen_on.isoformat(), evidence=evidence_kind, previous_status=previous)
    _reclassify_on_commit([importer.pk])
    return enrollment


@transaction.atomic
def special_cases_save(
    *,
    importer: Importer,
    foreign_no_us_bank: bool,
    ace_account: str,
    paper_check_waiver: str,
    organization: Organization | None = None,
    user: Any = None,
) -> AchEnrollment:
    """The special cases a person records on the ACH page. The ACE account state is written to the
    readiness checklist (accounts.ReadinessState), its one source of truth, so both pages agree."""
    if paper_check_waiver not in AchEnrollment.Waiver.values:
        raise ServiceError("Choose the paper-check waiver status from the list.", field="paper_check_waiver")
    if ace_account not in ReadinessState.AceAccount.values:
        raise ServiceError("Choose the ACE Portal account state from the list.", field="ace_account")
    org = _org(importer, organization)
    enrollment = _enrollment(importer)
    enrollment.foreign_no_us_bank = foreign_no_us_bank
    enrollment.paper_check_waiver = paper_check_waiver
    enrollment.updated_at = timezone.now()
    enrollment.save()
    readiness_state_update(importer=importer, organization=org, user=user, ace_account=ace_account)  # audited there
    audit(action="ach.special_cases", user=user, organization=org, obj=enrollment,
          importer=importer.pk, foreign_no_us_bank=foreign_no_us_bank, ace_account=ace_account,
          paper_check_waiver=paper_check_waiver or "none")
    _reclassify_on_commit([importer.pk])
    return enrollment


@transaction.atomic
def notify_party_save(
    *,
    importer: Importer,
    name: str,
    ir_number: str,
    on_ace_profile: bool,
    in_box_28: bool,
    ach_enrolled: bool,
    organization: Organization | None = None,
    user: Any = None,
) -> NotifyParty:
    """CBP Form 4811 notify party (seed 004; domain README §4)."""
    if not (name or "").strip():
        raise ServiceError("Enter the notify party's name.", field="name")
    try:
        canonical = canonical_ir_number(ir_number)
    except InvalidIRNumber as exc:
        raise ServiceError(str(exc), field="ir_number") from None
    if canonical == importer.ir_number:
        raise ServiceError("The notify party is a different party from the importer of record: enter its own IR number.", field="ir_number")
    party, created = NotifyParty.objects.update_or_create(
        importer=importer,
        defaults={"name": name.strip(), "ir_number": canonical, "on_ace_profile": on_ace_profile, "in_box_28": in_box_28,
                  "ach_enrolled": ach_enrolled, "updated_at": timezone.now()},
    )
    audit(action="ach.notify_party_save", user=user, organization=_org(importer, organization), obj=party,
          importer=importer.pk, name=party.name, ir_number=party.ir_display, on_ace_profile=on_ace_profile,
          in_box_28=in_box_28, ach_enrolled=ach_enrolled, created=created)
    _reclassify_on_commit([importer.pk])
    return party


@transaction.atomic
def notify_party_remove(*, importer: Importer, organization: Organization | None = None, user: Any = None) -> None:
    party = NotifyParty.objects.filter(importer=importer).first()
    if party is None:
        return
    audit(action="ach.notify_party_remove", user=user, organization=_org(importer, organization), obj=party,
          importer=importer.pk, name=party.name)
    party.delete()
    _reclassify_on_commit([importer.pk])


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    try:
        return Decimal(str(value).replace("$", "").replace(",", "").strip()).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ServiceError(f"{value!r} is not an amount of money.", field="amount") from None


def rejection_record(
    *,
    importer: Importer,
    amount: Any,
    reason: str,
    source: str,
    reference: str,
    user: Any = None,
    organization: Organization | None = None,
    rejected_on: date | None = None,
    entry_number: str = "",
    reclassify: bool = True,
) -> AchRejection:
    """Record a refund CBP could not pay by ACH (manual, REV-613 import, or REV-603 "Check/ACH Returned").

    The importer's ACH becomes rejected (unless it was re-entered in ACE after this rejection), the
    refund is listed, and its replacement procedure starts: enroll, email CBP ACH refund support,
    allow 4–6 weeks (seed 004 §2). The same non-blank reference for the same importer is one
    rejection: recording it again returns the existing row (``.created`` is False) and changes nothing.
    With ``reclassify=False`` the caller reclassifies the importer's entries itself (a batch import).
    """
    if source not in AchRejection.Source.values:
        raise ServiceError(f"Unknown rejection source {source!r}.", field="source")
    value = _money(amount)
    if value is not None and value < 0:
        value = -value  # reports show returned money as negative; the rejection is of that amount
    reference = (reference or "").strip()[:80]
    rejected_on = rejected_on or timezone.localdate()
    with transaction.atomic():
        if reference:
            existing = AchRejection.objects.filter(importer=importer, reference=reference).first()
            if existing is not None:
                existing.created = False  # type: ignore[attr-defined]  # a flag for the caller, not a field
                return existing
        enrollment = _enrollment(importer)
        # A rejection older than a later ACE re-entry concerns the old bank details: already re-enrolled.
        re_enrolled = enrollment.entered_on if (
            enrollment.status in (AchEnrollment.Status.ENTERED, AchEnrollment.Status.ACTIVE)
            and enrollment.entered_on and enrollment.entered_on > rejected_on
        ) else None
        try:
            with transaction.atomic():
                rejection = AchRejection.objects.create(
                    importer=importer, organization=organization or importer.owner, amount=value, reason=(reason or "").strip()[:300],
                    source=source, reference=reference, entry_number=(entry_number or "")[:11], rejected_on=rejected_on,
                    re_enrolled_on=re_enrolled, recorded_by=user if getattr(user, "is_authenticated", False) else None,
                )
        except IntegrityError:  # recorded concurrently by another import
            existing = AchRejection.objects.get(importer=importer, reference=reference)
            existing.created = False  # type: ignore[attr-defined]  # as above
            return existing
        status_changed = False
        if re_enrolled is None and enrollment.status != AchEnrollment.Status.REJECTED:
            previous = enrollment.status
            enrollment.status = AchEnrollment.Status.REJECTED
            enrollment.confirmed_on = None
            status_changed = True
        if re_enrolled is None:
            enrollment.rejected_on = max(filter(None, [enrollment.rejected_on, rejected_on]))
            enrollment.updated_at = timezone.now()
            enrollment.save()
        audit(action="ach.rejection_record", user=user, organization=_org(importer, organization), obj=rejection,
              importer=importer.pk, source=source, reference=reference or None, amount=str(value) if value is not None else None,
              reason=rejection.reason or None, rejected_on=rejected_on.isoformat(),
              status_from=previous if status_changed else None)
        if status_changed and reclassify:
            _reclassify_on_commit([importer.pk])
    rejection.created = True  # type: ignore[attr-defined]  # as above
    logger.info("ACH refund rejection recorded for importer %s (%s %s)", importer.pk, source, reference or "-")
    return rejection


@transaction.atomic
def rejection_support_emailed(
    *, importer: Importer, emailed_on: date, organization: Organization | None = None, user: Any = None
) -> int:
    """Step 2 of the replacement procedure, for every open rejection of the importer."""
    open_ = AchRejection.objects.select_for_update().filter(importer=importer, resolved_on__isnull=True)
    if not open_.exists():
        raise ServiceError("This importer has no open rejected refunds.", field="emailed_on")
    if open_.filter(re_enrolled_on__isnull=True).exists():
        raise ServiceError("Enroll valid bank details in ACE and record them as entered first: CBP asks for the email once enrolled.",
                           field="emailed_on")
    if emailed_on > timezone.localdate():
        raise ServiceError("The email date cannot be in the future.", field="emailed_on")
    count = open_.filter(support_emailed_on__isnull=True).update(support_emailed_on=emailed_on)
    audit(action="ach.rejection_support_emailed", user=user, organization=_org(importer, organization), obj=importer,
          emailed_on=emailed_on.isoformat(), rejections=count)
    return count


@transaction.atomic
def rejection_resolve(
    *, rejection: AchRejection, resolved_on: date, organization: Organization | None = None, user: Any = None
) -> AchRejection:
    """The replacement refund arrived."""
    if rejection.resolved_on:
        raise ServiceError("This rejected refund is already resolved.", field="resolved_on")
    if resolved_on > timezone.localdate():
        raise ServiceError("The date cannot be in the future.", field="resolved_on")
    rejection.resolved_on = resolved_on
    if not rejection.re_enrolled_on:
        rejection.re_enrolled_on = resolved_on
    rejection.save(update_fields=["resolved_on", "re_enrolled_on"])
    audit(action="ach.rejection_resolve", user=user, organization=_org(rejection.importer, organization), obj=rejection,
          importer=rejection.importer_id, resolved_on=resolved_on.isoformat(), reference=rejection.reference or None)
    return rejection


# ---------------------------------------------------------------- reads that are audited
def evidence_open(*, importer: Importer, organization: Organization | None, user: Any = None) -> tuple[Any, str]:
    """Open the stored ACH evidence (a screenshot or PDF of a bank page) for download; every download
    is audited. Raises AchEnrollment.DoesNotExist when there is none."""
    enrollment = AchEnrollment.objects.filter(importer=importer).first()
    if enrollment is None or not enrollment.evidence:
        raise AchEnrollment.DoesNotExist("No evidence recorded")
    handle = enrollment.evidence.open("rb")
    audit(action="ach.evidence_download", user=user, organization=_org(importer, organization), obj=enrollment,
          importer=importer.pk, file=enrollment.evidence_name or None)
    return handle, str(enrollment.evidence.name).rsplit("/", 1)[-1]


def ach_csv_export(*, organization: Organization, user: Any = None) -> str:
    """The broker view as CSV text (account numbers masked, formulas neutralised); audited."""
    rows = ach_overview(organization)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Importer", "Importer number", "ACH status", "Bank", "Routing number", "Account (masked)", "Account type",
                     "Refund recipient", "Recipient name", "Can be paid", "IEEPA duty on CAPE paths", "At risk",
                     "Open rejected refunds", "Special cases"])
    for r in rows:
        e = r.enrollment
        writer.writerow([neutralise(v) for v in [
            r.importer.name, r.importer.ir_display, r.status_label, e.bank_name if e else "", e.routing_number if e else "",
            e.account_masked if e else "", e.get_account_type_display() if e and e.account_type else "",
            r.recipient.receiver_label, r.recipient.name, "yes" if r.has_route else "no", f"{r.cape_duty:.2f}", f"{r.at_risk:.2f}",
            r.open_rejections, "; ".join(c["title"] for c in r.recipient.special_cases),
        ]])
    audit(action="ach.export", user=user, organization=organization, rows=len(rows))
    return out.getvalue()


# ---------------------------------------------------------------- REV-613 import
@dataclass
class Rev613ImportResult:
    rows_read: int = 0
    created: list[AchRejection] = field(default_factory=list)
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def importer_ids(self) -> set[int]:
        return {r.importer_id for r in self.created}


def _rev613_facts(row: Any) -> str:
    """What identifies a REV-613 row that has no refund reference: every field of it that describes
    the refund. Two rows with equal facts in one file are told apart by their order (the n-th such row
    is always the n-th), so distinct rejections stay distinct and a re-import (or the same rejection
    on an overlapping report) adds nothing twice."""
    return "\x1f".join([
        row.importer_number, row.entry_number or "", str(row.amount), row.rejected_on.isoformat() if row.rejected_on else "",
        " ".join((row.reason or "").split()).upper(),
    ])


def rev613_import(*, organization: Organization, content: bytes | str, filename: str = "REV-613.csv", user: Any = None) -> Rev613ImportResult:
    """Import an ACE REV-613 ACH Rejected Refunds CSV: every good row becomes a rejection on one of the
    organisation's importers; every bad row is reported (row, column, value, reason) and nothing good is lost."""
    parsed = parse_rev613(content, filename=filename)
    result = Rev613ImportResult(rows_read=parsed.rows_read, errors=[e.as_dict() for e in parsed.errors],
                                warnings=[w.as_dict() for w in parsed.warnings])
    if parsed.fatal:
        result.errors = [e.as_dict() for e in parsed.errors]
        return result
    wanted = {row.importer_number for row in parsed.rows}
    importers = {i.ir_number: i for i in importers_for(organization).filter(ir_number__in=wanted)}
    seen: Counter[str] = Counter()
    for row in parsed.rows:
        importer = importers.get(row.importer_number)
        if importer is None:
            result.errors.append(Rev613Error(filename, row.row, row.importer_column, row.importer_number,
                                             "this importer is not one of your organisation's importers (add it first)").as_dict())
            continue
        reference = row.reference
        if not reference:
            facts = _rev613_facts(row)
            seen[facts] += 1
            reference = f"REV613/{hashlib.sha256(facts.encode()).hexdigest()[:24]}/{seen[facts]}"
            # Imported before references were made this way: the first such row is the same rejection.
            legacy = f"REV613/{row.entry_number or '-'}/{row.amount}/{row.rejected_on or '-'}"
            if seen[facts] == 1 and AchRejection.objects.filter(importer=importer, reference=legacy).exists():
                result.duplicates += 1
                continue
        rejection = rejection_record(importer=importer, amount=row.amount, reason=row.reason, source=AchRejection.Source.REV613,
                                     reference=reference, user=user, organization=organization, rejected_on=row.rejected_on,
                                     entry_number=row.entry_number, reclassify=False)
        if getattr(rejection, "created", True):
            result.created.append(rejection)
        else:
            result.duplicates += 1
    _reclassify_on_commit(result.importer_ids)
    result.errors.sort(key=lambda e: (e["row"] or 0, e["column"]))
    audit(action="ach.rev613_import", user=user, organization=organization, file=filename[:120], rows_read=result.rows_read,
          created=len(result.created), duplicates=result.duplicates, rows_rejected=len({e["row"] for e in result.errors}))
    return result


# ---------------------------------------------------------------- key rotation
@dataclass
class RotationResult:
    checked: int = 0
    rotated: int = 0
    failed: list[int] = field(default_factory=list)


def encryption_keys_rotate(*, batch_size: int = 500) -> RotationResult:
    """Re-encrypt every stored account number with the first FIELD_ENCRYPTION_KEYS key.

    Values no configured key opens are listed, never dropped. Each row is updated only if its
    ciphertext is unchanged since it was read (a concurrent edit wins)."""
    result = RotationResult()
    last_pk = 0
    while True:
        batch = list(
            AchEnrollment.objects.filter(pk__gt=last_pk).exclude(account_number_encrypted="")
            .order_by("pk").values_list("pk", "account_number_encrypted")[:batch_size]
        )
        if not batch:
            break
        for pk, token in batch:
            last_pk = pk
            result.checked += 1
            if crypto.encrypted_with_primary(token):
                continue
            try:
                new_token = crypto.rotate(token)
            except crypto.DecryptionFailed:
                result.failed.append(pk)
                continue
            result.rotated += AchEnrollment.objects.filter(pk=pk, account_number_encrypted=token).update(account_number_encrypted=new_token)
    audit(action="ach.keys_rotate", checked=result.checked, rotated=result.rotated, failed=len(result.failed) or None)
    return result
