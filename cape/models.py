from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Importer, Organization
from entries.models import MONEY, Entry, Job


class Path(models.TextChoices):
    CAPE_PHASE1 = "cape_phase1", "CAPE Phase 1"
    CAPE_PHASE2 = "cape_phase2", "CAPE (reconciliation lane)"
    PROTEST = "protest", "Protest"
    CIT = "cit", "Court of International Trade"
    WAIT = "wait", "Wait"
    FILED = "filed", "Filed in CAPE"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    NEEDS_REVIEW = "needs_review", "Needs review"


CAPE_PATHS = (Path.CAPE_PHASE1, Path.CAPE_PHASE2)


class Classification(models.Model):
    """The current result of the ruleset for one entry (cape/rules.py)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="classification")
    # Denormalised from the entry so that list pages filter and sort on one table: an organisation's
    # classifications are those of the importers it sees (one entry, one result, whoever looks). The entry's
    # own foreign key guarantees it, so no database constraint (a trigger per row: a third of the write cost
    # of a million-entry run) and no single-column index (the composite indexes below lead with it).
    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                 db_index=False)
    ieepa_duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    path = models.CharField(max_length=16, choices=Path.choices)
    reasons = models.JSONField(default=list)
    # "|code|code|" for filtering by reason on every database.
    reasons_text = models.CharField(max_length=500, default="")
    # The path's own deadline (CAPE window, protest, CIT), for sorting and urgency.
    deadline = models.DateField(null=True, blank=True)
    urgent = models.BooleanField(default=False)
    deadline_passed = models.BooleanField(default=False)
    projected_liquidation_date = models.DateField(null=True, blank=True)
    cape_window_closes = models.DateField(null=True, blank=True)
    protest_deadline = models.DateField(null=True, blank=True)
    protest_deadline_projected = models.BooleanField(default=False)
    cit_deadline = models.DateField(null=True, blank=True)
    days_since_liquidation = models.IntegerField(null=True, blank=True)
    # Effectively liquidated on as_of (a liquidation date in the future does not count).
    liquidated = models.BooleanField(default=False)
    estimated_interest = models.DecimalField(**MONEY, null=True, blank=True)
    # The estimate used a quarter whose IRS rate is not published yet (carried forward, cape/interest.py);
    # the note names the quarters ("estimate; rate for 2026-Q3 not yet published, carried forward").
    interest_uncertain = models.BooleanField(default=False)
    interest_note = models.CharField(max_length=200, blank=True, default="")
    # The first as_of on which this result could differ (nightly runs skip entries not yet due; their
    # query scans the organisation's rows with several OR-ed conditions, so no index of its own).
    stable_until = models.DateField(null=True, blank=True)
    ruleset = models.CharField(max_length=16)
    as_of = models.DateField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # An organisation sees the entries of its importers: the lists read these per importer, one importer
            # at a time (cape.selectors._ids_by_importer merges several). Only per-importer indexes: every
            # classification written maintains each index, and four global ones made a first classification
            # of a million entries miss its goal (bench/classify.py; README, Benchmarks).
            # entry last: sorted by path (then deadline, then entry) the list reads the index in either
            # direction without sorting a path's undated rows.
            models.Index(fields=["importer", "path", "deadline", "entry"], name="cape_class_imp_path_dl_entry"),
            # entry is the tie-breaker of the entries list; the list sorted by importer reads each importer's
            # rows in this order too.
            models.Index(fields=["importer", "deadline", "entry"], name="cape_class_imp_dl_entry"),
            models.Index(fields=["importer", "ieepa_duty", "entry"], name="cape_class_imp_duty_entry"),
            # (importer, deadline, entry) WHERE urgent is created in SQL (migration 0014).
        ]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.path}"


class ClassificationChange(models.Model):
    """History: every time an entry's path or reasons change, under which ruleset and as_of."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="classification_changes")
    old_path = models.CharField(max_length=16, blank=True)
    new_path = models.CharField(max_length=16)
    old_reasons = models.JSONField(default=list)
    reasons = models.JSONField(default=list)
    # Effectively liquidated before and after (the digest reports entries newly liquidated).
    was_liquidated = models.BooleanField(default=False)
    is_liquidated = models.BooleanField(default=False)
    ruleset = models.CharField(max_length=16)
    # The ruleset of the result this change replaced (blank: first classification, or recorded before
    # 2026.12). A change whose old_ruleset differs from ruleset is what a new ruleset did to the entry.
    old_ruleset = models.CharField(max_length=16, blank=True, default="", db_default="")
    as_of = models.DateField()
    # The digest reads the changes since yesterday (at); an entry's history reads entry.
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.old_path or '-'} -> {self.new_path}"

    @property
    def summary(self) -> str:
        """One line of the entry's history: "ruleset 2026.12: cape_phase1 → wait, excluded_type_21" (the
        new path's first, most important reason)."""
        why = f", {self.reasons[0]}" if self.reasons else ""
        return f"ruleset {self.ruleset}: {self.old_path or '(first classification)'} → {self.new_path}{why}"

    @property
    def by_new_ruleset(self) -> bool:
        return bool(self.old_ruleset) and self.old_ruleset != self.ruleset


