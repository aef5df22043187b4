"""Reads about who will receive an importer's refund (used by classification, CAPE preflight, dashboards)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, Q, QuerySet, Sum

from accounts.countries import country_name, is_foreign
from accounts.models import Importer, Organization, ReadinessState
from accounts.selectors import importer_countries, importers_for
from ach.guidance import SPECIAL_CASE_CODES, contact, special_case
from ach.models import AchEnrollment, AchRejection, NotifyParty
from ach.signals import cape_duty_wanted


@dataclass(frozen=True)
class RefundRecipient:
    """Who CBP pays: the 4811 notify party only when on the ACE profile, in box 28 and ACH-enrolled
    (seed 004, CBP Form 4811 rules); otherwise the importer of record's own ACH refund account."""

    receiver: str  # "importer" or "notify_party"
    name: str
    importer_has_active_ach: bool
    notify_party_receives: bool
    warnings: list[str] = field(default_factory=list)
    # "ok" (will be paid), "warn" (entered, not confirmed), "bounce" (nowhere to pay)
    level: str = "ok"
    special_cases: list[dict[str, Any]] = field(default_factory=list)
    # A granted paper-check waiver (31 CFR 208.4): Treasury lets CBP pay this importer by check.
    by_paper_check: bool = False

    @property
    def can_be_paid(self) -> bool:
        return self.notify_party_receives or self.importer_has_active_ach or self.by_paper_check

    @property
    def receiver_label(self) -> str:
        if self.receiver == "notify_party":
            return "4811 notify party"
        return "Importer of record (paper check)" if self.by_paper_check else "Importer of record"


def importer_ids_with_refund_route(importer_ids: Iterable[int]) -> set[int]:
    """Importers whose refund has somewhere to go: an active ACH refund enrollment, a granted paper-check
    waiver, or a 4811 notify party that meets all three conditions (rules.md: `no_ach_refund` is added
    to the others)."""
    ids = list(importer_ids)
    # A granted paper-check waiver (31 CFR 208.4) is a route too: CBP pays that importer by check.
    active = set(
        AchEnrollment.objects.filter(Q(status=AchEnrollment.Status.ACTIVE) | Q(paper_check_waiver=AchEnrollment.Waiver.GRANTED),
                                     importer_id__in=ids).values_list("importer_id", flat=True)
    )
    via_notify = set(
        NotifyParty.objects.filter(Q(importer_id__in=ids), on_ace_profile=True, in_box_28=True, ach_enrolled=True).values_list(
            "importer_id", flat=True
        )
    )
    return active | via_notify


@dataclass(frozen=True)
class AccountFacts:
    """Facts recorded elsewhere that make an importer a special case: the state of its ACE Portal
    account (the readiness checklist, accounts.ReadinessState, is the one place it is kept) and the
    country of its address (account application or 5106 record)."""

    ace_account: str = ""
    country: str = ""

    @property
    def foreign(self) -> bool:
        return is_foreign(self.country)


def account_facts(importer_ids: Iterable[int]) -> dict[int, AccountFacts]:
    """AccountFacts per importer id, in three queries whatever the number of importers."""
    ids = list(importer_ids)
    ace = dict(ReadinessState.objects.filter(importer_id__in=ids).values_list("importer_id", "ace_account"))
    countries = importer_countries(ids)
    return {i: AccountFacts(ace_account=ace.get(i, ""), country=countries.get(i, "")) for i in ids}


def special_cases_for(
    enrollment: AchEnrollment | None, notify: NotifyParty | None = None, facts: AccountFacts | None = None
) -> list[dict[str, Any]]:
    """The seed-004 special cases that apply, each with its guidance and contacts (ach/data/ach_guidance.json).

    Recognised from the facts on file, not only from what was ticked: the ACE account state recorded on
    the readiness checklist (inactive, voided), and a non-U.S. country on the importer's application or
    5106 address while it has no active ACH refund account nor a 4811 notify party that receives."""
    facts = facts or AccountFacts()
    active = enrollment is not None and enrollment.status == AchEnrollment.Status.ACTIVE
    routed = active or (notify is not None and notify.receives_refund)
    cases = []
    for code in SPECIAL_CASE_CODES:
        case = None
        if code == "foreign_no_us_bank":
            ticked = enrollment is not None and enrollment.foreign_no_us_bank
            if ticked or (facts.foreign and not routed):
                case = special_case(code)
                if facts.foreign:
                    case["recognised_from"] = (f"The importer's address on file is in {country_name(facts.country)} "
                                               f"({facts.country}).")
        elif code == "ace_account_inactive" and facts.ace_account == ReadinessState.AceAccount.INACTIVE:
            case = special_case(code)
            case["recognised_from"] = "The ACE Portal account is recorded as inactive (dormant)."
        elif code == "ace_account_voided" and facts.ace_account == ReadinessState.AceAccount.VOIDED:
            case = special_case(code)
            case["recognised_from"] = "The ACE Portal account is recorded as voided."
        elif code == "paper_check_waiver" and enrollment is not None and enrollment.paper_check_waiver:
            case = special_case(code)
            case["state"] = enrollment.get_paper_check_waiver_display()
            if enrollment.paper_check_waiver == AchEnrollment.Waiver.GRANTED:
                case["guidance"] = case["granted_guidance"]
                case["contact_details"] = [contact(c) for c in case["granted_contacts"]]
        if case is not None:
            cases.append(case)
    if notify is not None and (notify.on_ace_profile or notify.in_box_28) and not notify.ach_enrolled:
        cases.append(special_case("notify_party_not_enrolled"))
    return cases


