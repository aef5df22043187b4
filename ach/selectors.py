"""Reads about who will receive an importer's refund (used by classification, CAPE preflight, dashboards)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q

from accounts.models import Importer
from ach.models import AchEnrollment, NotifyParty


@dataclass(frozen=True)
class RefundRecipient:
    """Who CBP pays: the 4811 notify party only when on the ACE profile, in box 28 and ACH-enrolled
    (seed 004, CBP Form 4811 rules); otherwise the importer of record's own ACH refund account."""

    receiver: str  # "importer" or "notify_party"
    name: str
    importer_has_active_ach: bool
    notify_party_receives: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def can_be_paid(self) -> bool:
        return self.notify_party_receives or self.importer_has_active_ach


def importer_ids_with_refund_route(importer_ids: Iterable[int]) -> set[int]:
    """Importers whose refund has somewhere to go: an active ACH refund enrollment, or a 4811 notify
    party that meets all three conditions (rules.md: `no_ach_refund` is added to the others)."""
    ids = list(importer_ids)
    active = set(
        AchEnrollment.objects.filter(importer_id__in=ids, status=AchEnrollment.Status.ACTIVE).values_list("importer_id", flat=True)
    )
    via_notify = set(
        NotifyParty.objects.filter(Q(importer_id__in=ids), on_ace_profile=True, in_box_28=True, ach_enrolled=True).values_list(
            "importer_id", flat=True
        )
    )
    return active | via_notify


def refund_recipient(importer: Importer) -> RefundRecipient:
    enrollment = AchEnrollment.objects.filter(importer=importer).first()
    active = enrollment is not None and enrollment.status == AchEnrollment.Status.ACTIVE
    notify = NotifyParty.objects.filter(importer=importer).first()
    warnings: list[str] = []
    if notify is not None and notify.receives_refund:
        return RefundRecipient("notify_party", notify.name, active, True, warnings)
    if notify is not None:
        missing = [label for ok, label in [(notify.on_ace_profile, "on the importer's ACE profile"),
                                            (notify.in_box_28, "in box 28 of the 7501s"),
                                            (notify.ach_enrolled, "enrolled for ACH refunds")] if not ok]
        warnings.append(f"The 4811 notify party {notify.name} is not {', '.join(missing)}: the refund goes to the importer instead.")
    if not active:
        warnings.append("The importer has no active ACH refund enrollment: CBP cannot pay this refund (it will bounce or wait).")
    return RefundRecipient("importer", importer.name, active, False, warnings)
