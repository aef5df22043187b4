"""Admin: read-only. The account number is never shown here, only its masked last four digits; every
change goes through the product's pages and services, where it is validated and audited."""

from __future__ import annotations

from django.contrib import admin

from ach.models import AchEnrollment, AchRejection, NotifyParty
from refundready.admin import ReadOnlyAdmin


@admin.register(AchEnrollment)
class AchEnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["importer", "status", "bank_name", "routing_number", "account_masked", "entered_on", "confirmed_on"]
    list_filter = ["status"]
    search_fields = ["importer__name", "bank_name"]
    # The ciphertext is excluded too.
    exclude = ["account_number_encrypted", "account_last4"]
    readonly_fields = ["account_masked"]

    @admin.display(description="Account number")
    def account_masked(self, obj: AchEnrollment) -> str:
        return obj.account_masked


@admin.register(NotifyParty)
class NotifyPartyAdmin(ReadOnlyAdmin):
    list_display = ["importer", "name", "ir_display", "on_ace_profile", "in_box_28", "ach_enrolled", "receives_refund"]


@admin.register(AchRejection)
class AchRejectionAdmin(ReadOnlyAdmin):
    list_display = ["importer", "rejected_on", "amount", "source", "reference", "resolved_on"]
    list_filter = ["source"]
    search_fields = ["importer__name", "reference"]
