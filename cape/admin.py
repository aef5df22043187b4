"""Admin for classification results (read-only: results come from the ruleset, never by hand)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from cape.models import Classification, ClassificationChange, Declaration, DeclarationBuildJob, RefundEvent
from refundready.admin import ReadOnlyAdmin


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ("entry", "importer", "path", "deadline", "urgent", "deadline_passed", "ruleset", "as_of")
    list_filter = ("path", "urgent", "deadline_passed", "ruleset")
    search_fields = ("entry__entry_number",)
    raw_id_fields = ("entry", "importer")
    show_full_result_count = False  # a million rows: no COUNT(*) per page

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ClassificationChange)
class ClassificationChangeAdmin(admin.ModelAdmin):
    list_display = ("entry", "old_path", "new_path", "ruleset", "as_of", "at")
    list_filter = ("new_path", "ruleset")
    search_fields = ("entry__entry_number",)
    raw_id_fields = ("entry",)
    show_full_result_count = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyAdmin):
    """CAPE declarations as built, exported and answered by CBP; the file itself is downloaded from the
    product's declaration page (where its access is checked), not from here."""

    list_display = ("name", "organization", "importer", "status", "entry_count", "ieepa_duty", "exported_at",
                    "submitted_on", "claim_number", "accepted_on")
    list_filter = ("status",)
    search_fields = ("name", "claim_number")
    exclude = ("file_bytes",)
    raw_id_fields = ("organization", "importer", "refiled_from", "created_by")
    show_full_result_count = False


@admin.register(DeclarationBuildJob)
class DeclarationBuildJobAdmin(ReadOnlyAdmin):
    list_display = ("pk", "organization", "status", "created_at")
    list_filter = ("status",)
    show_full_result_count = False


@admin.register(RefundEvent)
class RefundEventAdmin(ReadOnlyAdmin):
    list_display = ("importer", "kind", "event_date", "amount", "source", "reference")
    list_filter = ("kind", "source")
    raw_id_fields = ("organization", "importer", "entry", "declaration")
    show_full_result_count = False
