from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Importer


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
    confirmed_on = models.DateField(null=True, blank=True)
    evidence = models.FileField(upload_to="ach-evidence/%Y/", blank=True)
    rejected_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ACH refund enrollment for {self.importer} ({self.status})"

    @property
    def account_masked(self) -> str:
        return f"••••{self.account_last4}" if self.account_last4 else ""


class NotifyParty(models.Model):
    """CBP Form 4811 notify party: receives the refund only when all three conditions hold."""

    importer = models.OneToOneField(Importer, on_delete=models.CASCADE, related_name="notify_party")
    name = models.CharField(max_length=200)
    ir_number = models.CharField(max_length=16)
    on_ace_profile = models.BooleanField(default=False)
    in_box_28 = models.BooleanField(default=False)
    ach_enrolled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"4811 notify party {self.name} for {self.importer}"

    @property
    def receives_refund(self) -> bool:
        return self.on_ace_profile and self.in_box_28 and self.ach_enrolled
