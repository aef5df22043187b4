"""Readiness per importer: the checklist that stands between an importer and its IEEPA refund.

Steps (issue 6; domain README §1–§4): 5106 POC email confirmed current; ACE Portal account; importer
sub-account view; Trade Account Owner (TAO) named; ACH refund enrollment; 4811 notify party where
used; ES-003 with liquidation columns loaded within the last 7 days; CAPE files built for every
CAPE-path entry. Each step has a state, the date it last changed, what to do next in plain words and
the CBP contact where one applies (accounts/data/cbp_contacts.json, seed 004).

``importer_readiness(importer)`` and ``readiness_for_organization(organization)`` are the public
reads; the second costs a fixed number of queries whatever the number of importers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.countries import country_name, is_foreign
from accounts.models import Form5106Record, Importer, Organization, ReadinessState
from accounts.onboarding.data import contact, form5106_update_text, free_mail_domains, limit, sub_account_letter_rules
from accounts.onboarding.form5106 import email_domain, poc_email_error

# The write side (what a person records) lives in accounts; re-exported with the checklist.
from accounts.readiness import TRACKED, broker_domains_for, readiness_state_update  # noqa: F401
from accounts.selectors import importer_countries, importers_for
from ach.guidance import special_case
from ach.models import AchEnrollment, NotifyParty
from cape.models import CAPE_PATHS, Classification, Declaration, DeclarationEntry
from entries.models import Entry, Upload
from refundready.dates import today_eastern

DONE, TODO, WAITING, WARNING, BLOCKED, NOT_NEEDED = "done", "todo", "waiting", "warning", "blocked", "not_needed"
STATE_LABELS = {
    DONE: "Done",
    TODO: "To do",
    WAITING: "Waiting",
    WARNING: "Check",
    BLOCKED: "Blocked",
    NOT_NEEDED: "Not needed",
}

STEPS: list[tuple[str, str]] = [
    ("poc_email", "5106 point-of-contact email confirmed current"),
    ("ace_account", "ACE Portal account"),
    ("sub_account", "Importer sub-account view"),
    ("tao", "Trade Account Owner (TAO) named"),
    ("ach", "ACH refund enrollment"),
    ("notify_party", "4811 notify party"),
    ("es003", "ES-003 report with liquidation columns, last 7 days"),
    ("cape_files", "CAPE files for every CAPE-path entry"),
    ("importer_record", "Importer number active, 5106 address acceptable"),
]
STEP_LABELS = dict(STEPS)


@dataclass(frozen=True)
class ReadinessStep:
    key: str
    label: str
    state: str
    status: str
    changed_on: date | None = None
    next_step: str = ""
    contact: dict[str, str] | None = None
    # A warning that does not hold the importer back (counts as ready): it tells of a CBP risk to check.
    advisory: bool = False

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_ready(self) -> bool:
        return self.state in (DONE, NOT_NEEDED) or self.advisory


@dataclass
class ImporterReadiness:
    importer: Importer
    steps: list[ReadinessStep] = field(default_factory=list)

    @property
    def ready_count(self) -> int:
        return sum(1 for s in self.steps if s.is_ready)

    @property
    def is_ready(self) -> bool:
        return all(s.is_ready for s in self.steps)

    def step(self, key: str) -> ReadinessStep:
        return next(s for s in self.steps if s.key == key)


def _day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _step(
    key: str, state: str, status: str, changed_on: Any = None, next_step: str = "", contact_key: str | None = None
) -> ReadinessStep:
    return ReadinessStep(key, STEP_LABELS[key], state, status, _day(changed_on), next_step, contact(contact_key))


# ----------------------------------------------------------------------------- the steps


def _poc_email_step(record: Form5106Record | None, broker_domains: dict[str, str]) -> ReadinessStep:
    if record is None:
        return _step(
            "poc_email",
            TODO,
            "No 5106 record entered",
            next_step="Enter the importer's CBP Form 5106 record (company name, IR number, point-of-contact "
            "email): your customs broker has it. The ACE verification code goes to that email.",
        )
    if error := poc_email_error(record.poc_email):
        return _step(
            "poc_email", BLOCKED, "No valid POC email", record.updated_at, next_step=f"{error} {form5106_update_text()}"
        )
    domain = email_domain(record.poc_email)
    if domain in broker_domains:
        return _step(
            "poc_email",
            WARNING,
            f"POC email at the broker ({broker_domains[domain]})",
            record.updated_at,
            next_step=f"The POC email {record.poc_email} is the broker's, so the verification code would go to "
            f"the broker. {form5106_update_text()}",
        )
    if domain in free_mail_domains():
        return _step(
            "poc_email",
            WARNING,
            "POC email at a free-mail provider",
            record.updated_at,
            next_step=f"The POC email {record.poc_email} is a personal mailbox ({domain}). If it is not the "
            f"company's current contact: {form5106_update_text()}",
        )
    if record.poc_email_confirmed_on is None:
        return _step(
            "poc_email",
            TODO,
            "Not confirmed",
            record.updated_at,
            next_step=f"Ask your broker to confirm that {record.poc_email} is the current POC email on the 5106 "
            "(box 2E), then mark it confirmed here.",
        )
    return _step("poc_email", DONE, f"Confirmed ({record.poc_email})", record.poc_email_confirmed_on)


def _ace_step(state: ReadinessState | None) -> ReadinessStep:
    value = state.ace_account if state else ReadinessState.AceAccount.NONE
    changed = state.ace_account_changed_on if state else None
    label = ReadinessState.AceAccount(value).label
    if value == ReadinessState.AceAccount.ACTIVE:
        return _step("ace_account", DONE, label, changed)
    if value == ReadinessState.AceAccount.APPLIED:
        return _step(
            "ace_account",
            WAITING,
            label,
            changed,
            next_step="Wait for CBP's two emails (importer view confirmation and login instructions), log in "
            "once, then mark the account active here.",
            contact_key="ace_account_services",
        )
    if value == ReadinessState.AceAccount.INACTIVE:
        return _step(
            "ace_account",
            BLOCKED,
            label,
            changed,
            next_step="Call CBP and ask them to reactivate the account, then reset the TAO's password at "
            "ace.cbp.dhs.gov. ACH enrollment needs an active account.",
            contact_key="technology_service_desk",
        )
    if value == ReadinessState.AceAccount.VOIDED:
        return _step(
            "ace_account",
            BLOCKED,
            label,
            changed,
            next_step="A voided account can only be restored by the CBP Bonds team: call or email them.",
            contact_key="bonds_team",
        )
    return _step(
        "ace_account",
        TODO,
        label,
        changed,
        next_step="Apply with CBP's automated importer application (ace-accounts.cbp.gov/s/importer-form): "
        "company name, IR number, business email. The 5106 point of contact must be ready to pass "
        "on the verification code within 10 minutes. If CBP says the IR number is already linked, "
        "do not create a new account: find the existing TAO.",
        contact_key="ace_account_services",
    )


def _sub_account_step(state: ReadinessState | None) -> ReadinessStep:
    value = state.sub_account if state else ReadinessState.SubAccount.NONE
    changed = state.sub_account_changed_on if state else None
    label = ReadinessState.SubAccount(value).label
    if value == ReadinessState.SubAccount.ACTIVE:
        return _step("sub_account", DONE, label, changed)
    rules = sub_account_letter_rules()
    if value == ReadinessState.SubAccount.REQUESTED:
        return _step(
            "sub_account",
            WAITING,
            label,
            changed,
            next_step=f"CBP takes {rules['processing_time']} to add a sub-account. Mark it active once the "
            "importer view shows in the ACE Portal.",
            contact_key="ace_applications",
        )
    ace = state.ace_account if state else ReadinessState.AceAccount.NONE
    # Seed 004: a dormant account is reactivated by CBP first; a voided one only by the CBP Bonds team.
    # A letter to add sub-accounts to an account that cannot be used would wait for nothing.
    if ace == ReadinessState.AceAccount.INACTIVE:
        return _step(
            "sub_account",
            BLOCKED,
            label,
            changed,
            next_step="The ACE Portal account is inactive: first call CBP to reactivate it and reset the TAO's "
            "password. Only then send the sub-account request letter.",
            contact_key="technology_service_desk",
        )
    if ace == ReadinessState.AceAccount.VOIDED:
        return _step(
            "sub_account",
            BLOCKED,
            label,
            changed,
            next_step="The ACE Portal account is voided: contact the CBP Bonds team to restore it first. Only then "
            "send the sub-account request letter.",
            contact_key="bonds_team",
        )
    if ace in (ReadinessState.AceAccount.NONE, ReadinessState.AceAccount.APPLIED):
        return _step(
            "sub_account",
            TODO,
            label,
            changed,
            next_step="CBP's automated application creates the importer view with the account. If the top "
            "account already exists without it, the TAO asks CBP by signed letter (prepared here).",
        )
    return _step(
        "sub_account",
        TODO,
        label,
        changed,
        next_step=f"Download the sub-account request letter, have the TAO sign it on company letterhead and "
        f"email it to {rules['send_to']} ({rules['processing_time']}). Company details must match the "
        "original ACE application exactly.",
        contact_key="ace_applications",
    )


def _tao_step(state: ReadinessState | None) -> ReadinessStep:
    if state and state.tao_name:
        return _step("tao", DONE, state.tao_name, state.tao_changed_on)
    return _step(
        "tao",
        TODO,
        "Not named",
        state.tao_changed_on if state else None,
        next_step="Name the Trade Account Owner: the person whose email was used for the company's ACE "
        "registration. Only the TAO (or a user given full access) can enroll for ACH refunds.",
    )


def _ach_step(enrollment: Any, notify: Any, ace: str = "", country: str = "") -> ReadinessStep:
    status = enrollment.status if enrollment else AchEnrollment.Status.NOT_STARTED
    label = AchEnrollment.Status(status).label
    if status == AchEnrollment.Status.ACTIVE:
        return _step("ach", DONE, label, enrollment.confirmed_on or enrollment.updated_at)
    if notify is not None and notify.receives_refund:
        return _step(
            "ach",
            NOT_NEEDED,
            "Refunds go to the 4811 notify party",
            notify.updated_at,
            next_step="The 4811 notify party receives the refunds; enrolling the importer too is a safe fallback.",
        )
    if enrollment is not None and enrollment.paper_check_waiver == AchEnrollment.Waiver.GRANTED:
        return _step(
            "ach",
            NOT_NEEDED,
            "Paper-check waiver granted (31 CFR 208.4)",
            enrollment.updated_at,
            next_step=special_case("paper_check_waiver")["granted_guidance"],
            contact_key="revenue_refunds",
        )
    # Seed 004, Special Cases: an inactive account must be reactivated before enrolling in ACH; a voided
    # one goes to the CBP Bonds team. The ACE account state is the readiness checklist's own.
    if ace in (ReadinessState.AceAccount.INACTIVE, ReadinessState.AceAccount.VOIDED):
        code = "ace_account_inactive" if ace == ReadinessState.AceAccount.INACTIVE else "ace_account_voided"
        return _step(
            "ach",
            BLOCKED,
            f"{label}: {special_case(code)['title']}",
            enrollment.updated_at if enrollment else None,
            next_step=special_case(code)["guidance"],
            contact_key="technology_service_desk" if ace == ReadinessState.AceAccount.INACTIVE else "bonds_team",
        )
    foreign = is_foreign(country) or (enrollment is not None and enrollment.foreign_no_us_bank)
    if foreign and status == AchEnrollment.Status.NOT_STARTED:
        where = f" ({country_name(country)})" if is_foreign(country) else ""
        return _step(
            "ach",
            TODO,
            f"{label}: foreign importer{where}",
            enrollment.updated_at if enrollment else None,
            next_step=special_case("foreign_no_us_bank")["guidance"],
            contact_key="ach_refund_support",
        )
    if status == AchEnrollment.Status.ENTERED:
        return _step(
            "ach",
            WAITING,
            label,
            enrollment.entered_on or enrollment.updated_at,
            next_step="Check in the ACE Portal that CBP shows the bank account as active, then confirm it here.",
            contact_key="ach_refund_support",
        )
    if status == AchEnrollment.Status.REJECTED:
        return _step(
            "ach",
            BLOCKED,
            label,
            enrollment.rejected_on or enrollment.updated_at,
            next_step="Correct the bank details in the ACH Refund Authorization tab, then email ACH Refund "
            "Support; a replacement refund takes 4–6 weeks.",
            contact_key="ach_refund_support",
        )
    return _step(
        "ach",
        TODO,
        label,
        enrollment.updated_at if enrollment else None,
        next_step="Since February 6, 2026 CBP pays refunds only by ACH. The TAO logs in to the ACE Portal, opens "
        "the importer sub-account, 'ACH Refund Authorization' tab, and adds the U.S. bank account "
        "(bank name, routing number, account number). Then record it in RefundReady.",
        contact_key="ach_refund_support",
    )


def _notify_step(notify: Any) -> ReadinessStep:
    if notify is None:
        return _step(
            "notify_party",
            NOT_NEEDED,
            "None recorded",
            next_step="Only if a broker or carrier should receive refunds: record the 4811 notify party before "
            "filing CAPE.",
        )
    if notify.receives_refund:
        return _step("notify_party", DONE, f"{notify.name} receives refunds", notify.updated_at)
    missing = [
        text
        for ok, text in (
            (notify.on_ace_profile, "add it to the importer's ACE profile"),
            (notify.in_box_28, "put its IR number in box 28 of the 7501s"),
            (notify.ach_enrolled, "have it enroll for ACH refunds in its own ACE account"),
        )
        if not ok
    ]
    return _step(
        "notify_party",
        WARNING,
        f"{notify.name}: incomplete",
        notify.updated_at,
        next_step="Until all three are true the refund goes to the importer instead: "
        + "; ".join(missing)
        + ". Do this before filing CAPE.",
        contact_key="ach_refund_support",
    )


def _es003_step(latest_liq: datetime | None, latest_any: datetime | None, now: datetime) -> ReadinessStep:
    max_age = limit("READINESS_ES003_MAX_AGE_DAYS")
    how = (
        "In ACE Reports run ES-003 (Entry Summary Line Tariff Details), add the Liquidation Date and Liquidation "
        "Status columns, export and upload it here."
    )
    if latest_liq is not None and now - latest_liq <= timedelta(days=max_age):
        return _step("es003", DONE, "Loaded with liquidation columns", latest_liq)
    if latest_liq is not None:
        return _step(
            "es003",
            WARNING,
            f"Older than {max_age} days",
            latest_liq,
            next_step=f"CBP liquidates every week: load a fresh ES-003. {how}",
        )
    if latest_any is not None:
        return _step(
            "es003",
            TODO,
            "Loaded without liquidation columns",
            latest_any,
            next_step=f"The last ES-003 lacked the liquidation columns, which the default layout leaves out. {how}",
        )
    return _step("es003", TODO, "Not loaded", next_step=how)


def _cape_step(total: int, missing: int, last_file: datetime | None) -> ReadinessStep:
    if total == 0:
        return _step(
            "cape_files",
            NOT_NEEDED,
            "No entry on a CAPE path",
            last_file,
            next_step="Nothing to file in CAPE yet; this changes as entries are loaded and reclassified.",
        )
    if missing:
        return _step(
            "cape_files",
            TODO,
            f"{missing:,} of {total:,} entries without a CAPE file",
            last_file,
            next_step=f"Build the CAPE declaration file(s) for the {missing:,} entr{'y' if missing == 1 else 'ies'} "
            "on a CAPE path and file them in the ACE Portal CAPE tab.",
        )
    return _step("cape_files", DONE, f"All {total:,} entries filed", last_file)


# ----------------------------------------------------------------------------- bulk facts


# 19 CFR 24.5(e): since 2026-07-16 CBP marks importer numbers not used for entries in 366 days "inactive for
# entry purposes" (a warning here: our data may not hold every entry of the importer).
INACTIVE_AFTER_DAYS = 366
# Federal Register notice of 2026-08-19: since 2026-09-18 CBP may void importer numbers whose 5106 address is
# a P.O. box, a registered agent or a business centre.
_UNACCEPTABLE_ADDRESS = re.compile(
    r"\bP\.?\s*O\.?\s*BOX\b|\bPOST\s+OFFICE\s+BOX\b|\bPOB\s+\d|\bREGISTERED\s+AGENT\b|\bBUSINESS\s+CENT(?:RE|ER)\b",
    re.IGNORECASE,
)


def _importer_record_step(last_entry: date | None, address: str, today: date) -> ReadinessStep:
    """Warnings, never a block: an importer number unused for entries for over 366 days in our data, and a
    5106 address CBP may void (a P.O. box, a registered agent, a business centre)."""
    problems: list[str] = []
    steps: list[str] = []
    if last_entry is not None and (today - last_entry).days > INACTIVE_AFTER_DAYS:
        problems.append(f"no entry since {last_entry:%B} {last_entry.day}, {last_entry.year}")
        steps.append("CBP marks importer numbers unused for entries for 366 days \"inactive for entry purposes\" "
                     "(19 CFR 24.5(e), since July 16, 2026): check the number's status in ACE and reactivate it with "
                     "an updated CBP Form 5106 before filing.")
    match = _UNACCEPTABLE_ADDRESS.search(address or "")
    if match:
        problems.append(f"5106 address is a {match.group(0).strip()}")
        steps.append("Since September 18, 2026 CBP may void importer numbers whose 5106 address is a P.O. box, a "
                     "registered agent or a business centre (Federal Register notice of August 19, 2026): file an "
                     "updated CBP Form 5106 with the physical business address.")
    if not problems:
        return _step("importer_record", DONE, "No CBP record warning")
    step = _step("importer_record", WARNING, "; ".join(problems).capitalize(), next_step=" ".join(steps))
    return ReadinessStep(step.key, step.label, step.state, step.status, step.changed_on, step.next_step, step.contact,
                         advisory=True)


def _build(importers: list[Importer], organization: Organization | None) -> list[ImporterReadiness]:
    ids = [i.pk for i in importers]
    records = {r.importer_id: r for r in Form5106Record.objects.filter(importer_id__in=ids)}
    states = {s.importer_id: s for s in ReadinessState.objects.filter(importer_id__in=ids)}
    enrollments = {e.importer_id: e for e in AchEnrollment.objects.filter(importer_id__in=ids)}
    countries = importer_countries(ids)
    notifies = {n.importer_id: n for n in NotifyParty.objects.filter(importer_id__in=ids)}
    brokers = broker_domains_for(ids)

    # An importer's entries are one set, whoever loaded them (issue 18): the same readiness for everyone.
    entries = Entry.objects.filter(importer_id__in=ids, last_upload__status=Upload.Status.DONE)
    es003: dict[int, Any] = {
        row["importer_id"]: row
        for row in entries.values("importer_id").annotate(
            latest_any=Max("last_upload__finished_at"),
            latest_liq=Max("last_upload__finished_at", filter=Q(has_liquidation_columns=True)),
        )
    }
    last_entries = dict(
        Entry.objects.filter(importer_id__in=ids)
        .values("importer_id").annotate(last=Max("entry_date")).values_list("importer_id", "last")
    )
    # An entry has its CAPE file when it is on a declaration that CBP has not refused, and was not
    # itself rejected (a rejected entry needs a new declaration).
    filed = (
        DeclarationEntry.objects.filter(entry_id=OuterRef("entry_id"))
        .exclude(declaration__status__in=[Declaration.Status.REJECTED, Declaration.Status.FAILED_VALIDATION])
        .exclude(outcome=DeclarationEntry.Outcome.REJECTED)
    )
    classifications = Classification.objects.filter(importer_id__in=ids, path__in=CAPE_PATHS)
    declaration_items = DeclarationEntry.objects.filter(entry__importer_id__in=ids)
    cape: dict[int, Any] = {
        row["importer_id"]: row
        for row in classifications.annotate(has_file=Exists(filed))
        .values("importer_id")
        .annotate(total=Count("pk"), missing=Count("pk", filter=Q(has_file=False)))
    }
    last_files = dict(
        declaration_items.values("entry__importer_id")
        .annotate(last=Max("declaration__created_at"))
        .values_list("entry__importer_id", "last")
    )

    now = timezone.now()
    today = today_eastern()
    result = []
    for importer in importers:
        state = states.get(importer.pk)
        notify = notifies.get(importer.pk)
        es = es003.get(importer.pk, {})
        cp = cape.get(importer.pk, {})
        result.append(
            ImporterReadiness(
                importer,
                [
                    _poc_email_step(records.get(importer.pk), brokers.get(importer.pk, {})),
                    _ace_step(state),
                    _sub_account_step(state),
                    _tao_step(state),
                    _ach_step(enrollments.get(importer.pk), notify, state.ace_account if state else "",
                              countries.get(importer.pk, "")),
                    _notify_step(notify),
                    _es003_step(es.get("latest_liq"), es.get("latest_any"), now),
                    _cape_step(cp.get("total", 0), cp.get("missing", 0), last_files.get(importer.pk)),
                    _importer_record_step(last_entries.get(importer.pk),
                                          records[importer.pk].address if importer.pk in records else "", today),
                ],
            )
        )
    return result


def importer_readiness(importer: Importer, *, organization: Organization | None = None) -> list[ReadinessStep]:
    """The checklist of one importer. With ``organization``, ES-003 and CAPE steps count only that
    organisation's entries and declarations (a broker's and the importer's own uploads are separate)."""
    return _build([importer], organization)[0].steps


def readiness_for_importers(
    importers: Iterable[Importer], *, organization: Organization | None = None
) -> list[ImporterReadiness]:
    return _build(list(importers), organization)


def readiness_importers(organization: Organization) -> QuerySet[Importer]:
    """The importers of the organisation's checklist table, in its order (to paginate before building)."""
    return importers_for(organization).order_by("name", "ir_number", "pk")


def readiness_for_organization(organization: Organization) -> list[ImporterReadiness]:
    """Every importer the organisation owns or manages, each with its checklist (fixed query count)."""
    return _build(list(readiness_importers(organization)), organization)
