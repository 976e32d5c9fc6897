"""/api/v1/catalog/data-sources, /harvest-runs, /tables, /columns and /lineage.

Querysets are scoped by RestrictedViewSet (``restrict(user, action)``): another tenant's
source, table, column or edge answers 404 exactly like a missing one. Every write calls one
service with the acting user; the services decide who may."""

import django_filters
from django.db.models import Prefetch, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from apps.catalog import lineage, services
from apps.catalog.api import serializers_lineage as serializers
from apps.catalog.models import (
    Category,
    Column,
    DataSource,
    DataSourceKind,
    GlossaryTerm,
    HarvestRun,
    HarvestStatus,
    LineageEdge,
    LineageOrigin,
    Table,
    Tag,
)
from apps.core.api import RestrictedViewSet
from apps.tenancy import selectors as tenancy_selectors
from apps.tenancy.models import Project


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _visible_project(user, name: str, *, field: str = "project") -> Project:
    try:
        return tenancy_selectors.project_get(user=user, name=name)
    except Project.DoesNotExist:
        raise ValidationError({field: [f"No project named '{name}'."]}) from None


# --- filters -------------------------------------------------------------------------------

class DataSourceFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__name")
    kind = django_filters.ChoiceFilter(choices=DataSourceKind.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = DataSource
        fields = ["project", "kind", "name"]


class HarvestRunFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="data_source__project__name")
    data_source = django_filters.NumberFilter(field_name="data_source_id")
    status = django_filters.ChoiceFilter(choices=HarvestStatus.choices)

    class Meta:
        model = HarvestRun
        fields = ["project", "data_source", "status"]


class _LiveFilter(django_filters.FilterSet):
    """Dropped objects are left out unless ``include_dropped=true``."""

    include_dropped = django_filters.BooleanFilter(method="filter_include_dropped",
                                                   help_text="Also list objects the source no longer has.")

    def filter_include_dropped(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_dropped"):
            queryset = queryset.filter(is_dropped=False)
        return queryset


class TableFilter(_LiveFilter):
    project = django_filters.CharFilter(field_name="data_source__project__name")
    data_source = django_filters.NumberFilter(field_name="data_source_id")
    schema = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Table
        fields = ["project", "data_source", "schema", "name", "include_dropped"]


class ColumnFilter(_LiveFilter):
    project = django_filters.CharFilter(field_name="table__data_source__project__name")
    data_source = django_filters.NumberFilter(field_name="table__data_source_id")
    table = django_filters.NumberFilter(field_name="table_id")
    name = django_filters.CharFilter(lookup_expr="icontains")
    sensitivity_level = django_filters.NumberFilter()
    min_sensitivity_level = django_filters.NumberFilter(field_name="sensitivity_level", lookup_expr="gte")
    classification = django_filters.CharFilter(field_name="classification__code",
                                               help_text="A sensitive type's code.")

    class Meta:
        model = Column
        fields = ["project", "data_source", "table", "name", "sensitivity_level", "min_sensitivity_level",
                  "classification", "include_dropped"]


class LineageEdgeFilter(django_filters.FilterSet):
    table = django_filters.NumberFilter(method="filter_table", help_text="Edges into or out of this table.")
    column = django_filters.NumberFilter(method="filter_column", help_text="Edges into or out of this column.")
    origin = django_filters.ChoiceFilter(choices=LineageOrigin.choices)

    class Meta:
        model = LineageEdge
        fields = ["table", "column", "origin"]

    def filter_table(self, queryset, name, value):
        return queryset.filter(Q(source_table_id=value) | Q(target_table_id=value))

    def filter_column(self, queryset, name, value):
        return queryset.filter(Q(source_column_id=value) | Q(target_column_id=value))


# --- data sources ----------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List the data sources of the projects you may see"),
    retrieve=extend_schema(summary="One data source (its password is never returned)"),
    create=extend_schema(summary="Register an external PostgreSQL or MySQL/MariaDB source (project admins)",
                         request=serializers.DataSourceCreateSerializer,
                         responses={201: serializers.DataSourceSerializer}),
    partial_update=extend_schema(summary="Change a data source (project admins)",
                                 request=serializers.DataSourceUpdateSerializer,
                                 responses=serializers.DataSourceSerializer),
    destroy=extend_schema(summary="Unregister an external data source and its catalog (project admins)"),
)
class DataSourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = DataSource.objects.all()
    serializer_class = serializers.DataSourceSerializer
    filterset_class = DataSourceFilter
    ordering_fields = ["name", "created_at", "last_harvest_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_actions = RestrictedViewSet.write_actions | {"test_connection", "harvest"}

    def get_queryset(self):
        return super().get_queryset().select_related("project", "created_by").order_by("project__name", "name")

    def create(self, request, *args, **kwargs):
        data = dict(_validated(serializers.DataSourceCreateSerializer, request.data))
        project = _visible_project(request.user, data.pop("project"))
        data_source = services.data_source_create(actor=request.user, project=project, request=request, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=data_source.pk)).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        data_source = self.get_object()
        data = _validated(serializers.DataSourceUpdateSerializer, request.data)
        services.data_source_update(actor=request.user, data_source=data_source, request=request, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=data_source.pk)).data)

    def destroy(self, request, *args, **kwargs):
        services.data_source_delete(actor=request.user, data_source=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Log in to the source with its stored settings and say what happened",
                   request=None, responses=serializers.ConnectionCheckSerializer)
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, *args, **kwargs):
        check = services.data_source_test_connection(actor=request.user, data_source=self.get_object())
        return Response(serializers.ConnectionCheckSerializer(check).data)

    @extend_schema(summary="Start a harvest of the source (it runs on a worker)", request=None,
                   responses={202: serializers.HarvestRunSerializer})
    @action(detail=True, methods=["post"])
    def harvest(self, request, *args, **kwargs):
        run = services.harvest_start(actor=request.user, data_source=self.get_object(), request=request)
        run = HarvestRun.objects.select_related("data_source__project", "requested_by").get(pk=run.pk)
        return Response(serializers.HarvestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


# --- harvest runs ------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List harvest runs with their progress and counts"),
    retrieve=extend_schema(summary="One harvest run with its change list"),
)
class HarvestRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = HarvestRun.objects.all()
    serializer_class = serializers.HarvestRunSerializer
    filterset_class = HarvestRunFilter
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        queryset = super().get_queryset().select_related("data_source__project", "requested_by")
        if self.action == "list":
            # The change list can be long; the list shows counts, the run itself the changes.
            queryset = queryset.defer("changes")
        return queryset.order_by("-created_at", "-id")

    def get_serializer_class(self):
        return serializers.HarvestRunDetailSerializer if self.action == "retrieve" else super().get_serializer_class()