class ClassificationRun(Job):
    """One run of the classifier over many entries (after an upload, nightly, by hand): what the
    pages show as a progress bar (done of total) and, at the end, how it went."""

    class Kind(models.TextChoices):
        UPLOAD = "upload", "After an upload"
        NIGHTLY = "nightly", "Nightly"
        MANUAL = "manual", "By hand"
        CHANGE = "change", "After a change"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The organisation whose action (or nightly run) started it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="classification_runs")
    # The importers whose entries the run classifies: every organisation that sees one of them shows the run
    # ("reclassifying…") while it is queued or running (cape.selectors.runs_in_progress).
    importers = models.ManyToManyField(Importer, blank=True, related_name="+")
    upload = models.ForeignKey("entries.Upload", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="classification_runs")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # A run recorded by cape.classify.reclassify_later: {"entry_ids": [...]} or {"importer_ids": [...]}.
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    as_of = models.DateField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    message_field = "error"
    lock_kind = "classify"

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.status} {self.done}/{self.total}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return 100 if self.status == self.Status.DONE else (100 * self.done // self.total if self.total else 0)


class Declaration(models.Model):
    """A CAPE declaration: one CSV of up to 9,999 entry numbers and what CBP made of it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        EXPORTED = "exported", "Exported"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        ACCEPTED_WITH_ERRORS = "accepted_with_errors", "Accepted with error(s)"
        REJECTED = "rejected", "Rejected"
        FAILED_VALIDATION = "failed_validation", "Failed initial validation"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="declarations")
    # None when the declaration mixes several importers (a broker's choice).
    importer = models.ForeignKey(Importer, null=True, blank=True, on_delete=models.PROTECT, related_name="declarations")
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT, db_index=True)
    entry_count = models.IntegerField(default=0)
    ieepa_duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    preflight = models.JSONField(default=dict, blank=True)
    file_bytes = models.BinaryField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    submitted_on = models.DateField(null=True, blank=True)
    claim_number = models.CharField(max_length=40, blank=True)
    accepted_on = models.DateField(null=True, blank=True)
    # What the last CAPE Claim Details import said: counts, unknown entries, missing entries.
    outcome_summary = models.JSONField(default=dict, blank=True)
    # A declaration rebuilt from rejected entries that have since been corrected points at its origin.
    refiled_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="refiles")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class DeclarationEntry(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    # Bulk-write table (declaration_build COPYs up to a million rows in one transaction), so:
    # * no database FK constraints: Django makes them DEFERRABLE INITIALLY DEFERRED, and PostgreSQL then
    #   queues one check per row per key and runs them all at commit, each locking the referenced entry
    #   row FOR KEY SHARE (more than half the build time for a million entries). What guards integrity
    #   instead: rows are only written by cape.declarations (``_insert_items``) inside the transaction that
    #   creates their declaration, for entry ids just read from the organisation's classifications; the
    #   application never deletes entries; deleting a declaration (or, in the admin, an entry or an
    #   organisation) deletes its rows through Django's CASCADE, which runs in the ORM, not the database.
    #   The same choice as entries.TariffLine.entry (entries migration 0003).
    # * no separate index on declaration_id: the unique (declaration, entry) index leads with it.
    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="items", db_index=False,
                                    db_constraint=False)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="declaration_items", db_constraint=False)
    position = models.IntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    error_text = models.CharField(max_length=200, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # Set when a user confirms the post-summary correction for a rejected entry was filed in ACE.
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["declaration", "position"]
        constraints = [models.UniqueConstraint(fields=["declaration", "entry"], name="declarationentry_unique")]
        # Lookups by entry (taken entries, latest rejections, classification) use the entry_id index; an
        # (entry, outcome) index added nothing an entry's handful of rows needs, and cost every bulk write.

    def __str__(self) -> str:
        return f"{self.declaration_id} #{self.position}: {self.get_outcome_display()}"


class RefundEvent(models.Model):
    """What happened to the money (REV-603 / REV-615 reports or recorded by hand)."""

    class Kind(models.TextChoices):
        SENT_TO_TREASURY = "sent_to_treasury", "Sent to Treasury"
        TREASURY_ISSUED = "treasury_issued", "Treasury issued"
        FUNDS_DIVERTED = "funds_diverted", "Funds diverted (offset)"
        RETURNED = "returned", "Check/ACH returned"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refund_events")
    importer = models.ForeignKey(Importer, on_delete=models.CASCADE, related_name="refund_events")
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="refund_events")
    declaration = models.ForeignKey(Declaration, null=True, blank=True, on_delete=models.SET_NULL, related_name="refund_events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    event_date = models.DateField(null=True, blank=True)
    principal = models.DecimalField(**MONEY, null=True, blank=True)
    interest = models.DecimalField(**MONEY, null=True, blank=True)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    source = models.CharField(max_length=16, default="manual")
    reference = models.CharField(max_length=80, blank=True)
    # The report's status as written ("Funds Diverted - applied to outstanding debt"): ``kind`` is its leading words.
    status_text = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-event_date", "-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.event_date or ''}".strip()


class DeclarationBuildJob(Job):
    """A declaration build run in the background (a large broker: up to a million candidate entries).

    The page and the API poll it; a worker claims it pending → running with a conditional UPDATE so two
    workers never build it twice (cape.build_jobs). ``done`` of ``total`` counts entries written and then
    checked (preflight), so the bar moves through both halves of the work."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Building"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="declaration_build_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # What to build: importer_ids (None = every importer), entry_numbers, paths, urgent_only, mixed, name.
    params = models.JSONField(default=dict)
    candidates = models.IntegerField(default=0)  # eligible entries counted when the job was started
    total = models.IntegerField(default=0)
    done = models.IntegerField(default=0)
    message = models.CharField(max_length=500, blank=True, default="")
    declaration_ids = models.JSONField(default=list)
    considered = models.IntegerField(default=0)
    left_out = models.JSONField(default=list)  # the first LEFT_OUT_KEPT {entry_number, reason}
    left_out_count = models.IntegerField(default=0)
    lock_kind = "build"
    # Every importer the build was asked for or found candidate entries of: the job (its declarations, its
    # left-out entries) is shown only while the organisation may still see each of them
    # (cape.build_jobs.build_jobs_for), so a revoked grant hides a broker's builds for that importer.
    importers = models.ManyToManyField(Importer, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="cape_buildjob_org_created")]

    def __str__(self) -> str:
        return f"Declaration build {self.pk} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return max(0, min(99, int(self.done * 100 / self.total)))
