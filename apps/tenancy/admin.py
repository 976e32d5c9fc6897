"""Read-only views for platform superusers: tenants, projects, members and roles change
through the portal and the API, whose services check who is asking and audit the change."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, Tenant, TenantRoleAssignment


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ("name", "display_name", "created_at")
    search_fields = ("name", "display_name")


@admin.register(TenantRoleAssignment)
class TenantRoleAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "user", "role", "granted_by", "granted_at")
    list_filter = ("role",)
    list_select_related = ("tenant", "user", "granted_by")


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("name", "tenant", "environment", "prod_project", "owner", "security_version", "created_at")
    list_filter = ("environment",)
    list_select_related = ("tenant", "owner", "prod_project")
    search_fields = ("name", "description")


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("project", "user", "is_active", "added_by", "added_at", "removed_at")
    list_filter = ("is_active",)
    list_select_related = ("project", "user", "added_by")
    search_fields = ("project__name", "user__username")


@admin.register(Role)
class RoleAdmin(ReadOnlyAdmin):
    list_display = ("name", "project", "kind", "role_type", "created_at")
    list_filter = ("kind", "role_type")
    list_select_related = ("project",)
    search_fields = ("name", "project__name")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("role", "user", "granted_by", "granted_at")
    list_select_related = ("role__project", "user", "granted_by")
    search_fields = ("role__name", "user__username")
