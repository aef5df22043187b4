"""Admin: the account number is never shown or editable here, only its masked last four digits."""

from __future__ import annotations

from django.contrib import admin

from ach.models import AchEnrollment, AchRejection, NotifyParty


@admin.register(AchEnrollment)
class AchEnrollmentAdmin(admin.ModelAdmin):
    list_display = ["importer", "status", "bank_name", "routing_number", "account_masked", "entered_on", "confirmed_on"]
    list_filter = ["status"]
    search_fields = ["importer__name", "bank_name"]
    # The ciphertext is excluded too: bank details change only through the service (validation, audit).
    exclude = ["account_number_encrypted", "account_last4"]
    readonly_fields = ["importer", "bank_name", "routing_number", "account_masked", "account_type", "account_holder", "evidence", "evidence_name"]

    @admin.display(description="Account number")
    def account_masked(self, obj: AchEnrollment) -> str:
        return obj.account_masked


@admin.register(NotifyParty)
class NotifyPartyAdmin(admin.ModelAdmin):
    list_display = ["importer", "name", "ir_display", "on_ace_profile", "in_box_28", "ach_enrolled", "receives_refund"]


@admin.register(AchRejection)
class AchRejectionAdmin(admin.ModelAdmin):
    list_display = ["importer", "rejected_on", "amount", "source", "reference", "resolved_on"]
    list_filter = ["source"]
    search_fields = ["importer__name", "reference"]
