from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Importer, Organization

MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


class Job(models.Model):
    """What every background job row shares (issue #21 item 2): the one job runtime (entries.jobs,
    refundready.jobs) claims, fails, watches and recovers any model built on it. A job keeps its body and
    its words; the runtime knows its fields through the names below.

    ``status`` takes the four values of ``Job.Status``; a job may redeclare the field to give them its own
    words (the labels its pages show). ``attempts`` counts claims: a job interrupted by a dead worker is
    requeued until it reaches ``refundready.jobs.max_attempts()``, then failed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The names of a job's message and progress fields (they predate the runtime; kept so no data moves).
    message_field = "message"
    done_field = "done"
    total_field = "total"
    lock_kind = ""  # the liveness lock's namespace (refundready.jobs.LOCK_CLASSES)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in (Job.Status.DONE, Job.Status.FAILED)


class Upload(Job):
    """One ES-003 file brought in by a user; processed by a Celery task (entries.tasks)."""

    Status = Job.Status
    message_field = "error_message"
    done_field = "rows_read"
    total_field = "rows_total"
    lock_kind = "upload"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    file = models.FileField(upload_to="uploads/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    rows_total = models.IntegerField(default=0)
    rows_read = models.IntegerField(default=0)
    # rows_read, entries_created, entries_updated, lines, rows_rejected, warnings, changes {...}
    summary = models.JSONField(default=dict, blank=True)
    # [{"file", "row", "column", "value", "reason"}]
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_read / self.rows_total))


class Entry(models.Model):
    """An entry summary (CBP Form 7501) aggregated from its ES-003 rows."""

    class LiquidationStatus(models.TextChoices):
        UNLIQUIDATED = "unliquidated", "Unliquidated"
        LIQUIDATED = "liquidated", "Liquidated"
        SUSPENDED = "suspended", "Suspended"
        EXTENDED = "extended", "Extended"
        UNDER_REVIEW = "under_review", "Under review"
        FINAL = "final", "Finally liquidated"
        UNKNOWN = "unknown", "Unknown"

    class ProtestStatus(models.TextChoices):
        NONE = "none", "None"
        OPEN = "open", "Open"
        SUSPENDED = "suspended", "Suspended"
        DENIED = "denied", "Denied"
        APPROVED = "approved", "Approved"

    # One row per entry number in the world (an entry summary is filed once, for one importer of record):
    # every organisation that may see the importer (accounts.selectors.importers_for: its owner, a broker
    # with an unrevoked grant) sees this same row, its lines, facts, classification and CAPE history.
    # Uploads stay per organisation and merge into it (entries.ingest).
    # Bulk-load table (an ES-003 merge inserts a hundred thousand entries at a time), so no database FK
    # constraints on the keys below: Django makes them DEFERRABLE INITIALLY DEFERRED and PostgreSQL would run
    # checks per new entry at commit (a second or more for a large report). What guards integrity instead:
    # entries are written by entries.ingest.staging (importer joined by IR number in the same statement, last upload
    # the one being merged) or through the ORM; the application never deletes importers or uploads outside the
    # ORM, whose on_delete rules (PROTECT, SET_NULL) run in Django, not the database. Same choice as
    # TariffLine.entry (migration 0003).
    importer = models.ForeignKey(Importer, on_delete=models.PROTECT, related_name="entries", db_constraint=False,
                                 db_index=False)  # (importer, entry_number) below leads with it
    entry_number = models.CharField(max_length=11)
    entry_type = models.CharField(max_length=2)
    entry_date = models.DateField(null=True, blank=True)
    entry_summary_date = models.DateField(null=True, blank=True)
    port_code = models.CharField(max_length=8, blank=True)
    filer_code = models.CharField(max_length=3, blank=True)
    filer_name = models.CharField(max_length=200, blank=True)
    liquidation_status = models.CharField(
        max_length=16, choices=LiquidationStatus.choices, default=LiquidationStatus.UNKNOWN
    )
    liquidation_status_raw = models.CharField(max_length=60, blank=True)
    liquidation_date = models.DateField(null=True, blank=True)
    recon_flag = models.BooleanField(default=False)
    psc_flag = models.BooleanField(default=False)
    protest_number = models.CharField(max_length=40, blank=True)
    protest_status = models.CharField(max_length=16, choices=ProtestStatus.choices, default=ProtestStatus.NONE)
    # Ruleset 2026.12 "Inputs": a user-set protest status wins over the report's. Set when a person sets the
    # protest status or number (entry page, facts file); an ES-003 upload then leaves both alone.
    protest_set_by_user = models.BooleanField(default=False, db_default=False)
    # ES-003 "Importation Date" when the report has it (CBP Form 7501 block 11).
    importation_date = models.DateField(null=True, blank=True)
    # Facts the ES-003 lacks; set by users (each change audited).
    type09_filed = models.BooleanField(default=False)
    drawback = models.BooleanField(default=False)
    # Ruleset 2026.12 R13: a surety, not the importer, paid the IEEPA duty (user-set; default false).
    surety_paid = models.BooleanField(default=False, db_default=False)
    # ES-003 optional column "Liquidation Reason Code", read as a number (36 = refunded through CAPE,
    # ACE Entry Summary Query); null when the report has no such column or the cell is blank.
    liquidation_reason_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Cached sums over the tariff lines (rules.md: ieepa_duty).
    ieepa_duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total_duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    has_liquidation_columns = models.BooleanField(default=False)
    last_upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_constraint=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.UniqueConstraint(fields=["entry_number"], name="entry_unique_number")]
        # The importer's entries (an organisation's entries are those of the importers it sees).
        indexes = [models.Index(fields=["importer", "entry_number"], name="entries_entry_importer_number")]

    def __str__(self) -> str:
        return self.entry_number

    @property
    def entry_number_display(self) -> str:
        n = self.entry_number
        return f"{n[:3]}-{n[3:10]}-{n[10:]}" if len(n) == 11 else n


class TariffLine(models.Model):
    """One ES-003 row: a tariff ordinal of an entry-summary line (commodity HTS or a Chapter 99 line)."""

    # Bulk-load table (entries.ingest.staging merges millions of ES-003 lines at a time), so:
    # * no separate index on entry_id: the unique (entry, line_number, ordinal) index leads with it;
    # * no database FK constraint: PostgreSQL would queue one deferred foreign-key check per line and run
    #   them all at commit (seconds for a large report). Lines are only ever written by the merge, which
    #   joins them to their entry inside the same transaction, and deleting an entry still deletes its
    #   lines (Django's CASCADE runs in the ORM, not in the database).
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="lines", db_index=False, db_constraint=False)
    line_number = models.IntegerField()
    ordinal = models.IntegerField()
    hts = models.CharField(max_length=10)
    goods_value = models.DecimalField(**MONEY, null=True, blank=True)
    duty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    country_of_origin = models.CharField(max_length=2, blank=True)
    # Optional ES-003 columns, kept when the report has them (domain README §5); database defaults too, so
    # that a row written by plain SQL without them is still valid.
    country_of_export = models.CharField(max_length=2, blank=True, default="", db_default="")
    spi_code = models.CharField("SPI code", max_length=3, blank=True, default="", db_default="")
    manufacturer_id = models.CharField("manufacturer ID", max_length=15, blank=True, default="", db_default="")
    quantity = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    uom = models.CharField("unit of measure", max_length=4, blank=True, default="", db_default="")
    # HTS 9903.01.xx / 9903.02.xx with positive duty (domain README §8).
    is_ieepa = models.BooleanField(default=False)

    class Meta:
        ordering = ["line_number", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "line_number", "ordinal"], name="tariffline_unique_per_entry"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.line_number}.{self.ordinal} {self.hts}"

    @property
    def quantity_display(self) -> str:
        """The quantity as reported: 1,250.5 rather than 1250.5000; blank when the report had none."""
        return "" if self.quantity is None else f"{self.quantity.normalize():,f}"