# --- tables and columns ------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List tables (dropped ones only with include_dropped=true)"),
    retrieve=extend_schema(summary="One table with its columns, owner, stewards, categories, terms and tags"),
)
class TableViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = Table.objects.all()
    serializer_class = serializers.TableSerializer
    filterset_class = TableFilter
    ordering_fields = ["name", "schema", "row_estimate", "last_seen_at"]

    def get_queryset(self):
        queryset = super().get_queryset().select_related("data_source__project", "owner")
        if self.action == "retrieve":
            columns = Column.objects.select_related("classification").prefetch_related(
                Prefetch("terms", queryset=GlossaryTerm.objects.order_by("name")),
                Prefetch("tags", queryset=Tag.objects.order_by("name")),
            ).order_by("ordinal")
            queryset = queryset.prefetch_related(
                Prefetch("columns", queryset=columns), "stewards",
                Prefetch("categories", queryset=Category.objects.order_by("path")),
                Prefetch("terms", queryset=GlossaryTerm.objects.order_by("name")),
                Prefetch("tags", queryset=Tag.objects.order_by("name")),
            )
        return queryset.order_by("data_source__project__name", "schema", "name", "id")

    def get_serializer_class(self):
        return serializers.TableDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    def filter_queryset(self, queryset):
        # A table page may show a dropped table (grants and lineage still refer to it).
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)


@extend_schema_view(
    list=extend_schema(summary="List columns (dropped ones only with include_dropped=true)"),
    retrieve=extend_schema(summary="One column with its sensitivity, terms and tags"),
)
class ColumnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = Column.objects.all()
    serializer_class = serializers.ColumnSerializer
    filterset_class = ColumnFilter
    ordering_fields = ["name", "ordinal", "sensitivity_level"]

    def get_queryset(self):
        queryset = super().get_queryset().select_related("table__data_source__project", "classification")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("terms", queryset=GlossaryTerm.objects.order_by("name")),
                Prefetch("tags", queryset=Tag.objects.order_by("name")),
            )
        return queryset.order_by("table__data_source__project__name", "table__schema", "table__name", "ordinal",
                                 "id")

    def get_serializer_class(self):
        return serializers.ColumnDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    def filter_queryset(self, queryset):
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)


