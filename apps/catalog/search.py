"""Search of the Data Map: one box across tables, columns, descriptions, comments, tags,
glossary terms, categories and classifications.

Every table and every column has one ``SearchDocument`` row carrying everything a search
filters, ranks and shows, so a search is one indexed scan of one table:

- full-text search on a weighted ``tsvector`` (names A; tags, terms, categories and
  classifications B; descriptions and comments C; schema and table of a column D), with the
  ``simple`` configuration because identifiers are no English: each word of the query
  matches as a prefix (``cust`` finds ``customers``, ``order`` finds ``orders``);
- trigram similarity on the object's name (``pg_trgm``), so ``custmer`` still finds
  ``customers``;
- ranked so that an exact name beats a name that starts with the query, which beats a name
  containing its words, which beats a match in a description.

``search_documents_refresh`` rebuilds the documents of given tables (and their columns) in
two SQL statements; the harvest calls it, and so must every service that changes what a
document holds (descriptions, owners, categories, terms, tags, classifications).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import BooleanField, FloatField, Q, QuerySet
from django.db.models.expressions import RawSQL

from apps.catalog.models import (
    MAX_LEVEL,
    Category,
    Column,
    DataSource,
    GlossaryTerm,
    SearchDocument,
    SearchDocumentKind,
    SensitiveType,
    Table,
)
from apps.tenancy.models import Project

MAX_QUERY_LENGTH = 200
# Words of a query: letters and digits; underscores, dots and the rest separate them, as
# PostgreSQL's parser splits ``customer_id`` into ``customer`` and ``id``.
WORD = re.compile(r"[^\W_]+")
SNIPPET_CHARS = 160
FACETS = ("project", "data_source", "level", "sensitive_type", "owner", "category")


# --- keeping the documents in step --------------------------------------------------------------

def _through(model, field_name: str) -> tuple[str, str, str]:
    """(table, column of ``model``'s id, column of the other side's id) of an m2m field."""
    m2m = model._meta.get_field(field_name)
    through = m2m.remote_field.through._meta
    return through.db_table, m2m.m2m_column_name(), m2m.m2m_reverse_name()


def _refresh_sql() -> tuple[str, str]:
    document = SearchDocument._meta.db_table
    table, column, datasource = Table._meta.db_table, Column._meta.db_table, DataSource._meta.db_table
    sensitive_type, term, category = (SensitiveType._meta.db_table, GlossaryTerm._meta.db_table,
                                      Category._meta.db_table)
    tag = Table._meta.get_field("tags").related_model._meta.db_table
    table_tags, table_terms, table_categories = (_through(Table, "tags"), _through(Table, "terms"),
                                                 _through(Table, "categories"))
    column_tags, column_terms = _through(Column, "tags"), _through(Column, "terms")
    term_words = ("gt.name || ' ' || coalesce((SELECT string_agg(s, ' ') "
                  "FROM jsonb_array_elements_text(gt.synonyms) s), '')")
    fields = ["kind", "table_id", "column_id", "tenant_id", "project_id", "data_source_id", "schema", "table_name",
              "name", "data_type", "text", "level", "sensitive_type_ids", "owner_id", "category_ids", "is_dropped",
              "search_vector"]
    columns = ", ".join(fields)
    # Rows are rewritten only when something in them changed: an unchanged catalog leaves
    # the table (and its indexes) alone.
    changed = ", ".join(f"{name} = EXCLUDED.{name}" for name in fields[3:])
    upsert = (f"DO UPDATE SET {changed} WHERE ({', '.join(f'{document}.{name}' for name in fields[3:])}) "
              f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{name}' for name in fields[3:])})")
    insert_tables = f"""
INSERT INTO {document} ({columns})
SELECT 'table', t.id, NULL, ds.tenant_id, ds.project_id, ds.id, t.schema, t.name, t.name, '',
       concat_ws(' ', nullif(t.description, ''), nullif(t.comment, '')),
       cols.level, coalesce(cols.type_ids, '{{}}'), t.owner_id, coalesce(cats.ids, '{{}}'), t.is_dropped,
       setweight(to_tsvector('simple', t.name), 'A')
       || setweight(to_tsvector('simple', concat_ws(' ', tags.words, terms.words, cats.words, cols.words)), 'B')
       || setweight(to_tsvector('simple', concat_ws(' ', t.description, t.comment)), 'C')
       || setweight(to_tsvector('simple', t.schema), 'D')
