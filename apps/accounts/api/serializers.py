from rest_framework import serializers

from apps.accounts.models import AccessKey


class AccessKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = AccessKey
        fields = ["key_id", "status", "description", "created_at", "last_used_at"]
        read_only_fields = fields


class AccessKeyCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AccessKeyWithSecretSerializer(AccessKeySerializer):
    secret = serializers.SerializerMethodField(
        help_text="Shown only in the answer to create; Warden never shows it again."
    )

    class Meta(AccessKeySerializer.Meta):
        fields = [*AccessKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, access_key) -> str:
        return self.context["secret"]


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    tenant = serializers.CharField(allow_null=True, help_text="The tenant's name; null for platform superusers.")
    is_primary = serializers.BooleanField(help_text="Whether this is the tenant's primary account.")
    principal_name = serializers.CharField(help_text="The name the security statements use, e.g. ALIYUN$alice.")
    access_key = serializers.CharField(
        allow_null=True, help_text="The AccessKey id that signed this request; null for a session."
    )