# --- lineage -----------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List the lineage edges you may see (both ends visible)"),
    retrieve=extend_schema(summary="One lineage edge"),
    create=extend_schema(summary="Enter a lineage edge: table to table, or column to column",
                         request=serializers.LineageEdgeCreateSerializer,
                         responses={201: serializers.LineageEdgeSerializer}),
    destroy=extend_schema(summary="Remove a lineage edge (admins of the target's project, the target's owner)"),
)
class LineageEdgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = LineageEdge.objects.all()
    serializer_class = serializers.LineageEdgeSerializer
    filterset_class = LineageEdgeFilter
    ordering_fields = ["created_at", "id"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related(
            "source_table", "target_table", "source_column", "target_column", "created_by"
        ).order_by("id")

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.LineageEdgeCreateSerializer, request.data)
        ends = {}
        # Unknown or invisible ids are field errors; the service re-checks visibility.
        for name, model in (("source_table", Table), ("target_table", Table),
                            ("source_column", Column), ("target_column", Column)):
            if data[name] is not None:
                ends[name] = model.objects.restrict(request.user).filter(pk=data[name]).first()
                if ends[name] is None:
                    raise ValidationError({name: [f"No such {model._meta.verbose_name}."]})
        edge = lineage.lineage_edge_create(actor=request.user, origin=LineageOrigin.API,
                                           description=data["description"], request=request, **ends)
        return Response(self.get_serializer(self.get_queryset().get(pk=edge.pk)).data,
                        status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        lineage.lineage_edge_delete(actor=request.user, edge=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


GRAPH_PARAMETERS = [
    OpenApiParameter("table", OpenApiTypes.INT, description="Start at this table (or give column)."),
    OpenApiParameter("column", OpenApiTypes.INT, description="Start at this column (or give table)."),
    OpenApiParameter("direction", OpenApiTypes.STR, enum=list(lineage.DIRECTIONS),
                     description="up, down or both (default)."),
    OpenApiParameter("depth", OpenApiTypes.INT,
                     description=f"Levels to follow, 1 to {lineage.MAX_DEPTH} (default {lineage.DEFAULT_DEPTH})."),
]
FLAG_PARAMETERS = [
    OpenApiParameter("project", OpenApiTypes.STR, description="Every table of this project (or give table)."),
    OpenApiParameter("table", OpenApiTypes.INT, description="One table (or give project)."),
]


class LineageGraphViewSet(RestrictedViewSet):
    """The lineage graph around one table or column, and the sensitivity-follows-data flags."""

    queryset = Table.objects.all()
    filter_backends = []
    pagination_class = None

    def _start(self, model, pk: int):
        related = "table__data_source__project" if model is Column else "data_source__project"
        try:
            return model.objects.restrict(self.request.user).select_related(related).get(pk=pk)
        except model.DoesNotExist:
            raise NotFound from None

    @extend_schema(summary="Upstream and downstream of a table or column, as nodes and edges",
                   parameters=GRAPH_PARAMETERS, responses=serializers.LineageGraphSerializer)
    def list(self, request, *args, **kwargs):
        query = _validated(serializers.LineageGraphQuerySerializer, request.query_params)
        table = self._start(Table, query["table"]) if query["table"] is not None else None
        column = self._start(Column, query["column"]) if query["column"] is not None else None
        graph = lineage.lineage_graph(user=request.user, table=table, column=column,
                                      direction=query["direction"], depth=query["depth"])
        return Response(serializers.LineageGraphSerializer(graph).data)

    @extend_schema(summary="Columns downstream of more sensitive data, with the level and type to give them",
                   parameters=FLAG_PARAMETERS, responses=serializers.SensitivityFlagSerializer(many=True))
    @action(detail=False, methods=["get"])
    def flags(self, request, *args, **kwargs):
        query = _validated(serializers.LineageFlagsQuerySerializer, request.query_params)
        if query["project"] is not None:
            try:
                project = tenancy_selectors.project_get(user=request.user, name=query["project"])
            except Project.DoesNotExist:
                raise NotFound from None
            flags = lineage.lineage_sensitivity_flags(user=request.user, project=project)
        else:
            flags = lineage.lineage_sensitivity_flags(user=request.user,
                                                      table=self._start(Table, query["table"]))
        return Response(serializers.SensitivityFlagSerializer(flags, many=True).data)
