from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Organization(models.Model):
    class Kind(models.TextChoices):
        IMPORTER = "importer", "Importer"
        BROKER = "broker", "Customs broker"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Preflight warnings (no ACH, no 4811, open protest...) block a CAPE download when set.
    block_on_preflight_warnings = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        STAFF = "staff", "Staff"
        VIEWER = "viewer", "Viewer (read and export only)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    email_digest = models.BooleanField(default=True, help_text="Receive the daily deadline digest")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.STAFF)


class Importer(models.Model):
    """An importer of record (IOR), identified by its canonical IR number."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (not onboarded)"
        ACTIVE = "active", "Active"

    ir_number = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_importers"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # 19 U.S.C. 1505(c): corporate and non-corporate overpayment rates differ.
    is_corporate = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_importers"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "ir_number"]

    def __str__(self) -> str:
        from accounts.irnumber import mask_ir_number

        return f"{self.name or 'Unnamed importer'} ({mask_ir_number(self.ir_number)})"

    @property
    def ir_display(self) -> str:
        from accounts.irnumber import mask_ir_number

        return mask_ir_number(self.ir_number)


class ImporterGrant(models.Model):
    """A broker organisation's access to an importer. The owner can revoke it."""

    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="grants")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="grants")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["importer", "organization"],
                condition=Q(revoked_at__isnull=True),
                name="grant_unique_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} manages {self.importer}"


class AuditLog(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type}#{self.object_id}"