def _recipient(
    importer: Importer, enrollment: AchEnrollment | None, notify: NotifyParty | None, facts: AccountFacts | None = None
) -> RefundRecipient:
    active = enrollment is not None and enrollment.status == AchEnrollment.Status.ACTIVE
    status = enrollment.status if enrollment is not None else AchEnrollment.Status.NOT_STARTED
    cases = special_cases_for(enrollment, notify, facts)
    warnings: list[str] = []
    if notify is not None and notify.receives_refund:
        return RefundRecipient("notify_party", notify.name, active, True, warnings, "ok", cases)
    if notify is not None:
        missing = [label for ok, label in [(notify.on_ace_profile, "on the importer's ACE profile"),
                                            (notify.in_box_28, "in box 28 of the 7501s"),
                                            (notify.ach_enrolled, "enrolled for ACH refunds")] if not ok]
        warnings.append(f"The 4811 notify party {notify.name} is not {', '.join(missing)}: the refund goes to the importer instead.")
    level = "ok"
    if not active and enrollment is not None and enrollment.paper_check_waiver == AchEnrollment.Waiver.GRANTED:
        # 31 CFR 208.4: with a granted waiver Treasury pays by paper check, so nothing bounces.
        return RefundRecipient("importer", importer.name, False, False, warnings, "ok", cases, by_paper_check=True)
    if status == AchEnrollment.Status.REJECTED:
        warnings.append("CBP rejected a refund to this importer's ACH account: further refunds will bounce until valid bank "
                        "details are enrolled in ACE and CBP ACH refund support is emailed.")
        level = "bounce"
    elif status == AchEnrollment.Status.ENTERED:
        warnings.append("Bank details were entered in ACE but not yet seen active there: check ACE before filing CAPE, or the refund may bounce.")
        level = "warn"
    elif not active:
        warnings.append("The importer has no active ACH refund enrollment: CBP cannot pay this refund (it will bounce or wait).")
        level = "bounce"
    return RefundRecipient("importer", importer.name, active, False, warnings, level, cases)


def refund_recipient(importer: Importer) -> RefundRecipient:
    enrollment = AchEnrollment.objects.filter(importer=importer).first()
    notify = NotifyParty.objects.filter(importer=importer).first()
    return _recipient(importer, enrollment, notify, account_facts([importer.pk])[importer.pk])


# ---------------------------------------------------------------- scoped reads for pages and API
def ach_importers(organization: Organization | None) -> QuerySet[Importer]:
    return importers_for(organization).select_related("ach_enrollment", "notify_party")


def enrollment_for(importer: Importer) -> AchEnrollment | None:
    return AchEnrollment.objects.filter(importer=importer).first()


def rejections_for(importer: Importer) -> QuerySet[AchRejection]:
    return AchRejection.objects.filter(importer=importer).order_by("resolved_on", "-rejected_on", "-pk")


def rejections_visible_to(organization: Organization | None) -> QuerySet[AchRejection]:
    return AchRejection.objects.filter(importer__in=importers_for(organization).values("pk")).select_related("importer")


@dataclass
class OverviewRow:
    importer: Importer
    enrollment: AchEnrollment | None
    notify: NotifyParty | None
    recipient: RefundRecipient
    cape_duty: Decimal
    cape_entries: int
    open_rejections: int
    rejected_amount: Decimal

    @property
    def status(self) -> str:
        return self.enrollment.status if self.enrollment else AchEnrollment.Status.NOT_STARTED

    @property
    def status_label(self) -> str:
        return AchEnrollment.Status(self.status).label

    @property
    def has_route(self) -> bool:
        return self.recipient.can_be_paid

    @property
    def at_risk(self) -> Decimal:
        """IEEPA duty on CAPE paths that has nowhere to be paid (no active ACH, no qualifying 4811)."""
        return Decimal("0.00") if self.has_route else self.cape_duty


def ach_overview(organization: Organization | None) -> list[OverviewRow]:
    """Every importer the organisation owns or manages, with its ACH position and the IEEPA duty on
    CAPE paths at risk (the importers' classifications, shared), sorted by money at risk."""
    importers = list(ach_importers(organization))
    ids = [i.pk for i in importers]
    # The classifications are cape's: it answers the ach.signals.cape_duty_wanted hook (cape/receivers.py).
    duty: dict[int, tuple[Decimal, int]] = {}
    for _receiver, answer in cape_duty_wanted.send(sender=Importer, importer_ids=ids):
        duty.update(cast("dict[int, tuple[Decimal, int]]", answer) or {})  # the receiver's answer
    rejected = {
        row["importer_id"]: (row["n"], row["total"] or Decimal("0.00"))
        for row in AchRejection.objects.filter(importer_id__in=ids, resolved_on__isnull=True)
        .values("importer_id").annotate(n=Count("pk"), total=Sum("amount"))
    }
    facts = account_facts(ids)
    rows = []
    for imp in importers:
        enrollment = getattr(imp, "ach_enrollment", None) if _has(imp, "ach_enrollment") else None
        notify = getattr(imp, "notify_party", None) if _has(imp, "notify_party") else None
        total, n = duty.get(imp.pk, (Decimal("0.00"), 0))
        open_n, open_amount = rejected.get(imp.pk, (0, Decimal("0.00")))
        rows.append(OverviewRow(imp, enrollment, notify, _recipient(imp, enrollment, notify, facts[imp.pk]), total, n, open_n,
                                open_amount))
    rows.sort(key=lambda r: (-r.at_risk, -r.rejected_amount, r.has_route, -r.cape_duty, r.importer.name.lower(), r.importer.pk))
    return rows


def _has(obj: Any, related: str) -> bool:
    try:
        getattr(obj, related)
    except (AchEnrollment.DoesNotExist, NotifyParty.DoesNotExist):
        return False
    return True
