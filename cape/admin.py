"""Admin for classification results (read-only: results come from the ruleset, never by hand)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from cape.models import Classification, ClassificationChange


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ("entry", "organization", "importer", "path", "deadline", "urgent", "deadline_passed", "ruleset", "as_of")
    list_filter = ("path", "urgent", "deadline_passed", "ruleset")
    search_fields = ("entry__entry_number",)
    raw_id_fields = ("entry", "organization", "importer")
    show_full_result_count = False  # a million rows: no COUNT(*) per page

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ClassificationChange)
class ClassificationChangeAdmin(admin.ModelAdmin):
    list_display = ("entry", "organization", "old_path", "new_path", "ruleset", "as_of", "at")
    list_filter = ("new_path", "ruleset")
    search_fields = ("entry__entry_number",)
    raw_id_fields = ("entry", "organization")
    show_full_result_count = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