FROM {table} t
JOIN {datasource} ds ON ds.id = t.data_source_id
LEFT JOIN LATERAL (
    SELECT max(c.sensitivity_level) AS level,
           array_agg(DISTINCT c.classification_id) FILTER (WHERE c.classification_id IS NOT NULL) AS type_ids,
           string_agg(DISTINCT st.name || ' ' || st.category, ' ') AS words
    FROM {column} c LEFT JOIN {sensitive_type} st ON st.id = c.classification_id
    WHERE c.table_id = t.id AND NOT c.is_dropped
) cols ON true
LEFT JOIN LATERAL (
    SELECT string_agg(x.name, ' ') AS words FROM {table_tags[0]} m JOIN {tag} x ON x.id = m.{table_tags[2]}
    WHERE m.{table_tags[1]} = t.id
) tags ON true
LEFT JOIN LATERAL (
    SELECT string_agg({term_words}, ' ') AS words FROM {table_terms[0]} m
    JOIN {term} gt ON gt.id = m.{table_terms[2]} WHERE m.{table_terms[1]} = t.id
) terms ON true
LEFT JOIN LATERAL (
    SELECT array_agg(x.id) AS ids, string_agg(x.name, ' ') AS words FROM {table_categories[0]} m
    JOIN {category} x ON x.id = m.{table_categories[2]} WHERE m.{table_categories[1]} = t.id
) cats ON true
WHERE t.id = ANY(%(ids)s)
ON CONFLICT (table_id) WHERE column_id IS NULL {upsert}
"""
    # Tags and terms of columns are few; aggregating them once for the batch (rather than
    # a lookup per column) keeps a 100,000-column refresh to hash joins.
    insert_columns = f"""
WITH batch AS (
    SELECT c.* FROM {column} c WHERE c.table_id = ANY(%(ids)s)
), ctags AS (
    SELECT m.{column_tags[1]} AS column_id, string_agg(x.name, ' ') AS words
    FROM {column_tags[0]} m JOIN {tag} x ON x.id = m.{column_tags[2]}
    WHERE m.{column_tags[1]} IN (SELECT id FROM batch) GROUP BY 1
), cterms AS (
    SELECT m.{column_terms[1]} AS column_id, string_agg({term_words}, ' ') AS words
    FROM {column_terms[0]} m JOIN {term} gt ON gt.id = m.{column_terms[2]}
    WHERE m.{column_terms[1]} IN (SELECT id FROM batch) GROUP BY 1
), tcats AS (
    SELECT m.{table_categories[1]} AS table_id, array_agg(m.{table_categories[2]}) AS ids
    FROM {table_categories[0]} m WHERE m.{table_categories[1]} = ANY(%(ids)s) GROUP BY 1
)
INSERT INTO {document} ({columns})
SELECT 'column', t.id, c.id, ds.tenant_id, ds.project_id, ds.id, t.schema, t.name, c.name, c.data_type,
       concat_ws(' ', nullif(c.description, ''), nullif(c.comment, '')),
       c.sensitivity_level,
       CASE WHEN c.classification_id IS NULL THEN '{{}}'::bigint[] ELSE ARRAY[c.classification_id] END,
       t.owner_id, coalesce(tcats.ids, '{{}}'), c.is_dropped OR t.is_dropped,
       setweight(to_tsvector('simple', c.name), 'A')
       || setweight(to_tsvector('simple', concat_ws(' ', ctags.words, cterms.words, st.name, st.category)), 'B')
       || setweight(to_tsvector('simple', concat_ws(' ', c.description, c.comment)), 'C')
       || setweight(to_tsvector('simple', t.schema || ' ' || t.name), 'D')
