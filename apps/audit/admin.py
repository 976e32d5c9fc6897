from django.contrib import admin

from apps.audit.models import Event
from apps.core.admin import ReadOnlyAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only, and the database refuses changes anyway."""

    list_display = ("occurred_at", "tenant_id", "actor_name", "action", "project_name", "target_repr",
                    "decision", "channel", "chain_seq")
    list_filter = ("channel", "decision")
    search_fields = ("action", "actor_name", "project_name", "target_repr")
    date_hierarchy = "occurred_at"
