"""Lineage: where a table's or column's data comes from and where it goes.

Services (writes) enter and remove edges by hand or through the API; the gateway records
edges from real writes later (origin ``gateway``). Selectors walk the graph to N levels and
find columns whose sensitivity has not followed their data.

Who may draw an edge into a table: the admins of the target table's project (whoever may
manage its members, ``Capability.MANAGE_MEMBERS``) and the target table's owner. Both ends
must be visible to them and belong to the same tenant: lineage never links two tenants.

Walks go one query per level (breadth first) over the edges the user may see, remembering
what they reached, so a cycle ends the walk instead of looping.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from apps import audit
from apps.catalog.models import Column, LineageEdge, LineageOrigin, SensitiveType, Table
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities

DEFAULT_DEPTH = 3
MAX_DEPTH = 10
DIRECTIONS = ("up", "down", "both")
# Edges entered by people; ``gateway`` edges come from recorded writes only.
ENTERED_ORIGINS = (LineageOrigin.MANUAL, LineageOrigin.API)


# --- services ----------------------------------------------------------------------------

def _may_draw_into(actor, table: Table) -> bool:
    if actor is None or not actor.is_authenticated:
        return False
    if table.owner_id is not None and table.owner_id == actor.pk:
        return True
    return Capability.MANAGE_MEMBERS in project_capabilities(actor, table.data_source.project)


def _require_may_draw_into(actor, table: Table) -> None:
    if not _may_draw_into(actor, table):
        raise PermissionDenied(
            f"Only the owner of {table.qualified_name} and the admins of project "
            f"{table.data_source.project.name} change its lineage."
        )


def _edge_summary(edge: LineageEdge) -> dict:
    summary = {"source_table": edge.source_table_id, "target_table": edge.target_table_id,
               "source": str(edge.source_table), "target": str(edge.target_table), "origin": edge.origin}
    if edge.source_column_id is not None:
        summary.update({"source_column": edge.source_column_id, "target_column": edge.target_column_id,
                        "source": str(edge.source_column), "target": str(edge.target_column)})
    return summary


def _visible_live(actor, model, pk, field_name: str):
    """The live table or column ``pk`` if ``actor`` may see it; a field error otherwise (an
    invisible object reads exactly like a missing one)."""
    try:
        obj = model.objects.restrict(actor).select_related(
            *(["table__data_source__project"] if model is Column else ["data_source__project"])
        ).get(pk=pk)
    except model.DoesNotExist:
        raise ValidationError({field_name: f"No such {model._meta.verbose_name}."}) from None
    if obj.is_dropped:
        raise ValidationError({field_name: f"{obj} was dropped."})
    return obj


@transaction.atomic
def lineage_edge_create(*, actor, source_table: Table | None = None, target_table: Table | None = None,
                        source_column: Column | None = None, target_column: Column | None = None,
                        origin: str = LineageOrigin.MANUAL, description: str = "", request=None) -> LineageEdge:
    """Record that data flows from a source to a target: two tables, or two columns (their
    tables are then implied). Ends are re-read through ``restrict(actor)`` so nobody links
    what they cannot see."""
    if origin not in ENTERED_ORIGINS:
        raise ValidationError({"origin": f"Choose one of: {', '.join(ENTERED_ORIGINS)}."})
    column_level = source_column is not None or target_column is not None
    if column_level:
        if source_column is None or target_column is None:
            missing = "source_column" if source_column is None else "target_column"
            raise ValidationError({missing: "A column-level edge needs both a source and a target column."})
        source_column = _visible_live(actor, Column, source_column.pk, "source_column")
        target_column = _visible_live(actor, Column, target_column.pk, "target_column")
        for name, table, column in (("source_table", source_table, source_column),
                                    ("target_table", target_table, target_column)):
            if table is not None and table.pk != column.table_id:
                raise ValidationError({name: f"{column} is not a column of {table}."})
        source_table, target_table = source_column.table, target_column.table
        if source_column.pk == target_column.pk:
            raise ValidationError({"target_column": "A column cannot flow into itself."})
    else:
        if source_table is None or target_table is None:
            missing = "source_table" if source_table is None else "target_table"
            raise ValidationError({missing: "This field is required."})
        source_table = _visible_live(actor, Table, source_table.pk, "source_table")
        target_table = _visible_live(actor, Table, target_table.pk, "target_table")
        if source_table.pk == target_table.pk:
            raise ValidationError({"target_table": "A table cannot flow into itself."})
    if source_table.data_source.tenant_id != target_table.data_source.tenant_id:
        raise ValidationError({"source_table" if not column_level else "source_column":
                               "Lineage links objects of one tenant only."})
    _require_may_draw_into(actor, target_table)
    edge = LineageEdge(source_table=source_table, target_table=target_table, source_column=source_column,
                       target_column=target_column, origin=origin, description=(description or "").strip(),
                       created_by=actor)
    try:
        edge.full_clean(exclude=["created_by"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    duplicate = ValidationError({"target_column" if column_level else "target_table":
                                 f"This edge already exists: {source_column or source_table} → "
                                 f"{target_column or target_table}."})
    if LineageEdge.objects.filter(source_table=source_table, target_table=target_table,
                                  source_column=source_column, target_column=target_column).exists():
        raise duplicate
    try:
        with transaction.atomic():
            edge.save()
    except IntegrityError:
        raise duplicate from None
    audit.record(actor, "catalog.lineage_edge_create", edge, project=target_table.data_source.project,
                 request=request, details=_edge_summary(edge))
    return edge


@transaction.atomic
def lineage_edge_delete(*, actor, edge: LineageEdge, request=None) -> None:
    """Remove an edge; the same people who may draw it may remove it."""
    edge = LineageEdge.objects.select_related(
        "source_table", "target_table__data_source__project", "source_column__table", "target_column__table"
    ).select_for_update(of=("self",)).get(pk=edge.pk)
    _require_may_draw_into(actor, edge.target_table)
    summary = _edge_summary(edge)
    summary["edge"] = edge.pk
    audit.record(actor, "catalog.lineage_edge_delete", edge, project=edge.target_table.data_source.project,
                 request=request, details=summary)
    edge.delete()


def lineage_labels_inherit(*, edges: list[tuple[Column, Column]]) -> list[Column]:
    """A table the gateway has just made from others (CREATE TABLE AS SELECT) takes, column
    by column, the highest sensitivity level and a classification of the columns its data came
    from, so copying data never launders it of its labels. Returns the columns labelled."""
    sources_of: dict[int, list[Column]] = defaultdict(list)
    targets: dict[int, Column] = {}
    for source, target in edges:
        sources_of[target.pk].append(source)
        targets[target.pk] = target
    labelled = []
    for pk, sources in sources_of.items():
        levels = [source.sensitivity_level for source in sources if source.sensitivity_level is not None]
        classified = sorted((source for source in sources if source.classification_id is not None),
                            key=lambda source: -(source.sensitivity_level or 0))
        if not levels and not classified:
            continue
        target = targets[pk]
        target.sensitivity_level = max(levels) if levels else None
        target.classification_id = classified[0].classification_id if classified else None
        labelled.append(target)
    Column.objects.bulk_update(labelled, ["sensitivity_level", "classification"])
    return labelled


def lineage_edges_record(*, actor, edges: list[tuple[Column, Column]], description: str = "") -> None:
    """Column-level edges observed in a write through the gateway (source column, target
    column), with their table-level edges; edges already known are kept as they are. The
    gateway has checked the write and audits it as one event, edges included."""
    rows = []
    for source, target in edges:
        rows.append(LineageEdge(source_table_id=source.table_id, target_table_id=target.table_id,
                                origin=LineageOrigin.GATEWAY, description=description[:300], created_by=actor))
        rows.append(LineageEdge(source_table_id=source.table_id, source_column=source, target_table_id=target.table_id,
                                target_column=target, origin=LineageOrigin.GATEWAY, description=description[:300],
                                created_by=actor))
    unique = {(row.source_table_id, row.source_column_id, row.target_table_id, row.target_column_id): row
              for row in rows}
    LineageEdge.objects.bulk_create(unique.values(), ignore_conflicts=True)


# --- selectors ---------------------------------------------------------------------------

@dataclass
class LineageGraph:
    """What a walk reached, ready to draw: ``nodes`` are tables (a table walk) or columns (a
    column walk), each with ``distance`` (negative upstream, 0 the start, positive
    downstream); ``edges`` join node ids. Table walks fold column edges between the same two
    tables into one edge listing the column pairs."""

    root: str
    direction: str
    depth: int
    nodes: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)


def _table_node(table: Table, distance: int) -> dict:
    return {"id": f"table:{table.pk}", "kind": "table", "table": table.pk, "column": None,
            "name": table.name, "qualified_name": table.qualified_name, "project": table.data_source.project.name,
            "data_source": table.data_source.name, "is_dropped": table.is_dropped, "distance": distance,
            "sensitivity_level": None}


def _column_node(column: Column, distance: int) -> dict:
    table = column.table
    return {"id": f"column:{column.pk}", "kind": "column", "table": table.pk, "column": column.pk,
            "name": column.name, "qualified_name": f"{table.qualified_name}.{column.name}",
            "project": table.data_source.project.name, "data_source": table.data_source.name,
            "is_dropped": column.is_dropped, "distance": distance, "sensitivity_level": column.sensitivity_level}


def _walk(visible, *, start_ids: set[int], column_level: bool, downstream: bool, depth: int):
    """Breadth-first from ``start_ids``; yields ``(level, edges)`` one query per level."""
    if column_level:
        near, far = ("source_column_id", "target_column_id") if downstream else ("target_column_id",
                                                                                  "source_column_id")
    else:
        near, far = ("source_table_id", "target_table_id") if downstream else ("target_table_id",
                                                                                "source_table_id")
    seen = set(start_ids)
    frontier = set(start_ids)
    for level in range(1, depth + 1):
        if not frontier:
            break
        edges = list(visible.filter(**{f"{near}__in": frontier}))
        yield level, edges
        reached = {getattr(edge, far) for edge in edges}
        frontier = reached - seen
        seen |= reached


def lineage_graph(*, user, table: Table | None = None, column: Column | None = None, direction: str = "both",
                  depth: int = DEFAULT_DEPTH) -> LineageGraph:
    """Upstream and/or downstream of one table or column, to ``depth`` levels (1..10), over
    the edges ``user`` may see. ``table``/``column`` must already be visible to ``user``."""
    if (table is None) == (column is None):
        raise ValidationError({"table": "Name a table or a column, not both."})
    if direction not in DIRECTIONS:
        raise ValidationError({"direction": f"Choose one of: {', '.join(DIRECTIONS)}."})
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValidationError({"depth": f"Use a whole number from 1 to {MAX_DEPTH}."})
    column_level = column is not None
    visible = LineageEdge.objects.restrict(user).select_related(
        "source_table__data_source__project", "target_table__data_source__project",
        "source_column__table__data_source__project", "target_column__table__data_source__project",
    ).order_by("id")
    if column_level:
        visible = visible.filter(source_column__isnull=False)
    root = column if column_level else table
    root_id = f"{'column' if column_level else 'table'}:{root.pk}"
    nodes = {root_id: _column_node(column, 0) if column_level else _table_node(table, 0)}
    edges: dict = {}

    for downstream in ([False, True] if direction == "both" else [direction == "down"]):
        sign = 1 if downstream else -1
        for level, found in _walk(visible, start_ids={root.pk}, column_level=column_level, downstream=downstream,
                                  depth=depth):
            for edge in found:
                if column_level:
                    source, target = edge.source_column, edge.target_column
                    make = _column_node
                else:
                    source, target = edge.source_table, edge.target_table
                    make = _table_node
                far = target if downstream else source
                far_id = f"{far._meta.model_name}:{far.pk}"
                if far_id not in nodes:
                    nodes[far_id] = make(far, sign * level)
                key = (f"{source._meta.model_name}:{source.pk}", f"{target._meta.model_name}:{target.pk}")
                entry = edges.get(key)
                if entry is None:
                    entry = edges[key] = {"source": key[0], "target": key[1], "edges": [], "columns": []}
                if edge.pk not in entry["edges"]:
                    entry["edges"].append(edge.pk)
                    if not column_level and edge.source_column_id is not None:
                        entry["columns"].append({"source": edge.source_column.name,
                                                 "target": edge.target_column.name})
    return LineageGraph(root=root_id, direction=direction, depth=depth,
                        nodes=sorted(nodes.values(), key=lambda node: (node["distance"], node["qualified_name"])),
                        edges=list(edges.values()))


@dataclass
class SensitivityFlag:
    """A column downstream of more sensitive data: its level is lower (or missing), or it
    has no classification while its upstream has one. ``suggested_level`` is the highest
    level found upstream (a column's level, or its classification's default level, whichever
    is higher), ``suggested_classification`` the type of the most sensitive classified
    upstream column; ``sources`` are the upstream columns that level comes from."""

    column: Column
    suggested_level: int | None
    suggested_classification: SensitiveType | None
    sources: list[Column]


def _own_level(column: Column) -> int | None:
    levels = [level for level in (column.sensitivity_level,
                                  getattr(column.classification, "default_level", None)) if level is not None]
    return max(levels) if levels else None


def lineage_sensitivity_flags(*, user, table: Table | None = None, project: Project | None = None
                              ) -> list[SensitivityFlag]:
    """The live columns of ``table`` (or of every table of ``project``) whose sensitivity
    has not followed their data. Sensitivity flows through the whole upstream chain (to
    ``MAX_DEPTH`` levels), so a copy of a copy of a national id is flagged too. Only edges
    and columns ``user`` may see count."""
    if (table is None) == (project is None):
        raise ValidationError({"table": "Name a table or a project, not both."})
    visible = LineageEdge.objects.restrict(user).filter(source_column__isnull=False)
    columns = Column.objects.restrict(user).select_related("classification", "table__data_source__project")
    scoped = visible.filter(target_table=table) if table is not None \
        else visible.filter(target_table__data_source__project=project)
    targets = set(scoped.filter(target_column__is_dropped=False).values_list("target_column_id", flat=True))
    if not targets:
        return []

    # Collect the upstream graph of the targets, one query per level.
    upstream_of: dict[int, set[int]] = defaultdict(set)
    seen, frontier = set(targets), set(targets)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        pairs = list(visible.filter(target_column_id__in=frontier).values_list("source_column_id",
                                                                                "target_column_id"))
        for source_id, target_id in pairs:
            upstream_of[target_id].add(source_id)
        reached = {source_id for source_id, _ in pairs}
        frontier = reached - seen
        seen |= reached
    by_id = {column.pk: column for column in columns.filter(pk__in=seen)}

    def upstream_best(column_id: int) -> tuple[int | None, set[int], SensitiveType | None]:
        # Everything reachable upstream, each column once (so cycles end the search).
        best_level, best_sources, best_type = None, set(), None
        stack, visited = list(upstream_of.get(column_id, ())), {column_id}
        while stack:
            source_id = stack.pop()
            if source_id in visited or source_id not in by_id:
                continue
            visited.add(source_id)
            source = by_id[source_id]
            level = _own_level(source)
            if level is not None:
                if best_level is None or level > best_level:
                    best_level, best_sources = level, {source_id}
                elif level == best_level:
                    best_sources.add(source_id)
            if source.classification is not None and (
                    best_type is None or source.classification.default_level > best_type.default_level):
                best_type = source.classification
            stack.extend(upstream_of.get(source_id, ()))
        return best_level, best_sources, best_type

    flags = []
    for column_id in sorted(targets, key=lambda pk: (str(by_id[pk]) if pk in by_id else "", pk)):
        column = by_id.get(column_id)
        if column is None:
            continue
        level, sources, suggested_type = upstream_best(column_id)
        lower = level is not None and (column.sensitivity_level is None or column.sensitivity_level < level)
        unclassified = suggested_type is not None and column.classification_id is None
        if lower or unclassified:
            flags.append(SensitivityFlag(
                column=column,
                suggested_level=max(level, column.sensitivity_level or 0) if level is not None else None,
                suggested_classification=suggested_type if column.classification_id is None else None,
                sources=sorted((by_id[pk] for pk in sources), key=str),
            ))
    return flags
