"""CBP Form 5106 records: create, edit and CSV import, by a broker for its clients or by an importer
for itself. The account application sends its verification code to the 5106 point-of-contact (POC)
email, so that address is checked hard (present, valid) and warned about (broker or free-mail domain).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from accounts.models import Form5106Record, Importer, ImporterGrant, Membership, Organization
from accounts.onboarding.data import form5106_update_text, free_mail_domains
from accounts.selectors import importers_for
from accounts.services import IMPORTER_BY_APPLICATION, ServiceError, audit, importer_create
from accounts.textcheck import CONTROL_CHARACTERS_MESSAGE, has_control_characters


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in (email or "") else ""


def poc_email_error(email: str) -> str | None:
    """Why the POC email cannot receive a verification code, or None when it can."""
    if not (email or "").strip():
        return "The 5106 record has no point-of-contact (POC) email: CBP's verification code has nowhere to go."
    try:
        validate_email(email.strip())
    except ValidationError:
        return f"{email!r} is not a valid email address."
    return None


def organization_domains(org_ids: Iterable[int], recorded: dict[int, list[str]] | None = None) -> dict[int, set[str]]:
    """Each organisation's email domains: those it recorded itself (Organization.email_domains, read
    here unless given as ``recorded``) and its members' login domains. Free-mail domains are left out:
    they say nothing about who it is. One or two queries whatever the number of organisations."""
    ids = list(org_ids)
    free = free_mail_domains()
    found: dict[int, set[str]] = {i: set() for i in ids}
    if recorded is None:
        recorded = dict(Organization.objects.filter(pk__in=ids).values_list("pk", "email_domains"))
    for org_id in ids:
        found[org_id].update(d for d in (recorded.get(org_id) or []) if d not in free)
    for org_id, user_email in Membership.objects.filter(organization_id__in=ids).values_list("organization_id", "user__email"):
        domain = email_domain(user_email)
        if domain and domain not in free:
            found[org_id].add(domain)
    return found


def managing_broker_domains(importer: Importer | None) -> dict[str, str]:
    """Email domains of every broker with an unrevoked grant on the importer (domain -> broker name)."""
    if importer is None or importer.pk is None:
        return {}
    brokers = list(
        ImporterGrant.objects.filter(
            importer=importer, revoked_at__isnull=True, organization__kind=Organization.Kind.BROKER
        ).values_list("organization_id", "organization__name", "organization__email_domains")
    )
    names = {org_id: name for org_id, name, _ in brokers}
    recorded = {org_id: domains for org_id, _, domains in brokers}
    found: dict[str, str] = {}
    for org_id, domains in sorted(organization_domains(names, recorded).items()):
        for domain in sorted(domains):
            found.setdefault(domain, names[org_id])
    return found


def poc_email_warnings(*, email: str, importer: Importer | None) -> list[str]:
    """Warnings (not errors) about where the verification code would go."""
    domain = email_domain(email)
    if not domain:
        return []
    warnings = []
    brokers = managing_broker_domains(importer)
    if domain in brokers:
        warnings.append(
            f"The POC email {email} is at {brokers[domain]}'s domain ({domain}): the managing broker, not the "
            f"importer, would receive CBP's verification code. {form5106_update_text()}"
        )
    if domain in free_mail_domains():
        warnings.append(
            f"The POC email {email} is at a free-mail provider ({domain}): CBP's verification code would go "
            f"to a personal mailbox. If that is not the company's current contact: {form5106_update_text()}"
        )
    return warnings


def _resolve_importer(*, organization: Organization, ir_number: str, company_name: str, user: Any) -> Importer:
    """The importer the 5106 belongs to, within what the organisation may manage.

    A broker adds a pending client importer (and its grant) when the IR number is new to it. An
    importer organisation may edit the 5106 of its own importers only: it links another importer of record
    by the account application (the code goes to the POC of the 5106 its broker entered), and the refusal
    is the same whether the number is known or not.
    """
    found = importers_for(organization).filter(ir_number=ir_number).first()
    if found is not None:
        return found
    if organization.kind == Organization.Kind.IMPORTER:
        raise ServiceError(IMPORTER_BY_APPLICATION, field="ir_number")
    return importer_create(organization=organization, ir_number=ir_number, name=company_name, user=user)


@transaction.atomic
def form5106_save(
    *,
    organization: Organization,
    user: Any,
    ir_number: str,
    company_name: str,
    poc_email: str,
    address: str = "",
    last_updated: date | None = None,
    poc_email_confirmed: bool = False,
    source: str = "form",
) -> tuple[Form5106Record, bool, list[str]]:
    """Create or update the 5106 record of an importer the organisation manages.

    Returns (record, created, warnings). Raises ServiceError (with its field) for bad input.
    """
    try:
        canonical = canonical_ir_number(ir_number)
    except InvalidIRNumber as exc:
        raise ServiceError(str(exc), field="ir_number") from None
    company_name = (company_name or "").strip()
    if not company_name:
        raise ServiceError("The company name is required, exactly as on the 5106 record.", field="company_name")
    poc_email = (poc_email or "").strip()
    # Both reach email headers (the code's subject and To): refused here for the form, the API and the CSV import.
    for name, value in (("company_name", company_name), ("poc_email", poc_email)):
        if has_control_characters(value):
            raise ServiceError(CONTROL_CHARACTERS_MESSAGE, field=name)
    if error := poc_email_error(poc_email):
        raise ServiceError(error, field="poc_email")
    importer = _resolve_importer(organization=organization, ir_number=canonical, company_name=company_name, user=user)
    record = Form5106Record.objects.select_for_update().filter(importer=importer).first()
    created = record is None
    today = timezone.localdate()
    if record is None:
        record = Form5106Record(importer=importer, created_by=organization)
    before = {} if created else {"company_name": record.company_name, "poc_email": record.poc_email}
    email_changed = not created and record.poc_email.lower() != poc_email.lower()
    record.company_name = company_name
    record.poc_email = poc_email
    record.address = (address or "").strip()
    record.last_updated = last_updated
    if poc_email_confirmed:
        record.poc_email_confirmed_on = today
    elif email_changed:
        # A new address has not been confirmed by anyone yet.
        record.poc_email_confirmed_on = None
    record.updated_by = user if getattr(user, "is_authenticated", False) else None
    record.updated_at = timezone.now()
    record.save()
    if not importer.name:
        importer.name = company_name
        importer.save(update_fields=["name"])
    warnings = poc_email_warnings(email=poc_email, importer=importer)
    audit(
        action="form5106.create" if created else "form5106.update",
        user=user,
        organization=organization,
        obj=record,
        importer_id=importer.pk,
        source=source,
        poc_email_changed=email_changed or None,
        poc_email_confirmed=poc_email_confirmed or None,
        previous_company_name=before.get("company_name") if before.get("company_name") != company_name else None,
        warnings=warnings or None,
    )
    return record, created, warnings


@transaction.atomic
def form5106_confirm_poc_email(*, record: Form5106Record, organization: Organization, user: Any) -> Form5106Record:
    record.poc_email_confirmed_on = timezone.localdate()
    record.updated_at = timezone.now()
    record.save(update_fields=["poc_email_confirmed_on", "updated_at"])
    audit(
        action="form5106.poc_email_confirmed",
        user=user,
        organization=organization,
        obj=record,
        importer_id=record.importer_id,
    )
    return record


# ----------------------------------------------------------------------------- CSV import

# Header spellings (normalised: lower case, letters and digits only) -> field.
HEADERS: dict[str, str] = {
    "irnumber": "ir_number",
    "ir": "ir_number",
    "importernumber": "ir_number",
    "importerrecordnumber": "ir_number",
    "importerrecord": "ir_number",
    "iornumber": "ir_number",
    "companyname": "company_name",
    "name": "company_name",
    "importername": "company_name",
    "pocemail": "poc_email",
    "email": "poc_email",
    "pointofcontactemail": "poc_email",
    "contactemail": "poc_email",
    "address": "address",
    "companyaddress": "address",
    "mailingaddress": "address",
    "datelastupdated": "last_updated",
    "lastupdated": "last_updated",
    "lastupdateddate": "last_updated",
    "updated": "last_updated",
}
REQUIRED = ("ir_number", "company_name", "poc_email")
LABELS = {
    "ir_number": "IR Number",
    "company_name": "Company Name",
    "poc_email": "POC Email",
    "address": "Address",
    "last_updated": "Date Last Updated",
}
MAX_IMPORT_ROWS = 20_000


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def saved(self) -> int:
        return self.created + self.updated


def _norm_header(h: str) -> str:
    return re.sub(r"[^0-9a-z]", "", (h or "").replace("#", "number").lower())


def parse_date(value: str) -> date:
    """MM/DD/YYYY (ACE's form) or ISO YYYY-MM-DD; anything else is refused."""
    value = value.strip()
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date in MM/DD/YYYY form")


def _unwrap(value: str) -> str:
    value = (value or "").strip()
    if value.startswith('="') and value.endswith('"'):
        value = value[2:-1]
    return value.strip()


def form5106_import_csv(*, organization: Organization, user: Any, data: bytes, filename: str) -> ImportResult:
    """Import 5106 records from CSV: every good row is saved, every bad row reported (file, row,
    column, value, why). Each saved row is audited like a form edit; the import is audited once."""
    result = ImportResult()

    def error(row: int, column: str, value: str, reason: str) -> None:
        result.errors.append({"file": filename, "row": row, "column": column, "value": value, "reason": reason})

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        error(1, "", "", "The file is empty: the first row must name the columns " + ", ".join(LABELS.values()) + ".")
        return result
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = HEADERS.get(_norm_header(name))
        if key and key not in columns:
            columns[key] = index
    missing = [LABELS[k] for k in REQUIRED if k not in columns]
    if missing:
        error(
            1,
            ", ".join(missing),
            ", ".join(header),
            "Missing column(s) "
            + ", ".join(missing)
            + ". Expected a header row with "
            + ", ".join(LABELS.values())
            + ".",
        )
        return result
    seen: dict[str, int] = {}
    for row_number, row in enumerate(reader, start=2):
        if row_number - 1 > MAX_IMPORT_ROWS:
            error(row_number, "", "", f"Only the first {MAX_IMPORT_ROWS:,} rows are read; split the file.")
            break
        if not any(cell.strip() for cell in row):
            continue
        values = {k: _unwrap(row[i]) if i < len(row) else "" for k, i in columns.items()}
        try:
            canonical = canonical_ir_number(values["ir_number"])
        except InvalidIRNumber as exc:
            error(row_number, LABELS["ir_number"], values["ir_number"], str(exc))
            continue
        if canonical in seen:
            error(
                row_number,
                LABELS["ir_number"],
                values["ir_number"],
                f"Same importer as row {seen[canonical]}; only the first row is used.",
            )
            continue
        seen[canonical] = row_number
        last_updated = None
        if values.get("last_updated"):
            try:
                last_updated = parse_date(values["last_updated"])
            except ValueError as exc:
                error(row_number, LABELS["last_updated"], values["last_updated"], str(exc))
                continue
        try:
            _record, created, warnings = form5106_save(
                organization=organization,
                user=user,
                ir_number=canonical,
                company_name=values["company_name"],
                poc_email=values["poc_email"],
                address=values.get("address", ""),
                last_updated=last_updated,
                source=f"csv:{filename}",
            )
        except ServiceError as exc:
            column = LABELS.get(exc.field or "", "")
            error(row_number, column, values.get(exc.field or "", ""), exc.message)
            continue
        if created:
            result.created += 1
        else:
            result.updated += 1
        for warning in warnings:
            result.warnings.append(
                {
                    "file": filename,
                    "row": row_number,
                    "column": LABELS["poc_email"],
                    "value": values["poc_email"],
                    "reason": warning,
                }
            )
    audit(
        action="form5106.import",
        user=user,
        organization=organization,
        filename=filename,
        created=result.created,
        updated=result.updated,
        rejected=len(result.errors),
        warnings=len(result.warnings),
    )
    return result
