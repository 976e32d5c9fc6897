"""Shapes of masking rules, unmask grants, algorithms and previews in the API. Serializers
check the form of input only; every decision is made by ``apps.masking.services``."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.masking.models import MaskingRule, UnmaskGrant
from apps.masking.selectors import MAX_PREVIEW_SAMPLES


class ParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    choices = serializers.JSONField(allow_null=True)
    minimum = serializers.JSONField(allow_null=True)
    maximum = serializers.JSONField(allow_null=True)
    help = serializers.CharField()


class AlgorithmSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    applies_to = serializers.SerializerMethodField()
    parameters = ParameterSerializer(many=True)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_applies_to(self, algorithm) -> list[str]:
        return sorted(algorithm.applies_to)


class PreviewRequestSerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)
    samples = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                    max_length=MAX_PREVIEW_SAMPLES)
    data_type = serializers.CharField(required=False, default="text", max_length=255)


class PreviewSerializer(serializers.Serializer):
    masked = serializers.ListField(child=serializers.CharField(allow_null=True))


class MaskingRuleSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField()
    project = serializers.SlugRelatedField(slug_field="name", read_only=True)
    sensitive_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    table = serializers.CharField(source="column.table.name", read_only=True, default=None)
    column = serializers.CharField(source="column.name", read_only=True, default=None)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MaskingRule
        fields = ["id", "name", "scope", "project", "sensitive_type", "table", "column", "algorithm", "params",
                  "enabled", "description", "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    def get_scope(self, rule) -> str:
        if rule.column_id is not None:
            return "column"
        return "tenant" if rule.project_id is None else "project"


class TenantRuleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    sensitive_type = serializers.CharField(help_text="The sensitive type's code, e.g. mobile_phone.")
    algorithm = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class ProjectRuleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    sensitive_type = serializers.CharField(required=False, allow_null=True, default=None,
                                           help_text="A sensitive type's code, for a rule on every column of "
                                                     "that type in the project; or give table and column.")
    table = serializers.CharField(required=False, allow_null=True, default=None)
    column = serializers.CharField(required=False, allow_null=True, default=None)
    algorithm = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class RuleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    algorithm = serializers.CharField(required=False)
    params = serializers.DictField(required=False)
    enabled = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=300)


class UnmaskGrantSerializer(serializers.ModelSerializer):
    table = serializers.CharField(source="table.name", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    role = serializers.SlugRelatedField(slug_field="name", read_only=True)
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = UnmaskGrant
        fields = ["id", "table", "columns", "user", "role", "expires_at", "reason", "origin", "granted_by",
                  "granted_at"]
        read_only_fields = fields


class UnmaskGrantCreateSerializer(serializers.Serializer):
    table = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                    help_text="Columns seen in clear; empty or omitted: every column.")
    user = serializers.CharField(required=False, allow_null=True, default=None, help_text="A member's username.")
    role = serializers.CharField(required=False, allow_null=True, default=None, help_text="A role of the project.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When the grant ends; null: until revoked.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
