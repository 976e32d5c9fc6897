"""/api/v1/projects/{project}/row-filters: a project's row filters (``masking.row_filters``).

The project is found among those the caller may see (404 otherwise), and so is each filter;
anyone who sees the project reads its filters, those who manage its security write them
(403 for other members, before their input is read), each write one service call."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from apps.core.api import RestrictedViewSet
from apps.masking import row_filters
from apps.masking.models import RowFilter
from apps.tenancy.api.views import PROJECT_PARAMETER, ProjectScopedMixin
from apps.tenancy.roles import Capability
from apps.tenancy.services import require_capability


class RowFilterSerializer(serializers.ModelSerializer):
    table = serializers.CharField(source="table.name", read_only=True)
    subject_kind = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField(help_text="The user's principal or the role's name; null for "
                                                          "everyone.")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = RowFilter
        fields = ["id", "name", "table", "subject_kind", "subject", "expression", "enabled", "description",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=row_filters.SubjectKind.choices))
    def get_subject_kind(self, row_filter) -> str:
        return row_filters.subject_kind(row_filter)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_subject(self, row_filter) -> str | None:
        return row_filters.subject_name(row_filter)


class RowFilterCreateSerializer(serializers.Serializer):
    table = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=63)
    subject_kind = serializers.ChoiceField(choices=row_filters.SubjectKind.choices)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                    help_text="A user (RAM$tenant:user, ALIYUN$account or a user name) or a role "
                                              "of the project; empty for everyone.")
    expression = serializers.CharField(max_length=row_filters.MAX_EXPRESSION_LENGTH, trim_whitespace=False,
                                       help_text="One SQL condition over the table's columns: region = 'EU'.")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RowFilterUpdateSerializer(serializers.Serializer):
    expression = serializers.CharField(max_length=row_filters.MAX_EXPRESSION_LENGTH, trim_whitespace=False,
                                       required=False)
    enabled = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    subject_kind = serializers.ChoiceField(choices=row_filters.SubjectKind.choices, required=False)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The row filter's id.")


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(summary="List a project's row filters", parameters=[PROJECT_PARAMETER]),
    retrieve=extend_schema(summary="One row filter", parameters=[PROJECT_PARAMETER, ID_PARAMETER]),
    create=extend_schema(summary="Create a row filter on a table of the project", parameters=[PROJECT_PARAMETER],
                         request=RowFilterCreateSerializer, responses={201: RowFilterSerializer}),
    partial_update=extend_schema(summary="Change a row filter's expression, subject, description or state",
                                 parameters=[PROJECT_PARAMETER, ID_PARAMETER], request=RowFilterUpdateSerializer,
                                 responses=RowFilterSerializer),
    update=extend_schema(summary="Change a row filter (fields left out stay as they are)",
                         parameters=[PROJECT_PARAMETER, ID_PARAMETER], request=RowFilterUpdateSerializer,
                         responses=RowFilterSerializer),
    destroy=extend_schema(summary="Delete a row filter", parameters=[PROJECT_PARAMETER, ID_PARAMETER]),
)
class RowFilterViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = RowFilter.objects.all()
    serializer_class = RowFilterSerializer
    ordering_fields = ["name", "created_at", "updated_at"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RowFilter.objects.none()
        return row_filters.row_filter_list(user=self.request.user, project=self.project)

    def _respond(self, row_filter: RowFilter, status_code=status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=row_filter.pk)).data, status=status_code)

    def _require_manager(self) -> None:
        # Before the input is read: a member who may not write filters is told so, whatever they sent.
        require_capability(self.request.user, self.project, Capability.MANAGE_SECURITY)

    def create(self, request, *args, **kwargs):
        self._require_manager()
        data = _validated(RowFilterCreateSerializer, request.data)
        project = self.project
        subject = row_filters.subject_resolve(project, data["subject_kind"], data["subject"])
        row_filter = row_filters.row_filter_create(
            actor=request.user, project=project, table=row_filters.row_filter_table(project, data["table"]),
            name=data["name"], expression=data["expression"], user=subject.user, role=subject.role,
            everyone=subject.everyone, description=data["description"], request=request)
        return self._respond(row_filter, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        row_filter = self.get_object()
        self._require_manager()
        data = _validated(RowFilterUpdateSerializer, request.data)
        subject = None
        if "subject_kind" in data:
            subject = row_filters.subject_resolve(self.project, data["subject_kind"], data["subject"])
        row_filters.row_filter_update(actor=request.user, row_filter=row_filter, expression=data.get("expression"),
                                      enabled=data.get("enabled"), description=data.get("description"),
                                      subject=subject, request=request)
        return self._respond(row_filter)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        row_filters.row_filter_delete(actor=request.user, row_filter=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
