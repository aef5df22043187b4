"""Admin for protests (read-only: drafts, filings and decisions go through protests.services, audited)."""

from __future__ import annotations

from django.contrib import admin

from protests.models import Protest, ProtestReason
from refundready.admin import ReadOnlyAdmin


@admin.register(Protest)
class ProtestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "organization", "importer", "status", "protest_number", "filed_on", "decision", "decided_on",
                    "deadline", "entry_count", "ieepa_duty")
    list_filter = ("status", "decision")
    search_fields = ("protest_number",)
    raw_id_fields = ("organization", "importer", "created_by")
    exclude = ("spreadsheet_xlsx", "spreadsheet_csv")


@admin.register(ProtestReason)
class ProtestReasonAdmin(ReadOnlyAdmin):
    list_display = ("organization", "updated_at")
