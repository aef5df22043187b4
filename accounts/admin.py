from django.contrib import admin

from accounts.models import AuditLog, Importer, ImporterGrant, Membership, Organization


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
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "organization", "action", "object_type", "object_id"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]
