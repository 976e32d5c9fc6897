"""/api/v1/masking/algorithms and /preview, /api/v1/masking/rules (tenant-wide rules), and
/api/v1/projects/{project}/masking/rules and /unmask-grants.

Rules and grants are looked up among those the caller may see, so another tenant's answer
404; names in a request body (sensitive types, tables, columns, members, roles) are looked
up in the same scope, and one that is not there is a field error. Every write is one call of
``apps.masking.services``, which decides who may make it."""

from django.core.exceptions import ValidationError
from django.db.models import F
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.catalog.models import Column, SensitiveType
from apps.core.api import RestrictedViewSet
from apps.masking import selectors, services
from apps.masking.algorithms import ALGORITHMS
from apps.masking.api import serializers
from apps.masking.models import MaskingRule, UnmaskGrant
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.api.views import PROJECT_PARAMETER, ProjectScopedMixin
from apps.tenancy.selectors import member_list, role_list


def _validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _sensitive_type(user, code: str) -> SensitiveType:
    """The type with this code among those the caller sees, the tenant's own before a
    built-in one of the same code."""
    found = (SensitiveType.objects.restrict(user).filter(code=code.strip())
             .order_by(F("tenant_id").asc(nulls_last=True)).first())
    if found is None:
        raise ValidationError({"sensitive_type": f"No sensitive type with code {code!r}."})
    return found


def _table(project, name: str):
    table = warehouse_tables(project).filter(name__iexact=(name or "").strip()).first()
    if table is None:
        raise ValidationError({"table": f"No table named {name!r} in project {project.name}."})
    return table


def _column(project, table_name: str | None, column_name: str | None) -> Column:
    if not table_name:
        raise ValidationError({"table": "Name the column's table."})
    table = _table(project, table_name)
    column = Column.objects.live().filter(table=table, name__iexact=(column_name or "").strip()).first()
    if column is None:
        raise ValidationError({"column": f"{table.name} has no column {column_name!r}."})
    return column


@extend_schema(summary="List the masking algorithms and their parameters",
               responses=serializers.AlgorithmSerializer(many=True))
class AlgorithmViewSet(viewsets.ViewSet):
    def list(self, request, *args, **kwargs):
        return Response(serializers.AlgorithmSerializer(list(ALGORITHMS.values()), many=True).data)


class PreviewViewSet(viewsets.ViewSet):
    @extend_schema(summary="Mask sample values with an algorithm, as a rule would (your tenant's key)",
                   request=serializers.PreviewRequestSerializer, responses=serializers.PreviewSerializer)
    def create(self, request, *args, **kwargs):
        data = _validated(serializers.PreviewRequestSerializer, request.data)
        if request.user.tenant_id is None:
            raise ValidationError("Previews use a tenant's masking key, and your account belongs to no tenant.")
        masked = selectors.masking_preview(algorithm=data["algorithm"], params=data["params"],
                                           samples=data["samples"], data_type=data["data_type"],
                                           tenant=request.user.tenant_id)
        return Response({"masked": masked})


