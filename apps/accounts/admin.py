"""Django admin for platform superusers. AccessKeys are read-only here (their changes go
through the services, which audit them); account edits made here are audited too."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction

from apps import audit
from apps.accounts.models import AccessKey, User
from apps.core.admin import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "tenant", "is_primary", "is_active", "is_superuser", "last_login")
    list_filter = ("is_active", "is_primary", "is_superuser")
    list_select_related = ("tenant",)
    readonly_fields = ("tenant", "is_primary", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Tenant", {"fields": ("tenant", "is_primary")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit.record(request.user, "user.admin_change" if change else "user.admin_create", obj,
                         request=request, details={"fields": sorted(form.changed_data)})

    def has_delete_permission(self, request, obj=None):
        # Users are disabled, not deleted: audit events and grants keep referring to them.
        return False


@admin.register(AccessKey)
class AccessKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "user", "status", "description", "created_at", "last_used_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("key_id", "user__username")
    exclude = ("secret_encrypted",)
