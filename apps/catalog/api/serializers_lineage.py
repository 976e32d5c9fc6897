"""Serializers of the catalog's read API (data sources, harvest runs, tables, columns) and of
lineage. Read serializers are read-only; input serializers only check shapes and types, the
services decide. A data source's password is write-only: no response ever carries it."""

from rest_framework import serializers

from apps.catalog.lineage import DEFAULT_DEPTH, DIRECTIONS, MAX_DEPTH
from apps.catalog.models import (
    Column,
    DataSource,
    DataSourceKind,
    HarvestRun,
    HarvestSchedule,
    HarvestStatus,
    LineageEdge,
    Table,
    TableKind,
    TLSMode,
)


def choice_text_field(values, **kwargs) -> serializers.CharField:
    """A read-only choice shown in the schema as a string with its choices in the
    description: several catalog fields share a name (``kind``, ``status``) with different
    choice sets across components, and named enum components for them would collide."""
    return serializers.CharField(read_only=True, help_text=f"One of: {', '.join(values)}.", **kwargs)


# --- data sources --------------------------------------------------------------------------


class DataSourceSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True)
    has_password = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = DataSource
        fields = ["id", "project", "kind", "name", "description", "host", "port", "database", "username",
                  "has_password", "tls_mode", "harvest_schedule", "last_harvest_status", "last_harvest_at",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class DataSourceCreateSerializer(serializers.Serializer):
    project = serializers.CharField(help_text="The project's name.")
    kind = serializers.ChoiceField(choices=[DataSourceKind.POSTGRESQL, DataSourceKind.MYSQL])
    name = serializers.CharField(max_length=63)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=65535)
    database = serializers.CharField(max_length=128)
    username = serializers.CharField(max_length=128)
    password = serializers.CharField(required=False, allow_blank=True, default="", write_only=True,
                                     trim_whitespace=False, style={"input_type": "password"})
    tls_mode = serializers.ChoiceField(choices=TLSMode.choices, default=TLSMode.PREFER)
    harvest_schedule = serializers.ChoiceField(choices=HarvestSchedule.choices, default=HarvestSchedule.MANUAL)


class DataSourceUpdateSerializer(serializers.Serializer):
    """Only the fields sent change. ``password: ""`` removes the stored password."""

    name = serializers.CharField(max_length=63, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    host = serializers.CharField(max_length=255, required=False)
    port = serializers.IntegerField(required=False, min_value=1, max_value=65535)
    database = serializers.CharField(max_length=128, required=False)
    username = serializers.CharField(max_length=128, required=False)
    password = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"})
    tls_mode = serializers.ChoiceField(choices=TLSMode.choices, required=False)
    harvest_schedule = serializers.ChoiceField(choices=HarvestSchedule.choices, required=False)


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


# --- harvest runs --------------------------------------------------------------------------


class HarvestRunSerializer(serializers.ModelSerializer):
    data_source = serializers.IntegerField(source="data_source_id", read_only=True)
    data_source_name = serializers.CharField(source="data_source.name", read_only=True)
    project = serializers.CharField(source="data_source.project.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)
    status = choice_text_field(HarvestStatus.values)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = HarvestRun
        fields = ["id", "data_source", "data_source_name", "project", "status", "progress", "progress_message",
                  "requested_by", "created_at", "started_at", "finished_at", "counts", "error"]
        read_only_fields = fields


class HarvestChangeSerializer(serializers.Serializer):
    object = choice_text_field(["table", "column"])
    change = serializers.ChoiceField(choices=["added", "changed", "dropped", "revived"])
    schema = serializers.CharField()
    table = serializers.CharField()
    column = serializers.CharField(required=False)
    fields = serializers.DictField(required=False, help_text='{"field": {"from": ..., "to": ...}}')
    columns = serializers.ListField(child=serializers.CharField(), required=False)


class HarvestRunDetailSerializer(HarvestRunSerializer):
    changes = HarvestChangeSerializer(many=True, read_only=True)

    class Meta(HarvestRunSerializer.Meta):
        fields = HarvestRunSerializer.Meta.fields + ["changes"]
        read_only_fields = fields


# --- tables and columns --------------------------------------------------------------------


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField()


class ClassificationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    default_level = serializers.IntegerField()


class TableSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="data_source.project.name", read_only=True)
    data_source = serializers.IntegerField(source="data_source_id", read_only=True)
    data_source_name = serializers.CharField(source="data_source.name", read_only=True)
    qualified_name = serializers.CharField(read_only=True)
    kind = choice_text_field(TableKind.values)
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)

    class Meta:
        model = Table
        fields = ["id", "project", "data_source", "data_source_name", "schema", "name", "qualified_name", "kind",
                  "comment", "description", "row_estimate", "owner", "is_dropped", "dropped_at", "first_seen_at",
                  "last_seen_at"]
        read_only_fields = fields


class ColumnSerializer(serializers.ModelSerializer):
    table = serializers.IntegerField(source="table_id", read_only=True)
    table_name = serializers.CharField(source="table.qualified_name", read_only=True)
    project = serializers.CharField(source="table.data_source.project.name", read_only=True)
    classification = ClassificationRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Column
        fields = ["id", "table", "table_name", "project", "name", "ordinal", "data_type", "nullable", "comment",
                  "description", "sensitivity_level", "classification", "is_dropped", "dropped_at",
                  "first_seen_at", "last_seen_at"]
        read_only_fields = fields