class RuleWritesMixin:
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # Rules are looked up in the readable scope for writes too, so a reader who may not
    # change one gets 403 with the reason rather than a puzzling 404.
    write_actions = frozenset()

    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        data = _validated(serializers.RuleUpdateSerializer, request.data)
        rule = services.masking_rule_update(actor=request.user, rule=rule, request=request, **data)
        return Response(self.get_serializer(rule).data)

    def destroy(self, request, *args, **kwargs):
        services.masking_rule_delete(actor=request.user, rule=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List your tenant's tenant-wide masking rules"),
    retrieve=extend_schema(summary="One tenant-wide masking rule"),
    create=extend_schema(summary="Mask a sensitive type in every project of the tenant (tenant administrators)",
                         request=serializers.TenantRuleCreateSerializer,
                         responses={201: serializers.MaskingRuleSerializer}),
    partial_update=extend_schema(summary="Change a tenant-wide rule", request=serializers.RuleUpdateSerializer,
                                 responses=serializers.MaskingRuleSerializer),
    destroy=extend_schema(summary="Delete a tenant-wide rule"),
)
class TenantMaskingRuleViewSet(RuleWritesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               RestrictedViewSet):
    queryset = MaskingRule.objects.all()
    serializer_class = serializers.MaskingRuleSerializer
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MaskingRule.objects.none()
        return selectors.masking_rule_list(user=self.request.user)

    def create(self, request, *args, **kwargs):
        data = dict(_validated(serializers.TenantRuleCreateSerializer, request.data))
        data["sensitive_type"] = _sensitive_type(request.user, data["sensitive_type"])
        rule = services.masking_rule_create(actor=request.user, request=request, **data)
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List a project's masking rules (for sensitive types and for columns)",
                       parameters=[PROJECT_PARAMETER]),
    retrieve=extend_schema(summary="One masking rule of the project", parameters=[PROJECT_PARAMETER]),
    create=extend_schema(summary="Mask a sensitive type in the project, or one column", parameters=[PROJECT_PARAMETER],
                         request=serializers.ProjectRuleCreateSerializer,
                         responses={201: serializers.MaskingRuleSerializer}),
    partial_update=extend_schema(summary="Change a masking rule of the project", parameters=[PROJECT_PARAMETER],
                                 request=serializers.RuleUpdateSerializer,
                                 responses=serializers.MaskingRuleSerializer),
    destroy=extend_schema(summary="Delete a masking rule of the project", parameters=[PROJECT_PARAMETER]),
)
class ProjectMaskingRuleViewSet(RuleWritesMixin, ProjectScopedMixin, mixins.ListModelMixin,
                                mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = MaskingRule.objects.all()
    serializer_class = serializers.MaskingRuleSerializer
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MaskingRule.objects.none()
        return selectors.masking_rule_list(user=self.request.user, project=self.project)

    def create(self, request, *args, **kwargs):
        data = dict(_validated(serializers.ProjectRuleCreateSerializer, request.data))
        table_name, column_name, code = data.pop("table"), data.pop("column"), data.pop("sensitive_type")
        if code and (table_name or column_name):
            raise ValidationError({"sensitive_type": "Give a sensitive type or a table and column, not both."})
        if code:
            data["sensitive_type"] = _sensitive_type(request.user, code)
        elif column_name:
            data["column"] = _column(self.project, table_name, column_name)
        rule = services.masking_rule_create(actor=request.user, project=self.project, request=request, **data)
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List a project's unmask whitelist", parameters=[PROJECT_PARAMETER]),
    retrieve=extend_schema(summary="One unmask grant", parameters=[PROJECT_PARAMETER]),
    create=extend_schema(summary="Let a member or a role see columns of a table in clear",
                         parameters=[PROJECT_PARAMETER], request=serializers.UnmaskGrantCreateSerializer,
                         responses={201: serializers.UnmaskGrantSerializer}),
)
class UnmaskGrantViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = UnmaskGrant.objects.all()
    serializer_class = serializers.UnmaskGrantSerializer
    ordering_fields = ["granted_at", "expires_at"]
    http_method_names = ["get", "post", "head", "options"]
    write_actions = frozenset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return UnmaskGrant.objects.none()
        return selectors.unmask_grant_list(user=self.request.user, project=self.project)

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.UnmaskGrantCreateSerializer, request.data)
        subject = {"user": None, "role": None}
        if data["user"]:
            membership = member_list(user=request.user, project=self.project).filter(
                user__username=data["user"]).first()
            if membership is None:
                raise ValidationError({"user": f"No member of {self.project.name} is called {data['user']}."})
            subject["user"] = membership.user
        if data["role"]:
            subject["role"] = role_list(user=request.user, project=self.project).filter(
                name__iexact=data["role"]).first()
            if subject["role"] is None:
                raise ValidationError({"role": f"No role named {data['role']} in {self.project.name}."})
        grant = services.unmask_grant_create(
            actor=request.user, project=self.project, table=_table(self.project, data["table"]),
            columns=data["columns"], expires_at=data["expires_at"], reason=data["reason"], origin="api",
            request=request, **subject)
        return Response(self.get_serializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an unmask grant", parameters=[PROJECT_PARAMETER], request=None,
                   responses={204: None})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def revoke(self, request, *args, **kwargs):
        services.unmask_grant_revoke(actor=request.user, grant=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
