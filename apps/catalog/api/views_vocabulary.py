"""/api/v1/catalog/categories (and their tree), /glossary-terms, /tags, /sensitive-types, and
the metadata edits PATCH /catalog/tables/{id}/metadata and /catalog/columns/{id}/metadata.

Querysets are scoped by RestrictedViewSet, so another tenant's vocabulary and tables answer
404; ids named in a request body are looked up in the same scope, so naming another
tenant's category or term is a field error that says no such object exists. Every write
calls one service of ``apps.catalog.vocabulary``, which decides who may make it."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.catalog import vocabulary
from apps.catalog.api import serializers_vocabulary as serializers
from apps.catalog.models import Category, Column, GlossaryTerm, SensitiveType, Table, Tag
from apps.core.api import RestrictedViewSet


def _validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _category(user, pk, field: str):
    if pk is None:
        return None
    category = vocabulary.category_list(user=user).filter(pk=pk).first()
    if category is None:
        raise ValidationError({field: [f"No category with id {pk}."]})
    return category


def _objects(queryset, ids, field: str, noun: str) -> list:
    found = {obj.pk: obj for obj in queryset.filter(pk__in=ids)}
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ValidationError({field: [f"No {noun} with id {', '.join(missing)}."]})
    return list(dict.fromkeys(found[pk] for pk in ids))


def _terms(user, ids, field: str = "terms") -> list:
    return _objects(GlossaryTerm.objects.restrict(user), ids, field, "glossary term")


class CategoryFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    path = django_filters.CharFilter(lookup_expr="istartswith", label="Path starts with")
    parent = django_filters.NumberFilter(field_name="parent_id")
    top_level = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull", label="Top-level only")

    class Meta:
        model = Category
        fields = ["name", "path", "parent", "top_level"]


@extend_schema_view(
    list=extend_schema(summary="List your tenant's categories (flat, by path)"),
    retrieve=extend_schema(summary="One category"),
    create=extend_schema(summary="Create a category (tenant owner and administrators)",
                         request=serializers.CategoryCreateSerializer, responses={201: serializers.CategorySerializer}),
    partial_update=extend_schema(summary="Rename, describe or move a category; its subtree follows",
                                 request=serializers.CategoryUpdateSerializer,
                                 responses=serializers.CategorySerializer),
    destroy=extend_schema(summary="Delete a category with no subcategories, tables or glossary terms"),
)
class CategoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = Category.objects.all()
    serializer_class = serializers.CategorySerializer
    filterset_class = CategoryFilter
    ordering_fields = ["path", "name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().order_by("path")

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.CategoryCreateSerializer, request.data)
        category = vocabulary.category_create(
            actor=request.user, name=data["name"], parent=_category(request.user, data["parent"], "parent"),
            description=data["description"], request=request,
        )
        return Response(self.get_serializer(category).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        category = self.get_object()
        data = _validated(serializers.CategoryUpdateSerializer, request.data)
        if "parent" in data:
            data["parent"] = _category(request.user, data["parent"], "parent")
        category = vocabulary.category_update(actor=request.user, category=category, request=request, **data)
        return Response(self.get_serializer(category).data)

    def destroy(self, request, *args, **kwargs):
        vocabulary.category_delete(actor=request.user, category=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Your tenant's categories as a tree, with table counts",
                   responses=serializers.CategoryTreeNodeSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def tree(self, request):
        return Response(serializers.CategoryTreeNodeSerializer(vocabulary.category_tree(user=request.user),
                                                               many=True).data)


class GlossaryTermFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name, synonym or definition contains")
    name = django_filters.CharFilter(lookup_expr="icontains")
    category = django_filters.NumberFilter(field_name="category_id")

    class Meta:
        model = GlossaryTerm
        fields = ["q", "name", "category"]

    def search(self, queryset, name, value):
        return vocabulary.glossary_term_search(queryset, value)


@extend_schema_view(
    list=extend_schema(summary="List your tenant's glossary terms with usage counts"),
    retrieve=extend_schema(summary="One glossary term"),
    create=extend_schema(summary="Create a glossary term (tenant owner and administrators)",
                         request=serializers.GlossaryTermWriteSerializer,
                         responses={201: serializers.GlossaryTermSerializer}),
    partial_update=extend_schema(summary="Change a glossary term", request=serializers.GlossaryTermWriteSerializer,
                                 responses=serializers.GlossaryTermSerializer),
    destroy=extend_schema(summary="Delete a glossary term (tables and columns lose it)"),
)
class GlossaryTermViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = GlossaryTerm.objects.all()
    serializer_class = serializers.GlossaryTermSerializer
    filterset_class = GlossaryTermFilter
    ordering_fields = ["name", "table_count", "column_count"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        scoped = super().get_queryset()
        return vocabulary.glossary_term_list(user=self.request.user).filter(pk__in=scoped.values("pk"))

    def _respond(self, term, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=term.pk)).data, status=status_code)

    def _write_arguments(self, data: dict) -> dict:
        if "category" in data:
            data["category"] = _category(self.request.user, data["category"], "category")
        return data

    def create(self, request, *args, **kwargs):
        data = self._write_arguments(_validated(serializers.GlossaryTermWriteSerializer, request.data))
        term = vocabulary.glossary_term_create(actor=request.user, request=request, **data)
        return self._respond(term, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        term = self.get_object()
        data = self._write_arguments(_validated(serializers.GlossaryTermWriteSerializer, request.data, partial=True))
        vocabulary.glossary_term_update(actor=request.user, term=term, request=request, **data)
        return self._respond(term)

    def destroy(self, request, *args, **kwargs):
        vocabulary.glossary_term_delete(actor=request.user, term=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Tag
        fields = ["name"]


@extend_schema_view(
    list=extend_schema(summary="List your tenant's tags with usage counts (tags are created by assigning them)"),
    retrieve=extend_schema(summary="One tag"),
    destroy=extend_schema(summary="Delete a tag everywhere (tenant owner and administrators)"),
)
class TagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = Tag.objects.all()
    serializer_class = serializers.TagSerializer
    filterset_class = TagFilter
    ordering_fields = ["name", "table_count", "column_count"]
    http_method_names = ["get", "delete", "head", "options"]

    def get_queryset(self):
        scoped = super().get_queryset()
        return vocabulary.tag_list(user=self.request.user).filter(pk__in=scoped.values("pk"))

    def destroy(self, request, *args, **kwargs):
        vocabulary.tag_delete(actor=request.user, tag=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SensitiveTypeFilter(django_filters.FilterSet):
    code = django_filters.CharFilter()
    category = django_filters.CharFilter(lookup_expr="iexact")
    is_builtin = django_filters.BooleanFilter(field_name="tenant", lookup_expr="isnull", label="Built-in types only")

    class Meta:
        model = SensitiveType
        fields = ["code", "category", "is_builtin"]


@extend_schema_view(
    list=extend_schema(summary="List the built-in sensitive types and your tenant's own"),
    retrieve=extend_schema(summary="One sensitive type"),
    create=extend_schema(summary="Create a custom sensitive type (tenant owner and administrators)",
                         request=serializers.SensitiveTypeCreateSerializer,
                         responses={201: serializers.SensitiveTypeSerializer}),
    partial_update=extend_schema(summary="Change a custom sensitive type (built-in ones are read-only)",
                                 request=serializers.SensitiveTypeUpdateSerializer,
                                 responses=serializers.SensitiveTypeSerializer),
    destroy=extend_schema(summary="Delete a custom sensitive type no column is classified as"),
)
class SensitiveTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                           mixins.UpdateModelMixin, mixins.DestroyModelMixin, RestrictedViewSet):
    queryset = SensitiveType.objects.all()
    serializer_class = serializers.SensitiveTypeSerializer
    filterset_class = SensitiveTypeFilter
    ordering_fields = ["code", "name", "category", "default_level"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # Writes look types up in the readable scope, so changing a built-in type answers 403
    # with the reason (the service refuses it) rather than a puzzling 404.
    write_actions = frozenset()

    def get_queryset(self):
        scoped = super().get_queryset()
        return vocabulary.sensitive_type_list(user=self.request.user).filter(pk__in=scoped.values("pk"))

    def create(self, request, *args, **kwargs):
        data = _validated(serializers.SensitiveTypeCreateSerializer, request.data)
        sensitive_type = vocabulary.sensitive_type_create(actor=request.user, request=request, **data)
        return Response(self.get_serializer(sensitive_type).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        sensitive_type = self.get_object()
        data = _validated(serializers.SensitiveTypeUpdateSerializer, request.data)
        sensitive_type = vocabulary.sensitive_type_update(actor=request.user, sensitive_type=sensitive_type,
                                                          request=request, **data)
        return Response(self.get_serializer(sensitive_type).data)

    def destroy(self, request, *args, **kwargs):
        vocabulary.sensitive_type_delete(actor=request.user, sensitive_type=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- metadata edits ---------------------------------------------------------------------------------

def _table_metadata_queryset(queryset):
    return queryset.select_related("owner").prefetch_related("stewards", "categories", "terms", "tags")


@extend_schema_view(
    partial_update=extend_schema(
        summary="Edit a table's description, owner, stewards, categories, glossary terms and tags",
        description="The table's owner, the project's admins and the tenant's administrators edit. "
                    "Each field given replaces what the table has; the edit is audited with before and after.",
        request=serializers.TableMetadataUpdateSerializer, responses=serializers.TableMetadataSerializer,
    ),
)
class TableMetadataViewSet(RestrictedViewSet):
    queryset = Table.objects.all()
    serializer_class = serializers.TableMetadataSerializer
    http_method_names = ["patch", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("data_source__project")

    def partial_update(self, request, *args, **kwargs):
        table = self.get_object()
        data = _validated(serializers.TableMetadataUpdateSerializer, request.data)
        project = table.data_source.project
        user = request.user
        if "owner" in data and data["owner"] is not None:
            data["owner"] = vocabulary.project_member_users(project=project, usernames=[data["owner"]],
                                                            field="owner")[0]
        if "stewards" in data:
            data["stewards"] = vocabulary.project_member_users(project=project, usernames=data["stewards"],
                                                               field="stewards")
        if "categories" in data:
            data["categories"] = _objects(Category.objects.restrict(user), data["categories"], "categories",
                                          "category")
        if "terms" in data:
            data["terms"] = _terms(user, data["terms"])
        vocabulary.table_metadata_update(actor=user, table=table, request=request, **data)
        table = _table_metadata_queryset(Table.objects.restrict(user)).get(pk=table.pk)
        return Response(self.get_serializer(table).data)


@extend_schema_view(
    partial_update=extend_schema(
        summary="Edit a column's description, glossary terms and tags",
        description="Edited by the same people as its table's metadata; audited with before and after.",
        request=serializers.ColumnMetadataUpdateSerializer, responses=serializers.ColumnMetadataSerializer,
    ),
)
class ColumnMetadataViewSet(RestrictedViewSet):
    queryset = Column.objects.all()
    serializer_class = serializers.ColumnMetadataSerializer
    http_method_names = ["patch", "options"]

    def partial_update(self, request, *args, **kwargs):
        column = self.get_object()
        data = _validated(serializers.ColumnMetadataUpdateSerializer, request.data)
        if "terms" in data:
            data["terms"] = _terms(request.user, data["terms"])
        vocabulary.column_metadata_update(actor=request.user, column=column, request=request, **data)
        column = Column.objects.restrict(request.user).prefetch_related("terms", "tags").get(pk=column.pk)
        return Response(self.get_serializer(column).data)
