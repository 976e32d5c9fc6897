"""GET /api/v1/catalog/search: one search box across the Data Map."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from apps.catalog import search
from apps.catalog.api.serializers_search import SearchQuerySerializer, SearchResultSerializer
from apps.catalog.models import SearchDocument
from apps.core.api import RestrictedViewSet


def _hit(hit: search.SearchHit) -> dict:
    document = hit.document
    qualified = f"{document.schema}.{document.table_name}"
    return {
        "kind": document.kind,
        "table_id": document.table_id,
        "column_id": document.column_id,
        "project": document.project.name,
        "data_source": document.data_source.name,
        "data_source_id": document.data_source_id,
        "schema": document.schema,
        "table": document.table_name,
        "column": document.name if document.column_id else None,
        "qualified_name": f"{qualified}.{document.name}" if document.column_id else qualified,
        "data_type": document.data_type,
        "level": document.level,
        "sensitive_types": [{"id": t.pk, "code": t.code, "name": t.name} for t in hit.sensitive_types],
        "owner": document.owner.username if document.owner_id else None,
        "snippet": hit.snippet,
        "highlights": [list(span) for span in hit.highlights],
        "score": round(hit.score, 6),
        "is_dropped": document.is_dropped,
    }


class CatalogSearchViewSet(mixins.ListModelMixin, RestrictedViewSet):
    """Search tables and columns of the projects the caller may see, ranked: an exact name
    first, then names starting with the query, names containing its words, and matches in
    tags, terms, classifications, descriptions and comments. ``facets`` count all matches
    per filter value."""

    queryset = SearchDocument.objects.all()
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultSerializer,
                   operation_id="catalog_search")
    def list(self, request, *args, **kwargs):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result, page, page_size = search.catalog_search_with(user=request.user, params=params.validated_data)
        body = {"count": result.count, "page": page, "page_size": page_size,
                "results": [_hit(hit) for hit in result.hits], "facets": result.facets}
        return Response(SearchResultSerializer(body).data)
