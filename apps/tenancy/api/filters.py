import django_filters
from django.contrib.auth import get_user_model

from apps.tenancy.models import Environment, Membership, Project, Role, RoleKind, TenantRoleAssignment, TenantRoleName

User = get_user_model()


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(lookup_expr="icontains")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ["username", "is_active"]


class TenantRoleFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(field_name="user__username")
    role = django_filters.ChoiceFilter(choices=TenantRoleName.choices)

    class Meta:
        model = TenantRoleAssignment
        fields = ["username", "role"]


class ProjectFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    environment = django_filters.ChoiceFilter(choices=Environment.choices)

    class Meta:
        model = Project
        fields = ["name", "environment"]


class MemberFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ["username"]


class RoleFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    kind = django_filters.ChoiceFilter(choices=RoleKind.choices)
    username = django_filters.CharFilter(field_name="assignments__user__username", distinct=True,
                                         label="Roles held by this user")

    class Meta:
        model = Role
        fields = ["name", "kind", "username"]