FROM batch c
JOIN {table} t ON t.id = c.table_id
JOIN {datasource} ds ON ds.id = t.data_source_id
LEFT JOIN {sensitive_type} st ON st.id = c.classification_id
LEFT JOIN ctags ON ctags.column_id = c.id
LEFT JOIN cterms ON cterms.column_id = c.id
LEFT JOIN tcats ON tcats.table_id = t.id
ON CONFLICT (column_id) {upsert}
"""
    return insert_tables, insert_columns


def _ids(objects) -> list[int]:
    if isinstance(objects, QuerySet):
        return list(objects.values_list("pk", flat=True))
    return sorted({getattr(obj, "pk", obj) for obj in objects})


def search_documents_refresh(*, tables: Iterable[Table | int] | QuerySet) -> int:
    """Rebuild the search documents of ``tables`` (Table rows, ids or a queryset) and of
    all their columns. Call it inside the transaction of the change, after the change is
    written; a table's document sums up its columns, so a change to a column refreshes its
    table. Returns the number of tables refreshed."""
    table_ids = _ids(tables)
    if not table_ids:
        return 0
    with connection.cursor() as cursor:
        for statement in _refresh_sql():
            cursor.execute(statement, {"ids": table_ids})
    return len(table_ids)


def search_documents_refresh_for_columns(*, columns: Iterable[Column | int] | QuerySet) -> int:
    """``search_documents_refresh`` of the tables of ``columns``."""
    column_ids = _ids(columns)
    table_ids = set(Column.objects.filter(pk__in=column_ids).values_list("table_id", flat=True))
    return search_documents_refresh(tables=table_ids)


# --- searching ------------------------------------------------------------------------------

@dataclass
class SearchFilters:
    project: str | None = None
    data_source: int | None = None
    level: int | None = None
    sensitive_type: int | None = None
    owner: int | None = None
    category: int | None = None
    kind: str | None = None
    include_dropped: bool = False


@dataclass
class SearchHit:
    document: SearchDocument
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    sensitive_types: list[SensitiveType]


@dataclass
class SearchResult:
    count: int
    hits: list[SearchHit]
    facets: dict[str, list[dict]] = field(default_factory=dict)


def query_words(q: str) -> list[str]:
    return WORD.findall((q or "").lower())


def _tsquery(words: list[str]) -> str:
    # Only letters and digits reach to_tsquery, so no operator can be smuggled in.
    return " & ".join(f"{word}:*" for word in words)


def _category_subtree(user, category_id: int) -> list[int]:
    category = Category.objects.restrict(user).filter(pk=category_id).first()
    if category is None:
        raise ValidationError({"category": "No such category."})
    return list(
        Category.objects.filter(tenant_id=category.tenant_id)
        .filter(Q(path=category.path) | Q(path__startswith=f"{category.path}/"))
        .values_list("pk", flat=True)
    )


def _filtered(user, filters: SearchFilters) -> QuerySet[SearchDocument]:
    projects = Project.objects.restrict(user)
    if filters.project:
        project = projects.filter(name=filters.project).first()
        if project is None:
            raise ValidationError({"project": "No such project."})
        queryset = SearchDocument.objects.filter(project=project)
    else:
        # Ids rather than a subquery: the planner then sees a plain list it can match
        # against the project index. An empty list matches nothing.
        queryset = SearchDocument.objects.filter(project_id__in=list(projects.values_list("pk", flat=True)))
    if not filters.include_dropped:
        queryset = queryset.filter(is_dropped=False)
    if filters.kind:
        if filters.kind not in SearchDocumentKind.values:
            raise ValidationError({"kind": f"Choose one of: {', '.join(SearchDocumentKind.values)}."})
        queryset = queryset.filter(kind=filters.kind)
    if filters.data_source is not None:
        queryset = queryset.filter(data_source_id=filters.data_source)
    if filters.level is not None:
        if not 0 <= filters.level <= MAX_LEVEL:
            raise ValidationError({"level": f"Use a whole number from 0 to {MAX_LEVEL}."})
        queryset = queryset.filter(level__gte=filters.level)
    if filters.sensitive_type is not None:
        queryset = queryset.filter(sensitive_type_ids__contains=[filters.sensitive_type])
    if filters.owner is not None:
        queryset = queryset.filter(owner_id=filters.owner)
    if filters.category is not None:
        queryset = queryset.filter(category_ids__overlap=_category_subtree(user, filters.category))
    return queryset


def _matching(queryset: QuerySet, q: str, words: list[str]) -> QuerySet:
    """Documents matching ``q`` (by their words or by a name like it), with their score."""
    if not q:
        return queryset.annotate(score=RawSQL("0.0", [], output_field=FloatField()))
    # Qualified: the hits' query joins projects and data sources, which have names too.
    d = f'"{SearchDocument._meta.db_table}"'
    lowered = q.lower()
    parts = lowered.split(".")
    # Typos are looked for in the object's own name: the last part of "schema.table.column".
    name_q = parts[-1] or lowered
    if words:
        tsquery = _tsquery(words)
        match_sql = f"({d}.search_vector @@ to_tsquery('simple', %s) OR {d}.name %% %s)"
        match_params = [tsquery, name_q]
        # Trigram similarity only ranks what the words did not find (typos).
        fuzzy_sql = (f"ts_rank({d}.search_vector, to_tsquery('simple', %s)) + CASE WHEN {d}.search_vector "
                     f"@@ to_tsquery('simple', %s) THEN 0 ELSE similarity({d}.name, %s) END")
        fuzzy_params = [tsquery, tsquery, name_q]
    else:
        match_sql, match_params = f"{d}.name %% %s", [name_q]
        fuzzy_sql, fuzzy_params = f"similarity({d}.name, %s)", [name_q]
    exact_sql, exact_params = f"lower({d}.name) = %s", [lowered]
    if len(parts) == 2:
        exact_sql += (f" OR (lower({d}.name) = %s AND (lower({d}.table_name) = %s AND {d}.kind = 'column' "
                      f"OR lower({d}.schema) = %s AND {d}.kind = 'table'))")
        exact_params += [parts[1], parts[0], parts[0]]
    elif len(parts) == 3:
        exact_sql += (f" OR (lower({d}.name) = %s AND lower({d}.table_name) = %s AND lower({d}.schema) = %s "
                      f"AND {d}.kind = 'column')")
        exact_params += [parts[2], parts[1], parts[0]]
    # An exact name (alone, schema.table, table.column or schema.table.column) scores 10, a
    # name that starts with the query 2, then the full-text rank (names weigh most) or, for a
    # typo, the trigram similarity; a table goes a little before its columns, as people look
    # for tables first.
    prefix = name_q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    score_sql = (f"CASE WHEN {exact_sql} THEN 10 WHEN lower({d}.name) LIKE %s THEN 2 ELSE 0 END + {fuzzy_sql} "
                 f"+ CASE WHEN {d}.kind = 'table' THEN 0.1 ELSE 0 END")
    return queryset.filter(RawSQL(match_sql, match_params, output_field=BooleanField())).annotate(
        score=RawSQL(score_sql, [*exact_params, prefix, *fuzzy_params], output_field=FloatField())
    )


def _snippet(text: str, words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Up to SNIPPET_CHARS of ``text`` around its first matching word, and where in the
    snippet the words that match the query (as prefixes, as the search does) are."""
    if not text:
        return "", []
    spans = [m.span() for m in WORD.finditer(text) if any(m.group().lower().startswith(w) for w in words)]
    start = 0
    if spans and spans[0][0] > SNIPPET_CHARS // 3:
        start = text.rfind(" ", 0, spans[0][0] - SNIPPET_CHARS // 4) + 1
    snippet = text[start:start + SNIPPET_CHARS]
    prefix = "…" if start else ""
    suffix = "…" if start + SNIPPET_CHARS < len(text) else ""
    offset = len(prefix) - start
    highlights = [(a + offset, b + offset) for a, b in spans if a >= start and b <= start + len(snippet)]
    return prefix + snippet + suffix, highlights


# One scan: the matches are computed once, then give the page of hits and every facet. The
# array facets unnest only the rows that have values (most have none), in the select list,
# which costs far less than a lateral join per row.
SEARCH_SQL = """
WITH m AS MATERIALIZED ({matches})
(SELECT 'hit', id, score, NULL FROM m ORDER BY {order} LIMIT %s OFFSET %s)
UNION ALL
SELECT CASE GROUPING(project_id, data_source_id, level, owner_id)
         WHEN 7 THEN 'project' WHEN 11 THEN 'data_source' WHEN 13 THEN 'level' WHEN 14 THEN 'owner'
         ELSE 'total' END,
       coalesce(project_id, data_source_id, level, owner_id), NULL, count(*)
FROM m GROUP BY GROUPING SETS ((project_id), (data_source_id), (level), (owner_id), ())
UNION ALL
SELECT facet, value, NULL, count(*) FROM (
    SELECT 'sensitive_type' AS facet, unnest(sensitive_type_ids) AS value FROM m WHERE sensitive_type_ids <> '{{}}'
    UNION ALL SELECT 'category', unnest(category_ids) FROM m WHERE category_ids <> '{{}}'
) labels GROUP BY 1, 2
"""
# Names compare byte by byte (as Python compares them): cheaper than the locale's rules, and
# identifiers need no more.
RANKED_ORDER = 'score DESC, schema COLLATE "C", table_name COLLATE "C", kind, name COLLATE "C", id'
# Without words, tables first and then their columns, by name.
BROWSE_ORDER = 'schema COLLATE "C", table_name COLLATE "C", kind DESC, name COLLATE "C", id'


def _rank_key(ranked: bool):
    if ranked:
        return lambda hit: (-hit.score, hit.document.schema, hit.document.table_name, hit.document.kind,
                            hit.document.name, hit.document.pk)
    return lambda hit: (hit.document.schema, hit.document.table_name, hit.document.kind != "table",
                        hit.document.name, hit.document.pk)


def _facet_labels(counts: dict[str, dict]) -> dict[str, dict]:
    User = get_user_model()
    return {
        "project": dict(Project.objects.filter(pk__in=counts["project"]).values_list("pk", "name")),
        "data_source": {pk: f"{project}/{name}" for pk, project, name in DataSource.objects.filter(
            pk__in=counts["data_source"]).values_list("pk", "project__name", "name")},
        "level": {level: str(level) for level in counts["level"]},
        "owner": dict(User.objects.filter(pk__in=counts["owner"]).values_list("pk", "username")),
        "sensitive_type": dict(SensitiveType.objects.filter(pk__in=counts["sensitive_type"])
                               .values_list("pk", "name")),
        "category": dict(Category.objects.filter(pk__in=counts["category"]).values_list("pk", "path")),
    }


def catalog_search(*, user, q: str = "", filters: SearchFilters | None = None, page: int = 1,
                   page_size: int = 20) -> SearchResult:
    """Search the catalog objects ``user`` may see (those of the projects
    ``Project.objects.restrict(user)`` gives): ranked hits of one page, the total and, for
    each filter, the number of matches per value (most first). Dropped objects are left out
    unless asked for."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        raise ValidationError({"q": f"Use at most {MAX_QUERY_LENGTH} characters."})
    filters = filters or SearchFilters()
    words = query_words(q)
    matching = _matching(_filtered(user, filters), q, words).order_by().values(
        "id", "score", "project_id", "data_source_id", "level", "owner_id", "sensitive_type_ids", "category_ids",
        "schema", "table_name", "kind", "name")
    try:
        sql, params = matching.query.sql_with_params()
    except EmptyResultSet:  # no project the user may see
        return SearchResult(count=0, hits=[], facets={name: [] for name in FACETS})
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_SQL.format(matches=sql, order=RANKED_ORDER if q else BROWSE_ORDER),
                       [*params, page_size, (page - 1) * page_size])
        rows = cursor.fetchall()

    scores: dict[int, float] = {}
    counts: dict[str, dict] = {name: {} for name in FACETS}
    total = 0
    for kind, value, score, count in rows:
        if kind == "hit":
            scores[value] = score
        elif kind == "total":
            total = count
        elif value is not None:  # no level, no owner: not a value to filter by
            counts[kind][value] = count
    labels = _facet_labels(counts)
    facets = {
        name: sorted(({"value": value, "label": labels[name].get(value, str(value)), "count": count}
                      for value, count in counts[name].items()),
                     key=lambda item: (-item["count"], item["label"]))
        for name in FACETS
    }

    documents = SearchDocument.objects.filter(pk__in=list(scores)).select_related(
        "project", "data_source", "owner").defer("search_vector").in_bulk()
    type_ids = {type_id for document in documents.values() for type_id in document.sensitive_type_ids}
    types = SensitiveType.objects.in_bulk(type_ids) if type_ids else {}
    hits = []
    for pk, score in scores.items():
        document = documents[pk]
        snippet, highlights = _snippet(document.text, words)
        hits.append(SearchHit(document=document, score=score, snippet=snippet, highlights=highlights,
                              sensitive_types=[types[t] for t in document.sensitive_type_ids if t in types]))
    # UNION ALL keeps no order: the page is sorted again, by the same keys.
    hits.sort(key=_rank_key(bool(q)))
    return SearchResult(count=total, hits=hits, facets=facets)


def catalog_search_with(*, user, params: dict) -> tuple[SearchResult, int, int]:
    """``catalog_search`` with the validated parameters of the API and the search page
    (``q``, ``page``, ``page_size`` and the filters); returns the result, page and page size."""
    params = dict(params)
    q, page, page_size = params.pop("q"), params.pop("page"), params.pop("page_size")
    result = catalog_search(user=user, q=q, filters=SearchFilters(**params), page=page, page_size=page_size)
    return result, page, page_size
