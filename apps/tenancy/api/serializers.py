"""Shapes of tenancy objects in the API. Serializers validate the form of input only; every
decision is made by apps.tenancy.services."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.tenancy.models import Environment, Membership, Project, Role, RoleType, TenantRoleAssignment, TenantRoleName
from apps.tenancy.roles import Capability

User = get_user_model()


class UserSerializer(serializers.ModelSerializer):
    """An account; never its password hash."""

    tenant = serializers.SlugRelatedField(slug_field="name", read_only=True)
    tenant_roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "tenant", "is_primary", "is_active", "tenant_roles",
                  "date_joined", "last_login"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tenant_roles(self, user) -> list[str]:
        roles = {assignment.role for assignment in user.tenant_roles.all()}
        if user.is_primary:
            roles.add(TenantRoleName.SUPER_ADMINISTRATOR)
        return sorted(roles)


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=63)
    password = serializers.CharField(write_only=True, style={"input_type": "password"}, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


class TenantRoleSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    granted_by = serializers.CharField(source="granted_by.username", read_only=True, default=None)

    class Meta:
        model = TenantRoleAssignment
        fields = ["id", "username", "role", "granted_by", "granted_at"]
        read_only_fields = fields


class TenantRoleAssignSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=63)
    role = serializers.ChoiceField(choices=TenantRoleName.choices)


class ProjectSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.name", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    prod_project = serializers.CharField(source="prod_project.name", read_only=True, default=None)
    dev_project = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "tenant", "owner", "environment", "description", "prod_project", "dev_project",
                  "security_version", "created_at", "capabilities"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_dev_project(self, project) -> str | None:
        try:
            return project.dev_project.name
        except Project.dev_project.RelatedObjectDoesNotExist:
            return None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Capability.choices)))
    def get_capabilities(self, project) -> list[str]:
        return sorted(self.context["capabilities"][project.pk])


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PROD)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    prod_project = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="Name of the prod project this dev project pairs with."
    )


class ProjectUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    tenant = serializers.CharField(source="user.tenant.name", read_only=True, default=None)
    is_primary = serializers.BooleanField(source="user.is_primary", read_only=True)
    added_by = serializers.CharField(source="added_by.username", read_only=True, default=None)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["username", "tenant", "is_primary", "is_active", "added_by", "added_at", "roles"]
        read_only_fields = fields

    def get_roles(self, membership) -> list[str]:
        return [assignment.role.name for assignment in membership.user.project_roles]


class UsernameSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=63)


class RoleSerializer(serializers.ModelSerializer):
    users = serializers.SerializerMethodField()

    class Meta:
        model = Role
        fields = ["id", "name", "kind", "role_type", "description", "privileges", "users", "created_at"]
        read_only_fields = fields

    def get_users(self, role) -> list[str]:
        return [assignment.user.username for assignment in role.assignments.all()]


class RoleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    role_type = serializers.ChoiceField(choices=RoleType.choices, default=RoleType.RESOURCE)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class RoleAssignmentSerializer(serializers.Serializer):
    role = serializers.CharField(read_only=True)
    username = serializers.CharField(read_only=True)
    granted_by = serializers.CharField(read_only=True, allow_null=True)
    granted_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, assignment):
        return {
            "role": assignment.role.name,
            "username": assignment.user.username,
            "granted_by": assignment.granted_by.username if assignment.granted_by_id else None,
            "granted_at": serializers.DateTimeField().to_representation(assignment.granted_at),
        }
