from __future__ import annotations

from django.contrib import admin

from entries.models import Entry, TariffLine, Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["original_name", "organization", "status", "rows_read", "rows_total", "created_at"]
    list_filter = ["status"]
    search_fields = ["original_name", "organization__name", "sha256"]
    readonly_fields = ["file", "size", "sha256", "summary", "errors", "warnings", "error_message", "attempts",
                       "started_at", "finished_at", "rows_total", "rows_read"]


class TariffLineInline(admin.TabularInline):
    model = TariffLine
    extra = 0
    fields = ["line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "is_ieepa"]


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["entry_number", "importer", "entry_type", "entry_date", "liquidation_status", "ieepa_duty"]
    list_filter = ["liquidation_status", "entry_type"]
    search_fields = ["entry_number", "importer__ir_number", "importer__name"]
    raw_id_fields = ["importer", "last_upload"]
    inlines = [TariffLineInline]
