from rest_framework import serializers


class QuerySerializer(serializers.Serializer):
    sql = serializers.CharField(trim_whitespace=False, allow_blank=False,
                                help_text="One statement: SELECT, CREATE TABLE [AS SELECT], INSERT, UPDATE, DELETE "
                                          "or DROP TABLE (PostgreSQL syntax).")
    limit = serializers.IntegerField(required=False, allow_null=True,
                                     help_text="Rows to return at most (default GATEWAY_DEFAULT_ROWS, at most "
                                               "GATEWAY_MAX_ROWS).")


class QueryResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    column_types = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))
    masked_columns = serializers.ListField(child=serializers.CharField())
    row_count = serializers.IntegerField()
    rows_written = serializers.IntegerField(allow_null=True)
    truncated = serializers.BooleanField()
    duration_ms = serializers.FloatField()
    event_id = serializers.IntegerField(allow_null=True)
    decision = serializers.JSONField()
    reads = serializers.JSONField()
    writes = serializers.JSONField()
    row_filtered = serializers.ListField(child=serializers.CharField())


class ExportRequestSerializer(serializers.Serializer):
    sql = serializers.CharField(trim_whitespace=False)
    format = serializers.ChoiceField(choices=["csv", "json"], default="csv")


class LeakTraceRequestSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, trim_whitespace=False, help_text="Pasted part of a file.")
    file = serializers.FileField(required=False, help_text="The suspected file (CSV, JSON or text).")

    def validate(self, data):
        if not data.get("text") and not data.get("file"):
            raise serializers.ValidationError({"text": "Upload a file or paste part of one."})
        return data


class LeakFindingSerializer(serializers.Serializer):
    export = serializers.IntegerField(source="export.pk")
    method = serializers.CharField()
    score = serializers.FloatField()
    cells = serializers.IntegerField()
    user = serializers.CharField(source="export.user.principal_name", default=None)
    project = serializers.CharField(source="export.project.name")
    created_at = serializers.DateTimeField(source="export.created_at")
    sql = serializers.CharField(source="export.sql")
    format = serializers.CharField(source="export.format")
    row_count = serializers.IntegerField(source="export.row_count")
    event = serializers.IntegerField(source="export.event_id", allow_null=True)
    grants = serializers.JSONField(source="export.grants")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, UTF-8, its first line naming the columns.")
