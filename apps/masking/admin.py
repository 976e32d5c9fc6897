"""Read-only views for platform superusers: masking rules and unmask grants change through the
services, which check who is asking, bump the security version and audit the change. The
masking keys are not shown at all."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.masking.models import MaskingRule, UnmaskGrant


@admin.register(MaskingRule)
class MaskingRuleAdmin(ReadOnlyAdmin):
    list_display = ("name", "tenant", "project", "sensitive_type", "column", "algorithm", "enabled", "updated_at")
    list_filter = ("enabled", "algorithm")
    list_select_related = ("tenant", "project", "sensitive_type", "column__table")
    search_fields = ("name", "project__name", "sensitive_type__code", "column__name")


@admin.register(UnmaskGrant)
class UnmaskGrantAdmin(ReadOnlyAdmin):
    list_display = ("project", "table", "columns", "user", "role", "expires_at", "origin", "granted_at")
    list_filter = ("origin",)
    list_select_related = ("project", "table", "user", "role")
    search_fields = ("project__name", "table__name", "user__username", "role__name")
