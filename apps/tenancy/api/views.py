"""/api/v1/users, /tenant-roles, /projects and a project's members and roles.

Querysets are scoped by RestrictedViewSet; nested endpoints first find the project through
``selectors.project_get``, so an unknown or another tenant's project is 404 everywhere below
it. Every write calls one service with the acting user."""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api import RestrictedViewSet
from apps.tenancy import selectors, services
from apps.tenancy.api import filters, serializers
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, TenantRoleAssignment

User = get_user_model()

READ_AND_WRITE = ["get", "post", "patch", "delete", "head", "options"]


def _validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _member_candidate(project: Project, username: str, *, field: str = "username"):
    try:
        return selectors.member_candidate_get(project=project, username=username)
    except User.DoesNotExist:
        raise ValidationError({field: [f"No account named '{username}' can be added to {project.name}."]}) from None


@extend_schema_view(
    list=extend_schema(summary="List the accounts of your tenant"),
    retrieve=extend_schema(summary="One account of your tenant"),
    create=extend_schema(summary="Create a sub-account (tenant owner and administrators)",
                         request=serializers.UserCreateSerializer, responses={201: serializers.UserSerializer}),
    partial_update=extend_schema(summary="Enable or disable a sub-account",
                                 request=serializers.UserUpdateSerializer, responses=serializers.UserSerializer),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, RestrictedViewSet):
    queryset = User.objects.all()
    serializer_class = serializers.UserSerializer
    filterset_class = filters.UserFilter
    ordering_fields = ["username", "date_joined", "last_login"]
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("tenant").prefetch_related("tenant_roles").order_by("username")

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.UserCreateSerializer, request.data)
        user = services.subaccount_create(actor=request.user, request=request, **data)
        user = self.get_queryset().get(pk=user.pk)
        return Response(self.get_serializer(user).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        user = self.get_object()
        data = _validated(serializers.UserUpdateSerializer, request.data)
        services.subaccount_set_active(actor=request.user, user=user, is_active=data["is_active"], request=request)
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="List tenant role assignments"),
    create=extend_schema(summary="Assign a tenant role", request=serializers.TenantRoleAssignSerializer,
                         responses={201: serializers.TenantRoleSerializer}),
    destroy=extend_schema(summary="Remove a tenant role assignment"),
)
class TenantRoleViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                        RestrictedViewSet):
    queryset = TenantRoleAssignment.objects.all()
    serializer_class = serializers.TenantRoleSerializer
    filterset_class = filters.TenantRoleFilter
    ordering_fields = ["granted_at", "role"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("user", "granted_by").order_by("user__username", "role")

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.TenantRoleAssignSerializer, request.data)
        try:
            user = selectors.user_get(user=request.user, username=data["username"])
        except User.DoesNotExist:
            raise ValidationError({"username": [f"No account named '{data['username']}' in your tenant."]}) from None
        assignment = services.tenant_role_assign(actor=request.user, user=user, role=data["role"], request=request)
        return Response(self.get_serializer(assignment).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.tenant_role_unassign(actor=request.user, assignment=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List the projects you may see"),
    retrieve=extend_schema(summary="One project, with your capabilities in it"),
    create=extend_schema(summary="Create a project (tenant owner and administrators)",
                         request=serializers.ProjectCreateSerializer, responses={201: serializers.ProjectSerializer}),
    partial_update=extend_schema(summary="Change a project's description",
                                 request=serializers.ProjectUpdateSerializer, responses=serializers.ProjectSerializer),
)
class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, RestrictedViewSet):
    queryset = Project.objects.all()
    serializer_class = serializers.ProjectSerializer
    filterset_class = filters.ProjectFilter
    ordering_fields = ["name", "created_at", "environment"]
    lookup_field = "name"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("tenant", "owner", "prod_project", "dev_project")

    def _respond(self, projects, *, many=False, status_code=status.HTTP_200_OK):
        items = projects if many else [projects]
        context = self.get_serializer_context()
        context["capabilities"] = selectors.project_capabilities_map(self.request.user, items)
        serializer = self.get_serializer_class()(projects, many=many, context=context)
        return serializer.data if many else Response(serializer.data, status=status_code)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        if page is not None:
            return self.get_paginated_response(self._respond(page, many=True))
        return Response(self._respond(list(queryset), many=True))

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.ProjectCreateSerializer, request.data)
        prod_project = None
        if data["prod_project"]:
            try:
                prod_project = selectors.project_get(user=request.user, name=data["prod_project"])
            except Project.DoesNotExist:
                raise ValidationError({"prod_project": [f"No project named '{data['prod_project']}'."]}) from None
        project = services.project_create(
            actor=request.user, name=data["name"], environment=data["environment"],
            description=data["description"], prod_project=prod_project, request=request,
        )
        return self._respond(self.get_queryset().get(pk=project.pk), status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        project = self.get_object()
        data = _validated(serializers.ProjectUpdateSerializer, request.data)
        services.project_update(actor=request.user, project=project, description=data["description"], request=request)
        return self._respond(self.get_queryset().get(pk=project.pk))


PROJECT_PARAMETER = OpenApiParameter("project_name", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="The project's name.")


class ProjectScopedMixin:
    """Finds the project named in the URL among those the caller may see (404 otherwise)."""

    _project = None

    @property
    def project(self) -> Project:
        if self._project is None:
            try:
                self._project = selectors.project_get(user=self.request.user, name=self.kwargs["project_name"])
            except Project.DoesNotExist:
                raise Http404 from None
        return self._project


@extend_schema_view(
    list=extend_schema(summary="List a project's members", parameters=[PROJECT_PARAMETER]),
    create=extend_schema(summary="Add a member", parameters=[PROJECT_PARAMETER],
                         request=serializers.UsernameSerializer, responses={201: serializers.MemberSerializer}),
    destroy=extend_schema(summary="Remove a member (their grants are kept for a later re-add)",
                          parameters=[PROJECT_PARAMETER]),
)
class MemberViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                    RestrictedViewSet):
    queryset = Membership.objects.all()
    serializer_class = serializers.MemberSerializer
    filterset_class = filters.MemberFilter
    ordering_fields = ["added_at"]
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.member_list(user=self.request.user, project=self.project)

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.UsernameSerializer, request.data)
        user = _member_candidate(self.project, data["username"])
        services.member_add(actor=request.user, project=self.project, user=user, request=request)
        membership = self.get_queryset().get(user=user)
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.member_remove(actor=request.user, membership=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


USERNAME_PARAMETER = OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(summary="List a project's roles and who holds them", parameters=[PROJECT_PARAMETER]),
    retrieve=extend_schema(summary="One role and who holds it", parameters=[PROJECT_PARAMETER]),
    create=extend_schema(summary="Create a custom role", parameters=[PROJECT_PARAMETER],
                         request=serializers.RoleCreateSerializer, responses={201: serializers.RoleSerializer}),
    destroy=extend_schema(summary="Drop a custom role that nobody holds", parameters=[PROJECT_PARAMETER]),
)
class RoleViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = Role.objects.all()
    serializer_class = serializers.RoleSerializer
    filterset_class = filters.RoleFilter
    ordering_fields = ["name", "kind", "created_at"]
    lookup_field = "name"
    lookup_url_kwarg = "role"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Role.objects.none()
        return selectors.role_list(user=self.request.user, project=self.project)

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.RoleCreateSerializer, request.data)
        role = services.role_create(actor=request.user, project=self.project, request=request, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=role.pk)).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.role_drop(actor=request.user, role=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Assign the role to a member", parameters=[PROJECT_PARAMETER],
                   request=serializers.UsernameSerializer, responses={201: serializers.RoleAssignmentSerializer})
    @action(detail=True, methods=["post"], url_path="assignments", filter_backends=[], pagination_class=None)
    def assign(self, request, *args, **kwargs):
        role = self.get_object()
        data = _validated(serializers.UsernameSerializer, request.data)
        user = _member_candidate(self.project, data["username"])
        assignment = services.role_assign(actor=request.user, role=role, user=user, request=request)
        return Response(serializers.RoleAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Take the role away from a user", parameters=[PROJECT_PARAMETER, USERNAME_PARAMETER],
                   request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="assignments/(?P<username>[^/]+)", filter_backends=[],
            pagination_class=None)
    def unassign(self, request, *args, **kwargs):
        role = self.get_object()
        try:
            assignment = selectors.role_assignment_get(user=request.user, role=role, username=kwargs["username"])
        except RoleAssignment.DoesNotExist:
            raise Http404 from None
        services.role_unassign(actor=request.user, assignment=assignment, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
