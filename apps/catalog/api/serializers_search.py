"""Input and output of the catalog search endpoint."""

from rest_framework import serializers

from apps.catalog.models import MAX_LEVEL, SearchDocumentKind
from apps.catalog.search import MAX_QUERY_LENGTH


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH, default="",
                              help_text="Words to find in names, descriptions, comments, tags, glossary terms "
                                        "and classifications; names also match with typos.")
    project = serializers.CharField(required=False, help_text="Only this project (by name).")
    data_source = serializers.IntegerField(required=False, min_value=1, help_text="Only this data source (id).")
    level = serializers.IntegerField(required=False, min_value=0, max_value=MAX_LEVEL,
                                     help_text="Only objects at this sensitivity level or higher.")
    sensitive_type = serializers.IntegerField(required=False, min_value=1,
                                              help_text="Only objects classified as this sensitive type (id).")
    owner = serializers.IntegerField(required=False, min_value=1, help_text="Only objects of this owner (user id).")
    category = serializers.IntegerField(required=False, min_value=1,
                                        help_text="Only objects in this category or one below it (id).")
    kind = serializers.ChoiceField(required=False, choices=SearchDocumentKind.choices)
    include_dropped = serializers.BooleanField(required=False, default=False,
                                               help_text="Also find dropped tables and columns.")
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class SensitiveTypeRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SearchDocumentKind.choices)
    table_id = serializers.IntegerField()
    column_id = serializers.IntegerField(allow_null=True)
    project = serializers.CharField()
    data_source = serializers.CharField()
    data_source_id = serializers.IntegerField()
    schema = serializers.CharField()
    table = serializers.CharField()
    column = serializers.CharField(allow_null=True)
    qualified_name = serializers.CharField()
    data_type = serializers.CharField(allow_blank=True)
    level = serializers.IntegerField(allow_null=True)
    sensitive_types = SensitiveTypeRefSerializer(many=True)
    owner = serializers.CharField(allow_null=True)
    snippet = serializers.CharField(allow_blank=True, help_text="Description and comment around the first match.")
    highlights = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="[start, end) character offsets of the matching words in the snippet.")
    score = serializers.FloatField()
    is_dropped = serializers.BooleanField()


class FacetValueSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="The filter's value (an id; a level for 'level').")
    label = serializers.CharField()
    count = serializers.IntegerField()


class FacetsSerializer(serializers.Serializer):
    project = FacetValueSerializer(many=True)
    data_source = FacetValueSerializer(many=True)
    level = FacetValueSerializer(many=True)
    sensitive_type = FacetValueSerializer(many=True)
    owner = FacetValueSerializer(many=True)
    category = FacetValueSerializer(many=True)


class SearchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = SearchHitSerializer(many=True)
    facets = FacetsSerializer()
