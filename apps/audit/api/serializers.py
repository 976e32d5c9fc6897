from rest_framework import serializers

from apps.audit.models import Event


class EventSerializer(serializers.ModelSerializer):
    sealed = serializers.SerializerMethodField(help_text="Whether the event has its place in the hash chain.")

    class Meta:
        model = Event
        fields = [
            "id", "occurred_at", "tenant_id", "project_id", "project_name", "actor_id", "actor_name",
            "source_ip", "channel", "action", "target_type", "target_id", "target_repr", "decision",
            "details", "sealed", "chain_seq", "prev_hash", "hash", "sealed_at",
        ]
        read_only_fields = fields

    def get_sealed(self, event: Event) -> bool:
        return event.chain_seq is not None


class ChainBreakSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()
    chain_seq = serializers.IntegerField()
    problem = serializers.ChoiceField(choices=["sequence", "hash", "prev_hash"])
    expected = serializers.CharField()
    found = serializers.CharField()
    message = serializers.CharField()


class ChainReportSerializer(serializers.Serializer):
    tenant_id = serializers.IntegerField(allow_null=True)
    tenant_name = serializers.CharField()
    ok = serializers.BooleanField()
    sealed_events = serializers.IntegerField()
    head_seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    first_break = ChainBreakSerializer(allow_null=True)
    unsealed_events = serializers.IntegerField()
    oldest_unsealed_at = serializers.DateTimeField(allow_null=True)


class VerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="False when any chain has a broken link. Unsealed events never make it false.")
    checked_at = serializers.DateTimeField()
    unsealed_events = serializers.IntegerField()
    oldest_unsealed_at = serializers.DateTimeField(allow_null=True)
    chains = ChainReportSerializer(many=True)
