from django.contrib import admin
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from accounts.login import ThrottledAdminAuthenticationForm
from accounts.models import ApiToken, AuditLog, Importer, ImporterGrant, Membership, Organization
from refundready.admin import ReadOnlyAdmin

# /admin/login/ is behind the site's log-in lock-out (per username and per address).
admin.site.login_form = ThrottledAdminAuthenticationForm

# DRF's plaintext tokens are no longer used (accounts.ApiToken holds hashed ones): no admin page makes them.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Seen and revoked (deleted) here; made only by their user, on the API token page, where the key is shown once."""

    list_display = ["user", "prefix", "created_at", "expires_at", "last_used_at", "last_used_ip"]
    search_fields = ["user__username", "prefix"]
    exclude = ["key_hash"]
    readonly_fields = ["user", "prefix", "created_at", "expires_at", "last_used_at", "last_used_ip"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Importer)
class ImporterAdmin(admin.ModelAdmin):
    list_display = ["name", "ir_display", "owner", "status"]
    search_fields = ["name", "ir_number"]
    list_filter = ["status"]


@admin.register(ImporterGrant)
class ImporterGrantAdmin(admin.ModelAdmin):
    list_display = ["importer", "organization", "granted_at", "revoked_at"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """The audit log is evidence: nobody adds, edits or deletes a row, the admin included."""

    list_display = ["at", "user", "organization", "action", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["action", "object_id", "user__username"]
    show_full_result_count = False


from accounts.models import AccountApplication, Form5106Record, ReadinessState  # noqa: E402


@admin.register(Form5106Record)
class Form5106RecordAdmin(admin.ModelAdmin):
    list_display = ["importer", "company_name", "poc_email"]
    search_fields = ["company_name", "importer__ir_number"]


@admin.register(ReadinessState)
class ReadinessStateAdmin(admin.ModelAdmin):
    list_display = ["importer"]


@admin.register(AccountApplication)
class AccountApplicationAdmin(admin.ModelAdmin):
    """Applications in progress; the verification codes themselves are stored only as HMACs and not shown."""

    list_display = ["company_name", "status", "started_at"]
    exclude = ["token"]
    readonly_fields = [f.name for f in AccountApplication._meta.fields if f.name != "token"]
