from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.irnumber import mask_ir_number
from accounts.models import Importer, Organization
from ach.crypto import mask
from ach.guidance import replacement_weeks

MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


class AchEnrollment(models.Model):
    """What the importer has in ACE's ACH Refund Authorization tab. We record ACE's state; we never submit."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        ENTERED = "entered", "Entered in ACE"
        ACTIVE = "active", "Confirmed active"
        REJECTED = "rejected", "Rejected"

    class AccountType(models.TextChoices):
        CHECKING = "checking", "Checking"
        SAVINGS = "savings", "Savings"

    class Waiver(models.TextChoices):
        NONE = "", "Not requested"
        REQUESTED = "requested", "Requested"
        GRANTED = "granted", "Granted"
        DENIED = "denied", "Denied"

    importer = models.OneToOneField(Importer, on_delete=models.CASCADE, related_name="ach_enrollment")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    bank_name = models.CharField(max_length=120, blank=True)
    routing_number = models.CharField(max_length=9, blank=True)
    # Fernet ciphertext (ach/crypto.py); never the plain number.
    account_number_encrypted = models.TextField(blank=True)
    account_last4 = models.CharField(max_length=4, blank=True)
    account_type = models.CharField(max_length=16, choices=AccountType.choices, blank=True)
    account_holder = models.CharField(max_length=200, blank=True)
    entered_on = models.DateField(null=True, blank=True)
    entered_by = models.CharField(max_length=120, blank=True)
    # Confirmed active: the date the TAO saw the account active in ACE, and optional evidence.
    confirmed_on = models.DateField(null=True, blank=True)
    evidence = models.FileField(upload_to="ach-evidence/%Y/", blank=True)
    evidence_name = models.CharField(max_length=200, blank=True)
    rejected_on = models.DateField(null=True, blank=True)
    # Special cases (seed 004, "Special Cases" table; guidance in ach/data/ach_guidance.json). The ACE
    # account state (inactive, voided) is kept once, on accounts.ReadinessState.ace_account.
    foreign_no_us_bank = models.BooleanField(default=False)
    paper_check_waiver = models.CharField(max_length=16, choices=Waiver.choices, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ACH refund enrollment for {self.importer} ({self.status})"

    @property
    def account_masked(self) -> str:
        return mask(self.account_last4)

    @property
    def has_bank_details(self) -> bool:
        return bool(self.routing_number and self.account_number_encrypted)


class NotifyParty(models.Model):
    """CBP Form 4811 notify party: receives the refund only when all three conditions hold."""

    importer = models.OneToOneField(Importer, on_delete=models.CASCADE, related_name="notify_party")
    name = models.CharField(max_length=200)
    ir_number = models.CharField(max_length=16)
    on_ace_profile = models.BooleanField(default=False)
    in_box_28 = models.BooleanField(default=False)
    ach_enrolled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "notify party"
        verbose_name_plural = "notify parties"

    def __str__(self) -> str:
        return f"4811 notify party {self.name} for {self.importer}"

    @property
    def receives_refund(self) -> bool:
        return self.on_ace_profile and self.in_box_28 and self.ach_enrolled

    @property
    def ir_display(self) -> str:
        return mask_ir_number(self.ir_number)


class AchRejection(models.Model):
    """A refund CBP could not pay by ACH (REV-613, REV-603 "Check/ACH Returned", or recorded by hand),
    and the replacement procedure to its resolution (seed 004 §2: enroll, email ACH refund support,
    allow 4–6 weeks)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Recorded by hand"
        REV613 = "rev613", "REV-613 ACH Rejected Refunds"
        REV603 = "rev603", "REV-603 Trade Refund (Check/ACH Returned)"

    class Step(models.TextChoices):
        ENROLL = "enroll", "Enroll valid bank details in ACE"
        EMAIL = "email", "Email CBP ACH refund support"
        WAIT = "wait", "Wait for the replacement refund"
        RESOLVED = "resolved", "Replacement received"

    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="ach_rejections")
    # The organisation that recorded it (audit trail); visibility follows the importer.
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    reference = models.CharField(max_length=80, blank=True)
    entry_number = models.CharField(max_length=11, blank=True)
    rejected_on = models.DateField(null=True, blank=True)
    re_enrolled_on = models.DateField(null=True, blank=True)
    support_emailed_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resolved_on", "-rejected_on", "-created_at"]
        constraints = [
            # The same refund reported twice (REV-613 re-imported, or also on REV-603) is one rejection.
            models.UniqueConstraint(fields=["importer", "reference"], condition=~Q(reference=""), name="achrejection_unique_ref"),
        ]
        indexes = [models.Index(fields=["importer", "resolved_on"])]

    def __str__(self) -> str:
        return f"Rejected refund {self.reference or self.pk} for {self.importer}"

    @property
    def step(self) -> str:
        if self.resolved_on:
            return self.Step.RESOLVED
        if not self.re_enrolled_on:
            return self.Step.ENROLL
        if not self.support_emailed_on:
            return self.Step.EMAIL
        return self.Step.WAIT

    @property
    def step_label(self) -> str:
        return self.Step(self.step).label

    def replacement_window(self) -> tuple[date, date] | None:
        """When the replacement should arrive: 4 to 6 weeks after the support email (seed 004)."""
        if not self.support_emailed_on:
            return None

        low, high = replacement_weeks()
        return self.support_emailed_on + timedelta(weeks=low), self.support_emailed_on + timedelta(weeks=high)

    @property
    def amount_or_zero(self) -> Decimal:
        return self.amount or Decimal("0.00")
