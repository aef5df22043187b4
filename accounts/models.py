from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.irnumber import mask_ir_number


class Organization(models.Model):
    class Kind(models.TextChoices):
        IMPORTER = "importer", "Importer"
        BROKER = "broker", "Customs broker"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Preflight warnings (no ACH, no 4811, open protest...) block a CAPE download when set.
    block_on_preflight_warnings = models.BooleanField(default=False)
    # The organisation's own email domains (lower case, e.g. ["harborcb.com"]), besides its members'
    # login domains. A broker's are used to warn when a client's 5106 POC email is at the broker.
    email_domains = models.JSONField(default=list, blank=True)
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
    # The last ruleset whose changes the dashboard told this member about (shown once per ruleset).
    ruleset_notice_seen = models.CharField(max_length=16, blank=True, default="", db_default="")
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
    # Ruleset 2026.12 R6: a plaintiff at the Court of International Trade whose importer number was reported
    # for the court-ordered CAPE phase (user-set), with an optional note (the case number).
    cit_plaintiff = models.BooleanField("CIT plaintiff", default=False, db_default=False)
    cit_case_note = models.CharField("CIT case number or note", max_length=120, blank=True, default="", db_default="")
    # 31 CFR 208.4: CBP granted a waiver to be paid by paper check, a refund route like an ACH enrollment.
    paper_check_waiver_granted = models.BooleanField("Paper-check waiver granted", default=False, db_default=False)
    paper_check_waiver_date = models.DateField("Paper-check waiver granted on", null=True, blank=True)
    created_by = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_importers"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "ir_number"]

    def __str__(self) -> str:
        return f"{self.name or 'Unnamed importer'} ({mask_ir_number(self.ir_number)})"

    @property
    def ir_display(self) -> str:
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


class ApiToken(models.Model):
    """A user's API token (one per user). Only the SHA-256 of the key is stored: the key is shown once, when it
    is made (accounts.api_tokens). ``prefix`` (its first characters) lets the owner recognise it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never expires
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}…"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


# ---------------------------------------------------------------------------------------------
# Importer onboarding (issue 6): the 5106 record, the account application, readiness.
# Sources: CBP "Automated ACE Portal Account Application for Importers" (Oct 2025, seed 001);
# shared/domain/README.md §2–§4.


class Form5106Record(models.Model):
    """What CBP holds on the importer's Form 5106 (Importer ID Input Record), as the broker or the
    importer told us. The verification code of the account application goes to ``poc_email``."""

    importer = models.OneToOneField(Importer, on_delete=models.CASCADE, related_name="form5106")
    company_name = models.CharField(max_length=200)
    # CBP Form 5106 box 2E (point of contact email).
    poc_email = models.EmailField(max_length=254, blank=True)
    address = models.TextField(blank=True)
    # "Date last updated" of the 5106 record in ACE, as reported by the broker (None: unknown).
    last_updated = models.DateField(null=True, blank=True)
    # When someone confirmed with the broker that poc_email is the current POC (readiness step 1).
    poc_email_confirmed_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["company_name"]
        verbose_name = "Form 5106 record"

    def __str__(self) -> str:
        return f"5106 record of {self.importer}"


class ReadinessState(models.Model):
    """The readiness facts only a person can tell us (ACE account, sub-account view, TAO), each with
    the date it last changed. Derived steps (ACH, 4811, ES-003, CAPE) are read from their own apps."""

    class AceAccount(models.TextChoices):
        NONE = "none", "No ACE Portal account"
        APPLIED = "applied", "Applied"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive (dormant)"
        VOIDED = "voided", "Voided"

    class SubAccount(models.TextChoices):
        NONE = "none", "No importer sub-account view"
        REQUESTED = "requested", "Requested from CBP"
        ACTIVE = "active", "Active"

    importer = models.OneToOneField(Importer, on_delete=models.CASCADE, related_name="readiness_state")
    ace_account = models.CharField(max_length=16, choices=AceAccount.choices, default=AceAccount.NONE)
    ace_account_changed_on = models.DateField(null=True, blank=True)
    sub_account = models.CharField(max_length=16, choices=SubAccount.choices, default=SubAccount.NONE)
    sub_account_changed_on = models.DateField(null=True, blank=True)
    tao_name = models.CharField("Trade Account Owner (TAO) name", max_length=200, blank=True)
    tao_email = models.EmailField("TAO login email", max_length=254, blank=True)
    tao_changed_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Readiness of {self.importer}"


class AccountApplication(models.Model):
    """One run of the workspace application (mirrors ACE's automated importer application).

    Restarting (ten minutes passed, Back, five wrong codes) deletes the row: everything typed is
    discarded. A submitted application stays on file: the sub-account letter quotes its details.
    """

    class Status(models.TextChoices):
        CODE_SENT = "code_sent", "Verification code sent"
        VERIFIED = "verified", "Code verified"
        SUBMITTED = "submitted", "Submitted"

    token = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CODE_SENT)
    company_name = models.CharField(max_length=200)
    ir_number = models.CharField(max_length=16)
    email = models.EmailField(max_length=254)
    importer = models.ForeignKey(Importer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    failed_attempts = models.IntegerField(default=0)
    # Step 4 (company and account owner details), kept only until submit or restart.
    details = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    # The server-side deadline of the current step (ten minutes for the code).
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["importer", "status"])]

    def __str__(self) -> str:
        return f"Application {self.pk} ({self.status})"


class VerificationCode(models.Model):
    """A code sent to a 5106 POC email. Only an HMAC of the code is stored; the IR number and the IP
    address are kept as HMACs too, enough to enforce the resend limits and nothing more."""

    application = models.ForeignKey(
        AccountApplication, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes"
    )
    ir_key = models.CharField(max_length=64, db_index=True)
    ip_key = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"Verification code {self.pk} sent {self.sent_at:%Y-%m-%d %H:%M}"


class ImporterAssignment(models.Model):
    """Client work: an importer the organisation manages, assigned to one of its members (owner or staff), whose
    "my clients" it then is on the portfolio and the entries page. Per organisation: a broker's assignments are
    its own, never seen by the importer's owner or another broker."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="importer_assignments")
    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="assignments")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="importer_assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "importer", "member"], name="assignment_unique_member")
        ]
        indexes = [models.Index(fields=["organization", "member"])]

    def __str__(self) -> str:
        return f"{self.importer} assigned to {self.member} at {self.organization}"


class ImporterNote(models.Model):
    """Client work: a note on an importer, with an optional follow-up date, kept per organisation (a broker's
    notes on its client are the broker's own)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="importer_notes")
    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(max_length=2000)
    follow_up_on = models.DateField(null=True, blank=True)
    follow_up_done_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "importer", "-created_at"])]

    def __str__(self) -> str:
        return f"Note on {self.importer} at {self.organization}"

    @property
    def follow_up_open(self) -> bool:
        return self.follow_up_on is not None and self.follow_up_done_on is None
