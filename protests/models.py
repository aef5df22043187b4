"""Protests under 19 U.S.C. 1514 built from the protest path, and their lifecycle.

A protest covers entries of one importer on one issue (the IEEPA duties), also across ports; it is filed
with the Center (team) of its lead entry in the ACE Protest Module (CBP ACE Protest FAQ; domain README §7a).
Lifecycle: draft → exported (a file downloaded for filing) → filed (the user records CBP's protest number
and the filing date) → decided (allowed, denied, allowed in part) with the decision date.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Importer, Organization
from entries.models import MONEY, Entry

# 28 U.S.C. 2636(a): a civil action contesting the denial, in whole or in part, of a protest is commenced
# within 180 days after the date of mailing of the notice of denial.
CIT_SUMMONS_DAYS = 180


class Protest(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        EXPORTED = "exported", "Exported (ready to file)"
        FILED = "filed", "Filed with CBP"
        DECIDED = "decided", "Decided by CBP"

    class Decision(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"
        PARTLY = "partly", "Allowed in part"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="protests")
    importer = models.ForeignKey(Importer, on_delete=models.PROTECT, related_name="protests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # CBP's number, stored as its 12 digits (port 4, year 2, serial 6; shown 2704-26-100412).
    protest_number = models.CharField(max_length=12, blank=True, default="")
    filed_on = models.DateField(null=True, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True, default="")
    decided_on = models.DateField(null=True, blank=True)
    # The reason for protest as it will be filed: the organisation's text when the draft was made, editable.
    reason_text = models.TextField(blank=True, default="")
    # The lead entry's port and, when the ES-003 carries it, its Center/team (it does not today: blank).
    port_code = models.CharField(max_length=8, blank=True, default="")
    center_team = models.CharField(max_length=40, blank=True, default="")
    # The earliest protest deadline of its entries, and what is at stake (cached when the draft is made).
    deadline = models.DateField(null=True, blank=True)
    entry_count = models.IntegerField(default=0)
    line_count = models.IntegerField(default=0)
    ieepa_duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    estimated_interest = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # Size of the Protest Details Spreadsheet (CSV) in bytes, computed at drafting (ACE attachments ≤ 10 MB).
    spreadsheet_bytes = models.IntegerField(default=0)
    # The Protest Details Spreadsheet as drafted (XLSX and CSV), served as stored: the files whose size was checked.
    spreadsheet_xlsx = models.BinaryField(null=True, blank=True)
    spreadsheet_csv = models.BinaryField(null=True, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deadline", "pk"]
        indexes = [models.Index(fields=["organization", "status", "deadline"], name="protest_org_status_dl")]

    def __str__(self) -> str:
        return f"Protest {self.pk} ({self.get_status_display()})"

    @property
    def protest_number_display(self) -> str:
        n = self.protest_number
        return f"{n[:4]}-{n[4:6]}-{n[6:]}" if len(n) == 12 else n

    @property
    def is_open(self) -> bool:
        """Exported or filed and not decided: the entries are (or are about to be) under protest at CBP."""
        return self.status in (self.Status.EXPORTED, self.Status.FILED)

    @property
    def cit_summons_by(self) -> date | None:
        """The last day to contest a denial at the CIT (28 U.S.C. 2636(a)), counted from the decision date."""
        if self.decision in (self.Decision.DENIED, self.Decision.PARTLY) and self.decided_on:
            return self.decided_on + timedelta(days=CIT_SUMMONS_DAYS)
        return None


class ProtestEntry(models.Model):
    protest = models.ForeignKey(Protest, on_delete=models.CASCADE, related_name="items", db_index=False)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="protest_items")
    position = models.IntegerField()
    # The entry with the earliest deadline: CBP files the protest with its Center (team).
    lead = models.BooleanField(default=False)

    class Meta:
        ordering = ["protest", "position"]
        constraints = [
            models.UniqueConstraint(fields=["protest", "entry"], name="protestentry_unique"),
            models.UniqueConstraint(fields=["protest"], condition=models.Q(lead=True), name="protestentry_one_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.protest_id} #{self.position}"


class ProtestReason(models.Model):
    """An organisation's own reason-for-protest text; without one the default narrative applies."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="protest_reason")
    text = models.TextField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Reason for protest of {self.organization}"
