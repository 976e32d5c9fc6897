"""Read-only views for platform superusers: catalog changes go through the services and
harvests, which check who is asking and audit the change."""

from django.contrib import admin

from apps.catalog.models import Column, DataSource, HarvestRun, SensitiveType, Table
from apps.core.admin import ReadOnlyAdmin


@admin.register(DataSource)
class DataSourceAdmin(ReadOnlyAdmin):
    list_display = ("name", "project", "kind", "host", "port", "database", "harvest_schedule",
                    "last_harvest_status", "last_harvest_at")
    list_filter = ("kind", "harvest_schedule", "last_harvest_status")
    list_select_related = ("project",)
    search_fields = ("name", "project__name", "host", "database")
    exclude = ("password_encrypted",)


@admin.register(Table)
class TableAdmin(ReadOnlyAdmin):
    list_display = ("name", "schema", "data_source", "kind", "row_estimate", "is_dropped", "last_seen_at")
    list_filter = ("kind", "is_dropped")
    list_select_related = ("data_source__project",)
    search_fields = ("name", "schema", "comment", "description")


@admin.register(Column)
class ColumnAdmin(ReadOnlyAdmin):
    list_display = ("name", "table", "ordinal", "data_type", "sensitivity_level", "classification", "is_dropped")
    list_filter = ("is_dropped", "sensitivity_level")
    list_select_related = ("table", "classification")
    search_fields = ("name", "table__name", "comment")


@admin.register(SensitiveType)
class SensitiveTypeAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "category", "default_level", "tenant")
    list_filter = ("category",)
    search_fields = ("name", "code")


@admin.register(HarvestRun)
class HarvestRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "data_source", "status", "progress", "requested_by", "created_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("data_source__project", "requested_by")
