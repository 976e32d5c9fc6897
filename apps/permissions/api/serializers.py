from rest_framework import serializers

from apps.permissions.decision import NETWORKS
from apps.permissions.models import MAX_LEVEL


class AccessCheckSerializer(serializers.Serializer):
    principal = serializers.CharField(max_length=300, help_text="ALIYUN$name or RAM$tenant:name.")
    action = serializers.CharField(max_length=32, help_text="A MaxCompute action: Select, Update, Describe, ...")
    object_type = serializers.CharField(max_length=16, default="table")
    object = serializers.CharField(max_length=255, help_text="The object's name in the project.")
    columns = serializers.ListField(child=serializers.CharField(max_length=128), default=list, max_length=2000)
    source_ip = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)
    time = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                     help_text="When the access happens (default: now).")
    task_type = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    network = serializers.ChoiceField(choices=NETWORKS, default="ip")
    destination_project = serializers.CharField(max_length=63, required=False, allow_null=True, default=None)
    via_project = serializers.CharField(max_length=63, required=False, allow_null=True, default=None)
    read_level = serializers.IntegerField(min_value=0, max_value=MAX_LEVEL, required=False, allow_null=True,
                                          default=None)


class TraceStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    outcome = serializers.CharField()
    detail = serializers.CharField()
    rule = serializers.JSONField(allow_null=True)


class DecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    step = serializers.CharField(help_text="The step that decided.")
    reason = serializers.CharField()
    denied_columns = serializers.ListField(child=serializers.CharField())
    trace = TraceStepSerializer(many=True)


class SecurityVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    actor = serializers.CharField(source="actor.principal_name", default=None, allow_null=True,
                                  help_text="Who made the change (null: the system, or a deleted account).")
    summary = serializers.CharField(help_text="The change in a line, as a statement.")
    created_at = serializers.DateTimeField()
    added_count = serializers.SerializerMethodField(help_text="How many facts the change added.")
    removed_count = serializers.SerializerMethodField(help_text="How many facts the change removed.")

    def get_added_count(self, version) -> int:
        return len(version.added)

    def get_removed_count(self, version) -> int:
        return len(version.removed)


class SecurityVersionDetailSerializer(SecurityVersionSerializer):
    added = serializers.ListField(child=serializers.CharField(), source="added_lines",
                                  help_text="What the change added, one statement-like line each.")
    removed = serializers.ListField(child=serializers.CharField(), source="removed_lines")


class VersionsDiffQuerySerializer(serializers.Serializer):
    from_ = serializers.IntegerField(min_value=1, help_text="The older version.")
    to = serializers.IntegerField(min_value=1, help_text="The newer version.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class VersionsDiffSerializer(serializers.Serializer):
    from_ = serializers.IntegerField()
    to = serializers.IntegerField()
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class RollbackRequestSerializer(serializers.Serializer):
    preview = serializers.BooleanField(default=False, help_text="Answer the impact report and change nothing.")


class RollbackResultSerializer(serializers.Serializer):
    target = serializers.IntegerField(help_text="The version rolled back to.")
    version = serializers.IntegerField(allow_null=True, help_text="The version the rollback made (null: the "
                                                                  "state already was that version's).")
    added = serializers.DictField(child=serializers.IntegerField(), help_text="Facts restored, by kind.")
    removed = serializers.DictField(child=serializers.IntegerField(), help_text="Facts removed, by kind.")
    skipped = serializers.ListField(child=serializers.CharField(),
                                    help_text="Facts that could not be applied, and why.")


class ImpactEntrySerializer(serializers.Serializer):
    principal = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    old_step = serializers.CharField(help_text="The step that decided before the change.")
    new_step = serializers.CharField(help_text="The step that would decide after it.")
    new_reason = serializers.CharField()


class ImpactReportSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField(), help_text="The facts the change would add.")
    removed = serializers.ListField(child=serializers.CharField(), help_text="The facts it would remove.")
    replayed = serializers.IntegerField(help_text="Distinct recent access requests decided again.")
    gains = ImpactEntrySerializer(many=True, help_text="Requests denied now and allowed after the change.")
    losses = ImpactEntrySerializer(many=True, help_text="Requests allowed now and denied after the change.")


class StatementSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=100_000, allow_blank=True, trim_whitespace=False,
                                      help_text="One MaxCompute security statement; the trailing ';' is optional.")
    preview = serializers.BooleanField(default=False, help_text="Change nothing: answer who would gain and who "
                                                                "would lose access if the statement ran.")


class StatementResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    output = serializers.CharField(required=False, help_text="What the statement printed (on success).")
    error = serializers.CharField(required=False, help_text="Why it failed (on failure).")
    position = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Where a syntax error is (0-based); null for other errors.")
    preview = ImpactReportSerializer(required=False, help_text="With preview: the impact report.")


class PortalPermissionSerializer(serializers.Serializer):
    permission = serializers.ChoiceField(choices=["audit_project", "approve_access"])
    username = serializers.CharField(max_length=63)
    table = serializers.CharField(max_length=128, required=False, allow_null=True, default=None,
                                  help_text="For approve_access: the table of the project.")
