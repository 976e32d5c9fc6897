from django.contrib import admin

from apps.audit.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, and the database refuses changes anyway."""

    list_display = ("occurred_at", "tenant_id", "actor_name", "action", "project_name", "target_repr",
                    "decision", "channel", "chain_seq")
    list_filter = ("channel", "decision")
    search_fields = ("action", "actor_name", "project_name", "target_repr")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