class ColumnDetailSerializer(ColumnSerializer):
    terms = NamedSerializer(many=True, read_only=True)
    tags = NamedSerializer(many=True, read_only=True)

    class Meta(ColumnSerializer.Meta):
        fields = ColumnSerializer.Meta.fields + ["terms", "tags"]
        read_only_fields = fields


class TableColumnSerializer(serializers.ModelSerializer):
    classification = ClassificationRefSerializer(read_only=True, allow_null=True)
    terms = NamedSerializer(many=True, read_only=True)
    tags = NamedSerializer(many=True, read_only=True)

    class Meta:
        model = Column
        fields = ["id", "name", "ordinal", "data_type", "nullable", "comment", "description", "sensitivity_level",
                  "classification", "terms", "tags", "is_dropped"]
        read_only_fields = fields


class TableDetailSerializer(TableSerializer):
    stewards = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")
    categories = CategoryRefSerializer(many=True, read_only=True)
    terms = NamedSerializer(many=True, read_only=True)
    tags = NamedSerializer(many=True, read_only=True)
    columns = TableColumnSerializer(many=True, read_only=True)

    class Meta(TableSerializer.Meta):
        fields = TableSerializer.Meta.fields + ["stewards", "categories", "terms", "tags", "columns"]
        read_only_fields = fields


# --- lineage -------------------------------------------------------------------------------


class LineageEdgeSerializer(serializers.ModelSerializer):
    source_table = serializers.IntegerField(source="source_table_id", read_only=True)
    source_table_name = serializers.CharField(source="source_table.qualified_name", read_only=True)
    source_column = serializers.IntegerField(source="source_column_id", read_only=True, allow_null=True)
    source_column_name = serializers.CharField(source="source_column.name", read_only=True, default=None)
    target_table = serializers.IntegerField(source="target_table_id", read_only=True)
    target_table_name = serializers.CharField(source="target_table.qualified_name", read_only=True)
    target_column = serializers.IntegerField(source="target_column_id", read_only=True, allow_null=True)
    target_column_name = serializers.CharField(source="target_column.name", read_only=True, default=None)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = LineageEdge
        fields = ["id", "source_table", "source_table_name", "source_column", "source_column_name", "target_table",
                  "target_table_name", "target_column", "target_column_name", "origin", "description",
                  "created_by", "created_at"]
        read_only_fields = fields


class LineageEdgeCreateSerializer(serializers.Serializer):
    """Two tables, or two columns (their tables are implied)."""

    source_table = serializers.IntegerField(required=False, allow_null=True, default=None)
    target_table = serializers.IntegerField(required=False, allow_null=True, default=None)
    source_column = serializers.IntegerField(required=False, allow_null=True, default=None)
    target_column = serializers.IntegerField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class LineageGraphQuerySerializer(serializers.Serializer):
    table = serializers.IntegerField(required=False, allow_null=True, default=None)
    column = serializers.IntegerField(required=False, allow_null=True, default=None)
    direction = serializers.ChoiceField(choices=DIRECTIONS, default="both")
    depth = serializers.IntegerField(default=DEFAULT_DEPTH, min_value=1, max_value=MAX_DEPTH)

    def validate(self, attrs):
        if (attrs["table"] is None) == (attrs["column"] is None):
            raise serializers.ValidationError({"table": ["Give either table or column."]})
        return attrs


class LineageNodeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='"table:ID" or "column:ID".')
    kind = serializers.ChoiceField(choices=["table", "column"])
    table = serializers.IntegerField()
    column = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    qualified_name = serializers.CharField()
    project = serializers.CharField()
    data_source = serializers.CharField()
    is_dropped = serializers.BooleanField()
    distance = serializers.IntegerField(help_text="Levels from the start: negative upstream, positive downstream.")
    sensitivity_level = serializers.IntegerField(allow_null=True)


class LineageColumnPairSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()


class LineageGraphEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    edges = serializers.ListField(child=serializers.IntegerField(), help_text="The lineage edge ids drawn here.")
    columns = LineageColumnPairSerializer(many=True, help_text="Column pairs (table graphs only).")


class LineageGraphSerializer(serializers.Serializer):
    root = serializers.CharField()
    direction = serializers.ChoiceField(choices=DIRECTIONS)
    depth = serializers.IntegerField()
    nodes = LineageNodeSerializer(many=True)
    edges = LineageGraphEdgeSerializer(many=True)


class LineageFlagsQuerySerializer(serializers.Serializer):
    project = serializers.CharField(required=False, allow_blank=False, default=None)
    table = serializers.IntegerField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if (attrs["project"] is None) == (attrs["table"] is None):
            raise serializers.ValidationError({"project": ["Give either project or table."]})
        return attrs


class ColumnRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    table = serializers.IntegerField(source="table_id")
    qualified_name = serializers.CharField(source="__str__")
    sensitivity_level = serializers.IntegerField(allow_null=True)
    classification = serializers.CharField(source="classification.code", default=None, allow_null=True)


class SensitivityFlagSerializer(serializers.Serializer):
    column = ColumnRefSerializer()
    suggested_level = serializers.IntegerField(allow_null=True)
    suggested_classification = ClassificationRefSerializer(allow_null=True)
    sources = ColumnRefSerializer(many=True)
