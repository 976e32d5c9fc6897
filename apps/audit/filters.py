import django_filters

from apps.audit.models import Channel, Decision, Event


class EventFilter(django_filters.FilterSet):
    """The audit log's filters, shared by the API and the web page. Names are matched as
    recorded on the event, so an event still filters by the name its actor had then."""

    action = django_filters.CharFilter(field_name="action", label="Action", help_text="Exact action, e.g. project.create.")
    actor = django_filters.CharFilter(field_name="actor_name", label="Actor", help_text="The actor's username.")
    project = django_filters.CharFilter(field_name="project_name", label="Project", help_text="The project's name.")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    decision = django_filters.ChoiceFilter(choices=Decision.choices)
    target_type = django_filters.CharFilter(help_text="e.g. tenancy.project, accounts.user.")
    since = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Since (UTC)", help_text="Events at or after this time (ISO 8601)."
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Until (UTC)", help_text="Events before this time (ISO 8601)."
    )

    class Meta:
        model = Event
        fields = ["action", "actor", "project", "channel", "decision", "target_type", "since", "until"]
