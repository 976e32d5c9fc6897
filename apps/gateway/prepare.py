"""From a statement to what runs: qualify it against the catalog, work out what it reads and
writes, ask ``authorize`` about all of it, and rewrite it so that the caller's masking and row
filters apply inside the database.

The rewrite replaces every table the statement reads with a subquery over the real table that
selects only the columns the statement uses, each through its masking expression where the
caller sees it masked, and keeps only the rows the caller's row filters let through::

    SELECT c.mobile FROM customers AS c WHERE c.mobile LIKE '138%'
    -- runs as
    SELECT c.mobile FROM (SELECT <mask of "mobile"> AS "mobile" FROM "shop"."customers") AS c
    WHERE c.mobile LIKE '138%'

so a WHERE, JOIN, GROUP BY or function over a masked column sees the masked value. A subquery
with a row filter ends in ``OFFSET 0``: PostgreSQL never pushes an outer condition into such a
subquery, so no condition of the caller's is evaluated on a row the filter hides (the leaky-
view problem; an error message could otherwise show such a row's value).

UPDATE and DELETE cannot wrap the table they write; there each read of a masked column of
that table is replaced by its masking expression, and the row filters are added to WHERE, so
a write touches only rows the caller sees and decides by values as the caller sees them.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.lineage import lineage as sqlglot_lineage
from sqlglot.optimizer.qualify_columns import qualify_columns, quote_identifiers, validate_qualify_columns
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from apps.catalog.models import Column, DataSourceKind, Table
from apps.gateway.sql import (
    DIALECT, QueryRefused, StatementKind, TableName, node_position, physical_tables, statement_kind,
    statement_parse, table_name, tables_qualified, write_target,
)
from apps.masking import algorithms
from apps.masking.expressions import quoted_identifier, quoted_table
from apps.masking.row_filters import row_filter_conditions
from apps.masking.selectors import column_masks_until
from apps.masking.services import masking_key_secret
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest, Decision
from apps.permissions.runtime import SnapshotsOfOneDecision, decide
from apps.tenancy.models import Project


@dataclass
class KnownTable:
    """A warehouse table as the catalog knows it; ``columns`` maps each live column's name
    to its PostgreSQL type, in table order."""

    name: TableName
    table: Table
    project: Project
    columns: dict[str, str]


@dataclass
class Check:
    """One question put to ``authorize`` and its answer."""

    request: AccessRequest
    decision: Decision
    what: str


@dataclass
class Prepared:
    kind: StatementKind
    sql: str                       # the statement as the gateway understood it: qualified, no comments
    runnable: str                  # what the warehouse runs
    reads: dict[str, list[str]]    # "project.table" -> columns read
    writes: dict[str, list[str]]   # "project.table" -> columns written ([]: whole rows)
    masked: list[str]              # "project.table.column" the caller reads masked
    row_filtered: list[str]        # "project.table" whose rows a filter narrows
    checks: list[Check]
    target: TableName | None = None
    known: dict[TableName, KnownTable] = field(default_factory=dict)
    lineage: list[tuple[TableName, str, TableName, str]] = field(default_factory=list)
    masked_outputs: list[bool] = field(default_factory=list)

    @property
    def denied(self) -> list[Check]:
        return [check for check in self.checks if not check.decision.allowed]


def known_tables(project: Project, names: set[TableName],
                 snapshots: SnapshotsOfOneDecision | None = None) -> dict[TableName, KnownTable]:
    """The catalog's live warehouse tables among ``names``, in projects of ``project``'s
    tenant only: another tenant's tables do not exist for the caller. With ``snapshots``, an
    answer is reused while the security versions of the projects named stay put (any change
    to their tables bumps them)."""
    if not names:
        return {}
    key = (project.tenant_id, frozenset(names))
    if snapshots is not None:
        cached = _catalog.get_fresh(key, lambda value: _current(value[0], snapshots))
        if cached is not None:
            return cached[1]
    rows = (Column.objects.filter(table__data_source__kind=DataSourceKind.WAREHOUSE, table__is_dropped=False,
                                  table__data_source__project__tenant_id=project.tenant_id,
                                  table__data_source__project__name__in={n.project for n in names},
                                  table__name__in={n.name for n in names}, is_dropped=False)
            .order_by("table_id", "ordinal")
            .values_list("table_id", "table__name", "table__schema", "table__owner_id", "table__data_source_id",
                         "table__data_source__project_id", "table__data_source__project__name", "name", "data_type"))
    known: dict[TableName, KnownTable] = {}
    projects: dict[int, Project] = {}
    for table_id, table, schema, owner_id, source_id, project_id, project_name, column, data_type in rows:
        key_name = TableName(project_name, table)
        if key_name not in names:
            continue
        entry = known.get(key_name)
        if entry is None:
            owner = projects.setdefault(project_id, Project(pk=project_id, name=project_name,
                                                            tenant_id=project.tenant_id))
            entry = known[key_name] = KnownTable(key_name, Table(pk=table_id, name=table, schema=schema,
                                                                 owner_id=owner_id, data_source_id=source_id),
                                                 owner, {})
        entry.columns[column] = data_type
    if snapshots is not None:
        versions = _versions(snapshots, sorted({n.project for n in names}))
        if versions is not None and not connection.in_atomic_block:
            _catalog.put(key, (versions, known))
    return known


def _unknown(sql: str, node: exp.Table, name: TableName) -> QueryRefused:
    return QueryRefused(f"There is no table {name} (or it is not in a project of yours).", node_position(sql, node))


def _schema(known: dict[TableName, KnownTable]) -> MappingSchema:
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for name, table in known.items():
        mapping.setdefault(name.project, {})[name.name] = dict(table.columns)
    return MappingSchema(mapping, dialect=DIALECT, normalize=False)


def _qualified_columns(tree: exp.Expression, schema: MappingSchema) -> exp.Expression:
    try:
        tree = qualify_columns(tree, schema, expand_alias_refs=True, expand_stars=True)
        tree = quote_identifiers(tree, dialect=DIALECT)
        validate_qualify_columns(tree)
    except OptimizeError as error:
        raise QueryRefused(str(error).split(". Line:", 1)[0].rstrip(".") + ".") from None
    return tree


def _scope_reads(root: Scope | None, reads: dict[TableName, set[str]], sources: dict[int, TableName],
                 known: dict[TableName, KnownTable]) -> None:
    """Columns read through each scope's physical tables (CTEs and subqueries resolve to the
    tables under them in their own scopes). A whole-row reference (``to_jsonb(c)``,
    ``row_to_json(c.*)``, ``(c).mobile``) reads every column of its table."""
    for scope in (root.traverse() if root is not None else ()):
        every_source = {**scope.sources, **getattr(scope, "lateral_sources", {})}
        for column in scope.columns:
            source = every_source.get(column.table)
            if isinstance(source, exp.Table) and id(source) in sources:
                name = sources[id(source)]
                if isinstance(column.this, exp.Star):
                    reads.setdefault(name, set()).update(known[name].columns)
                else:
                    reads.setdefault(name, set()).add(column.name)
        for node in scope.expression.find_all(exp.TableColumn):
            source = every_source.get(node.name)
            if isinstance(source, exp.Table) and id(source) in sources:
                reads.setdefault(sources[id(source)], set()).update(known[sources[id(source)]].columns)
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and id(source) in sources:
                reads.setdefault(sources[id(source)], set())


def _target_column_reads(tree: exp.Expression, target: exp.Table, columns: dict[str, str]) -> list[exp.Column]:
    """In UPDATE and DELETE, the column references that read the written table: in SET values
    and WHERE, unqualified or qualified by its name or alias, and those of subqueries that
    point back at it."""
    names = {target.alias_or_name, target.name}
    found = []
    parts = [tree.args.get("where")] + [assignment.expression for assignment in tree.expressions
                                        if isinstance(assignment, exp.EQ)]
    for part in parts:
        if part is None:
            continue
        if any(True for _ in part.find_all(exp.TableColumn)):
            raise QueryRefused("A whole-row reference to the table being written is not allowed; name its columns.")
        for column in part.find_all(exp.Column):
            enclosing = column.find_ancestor(exp.Select)
            if column.name not in columns:
                whole_row = isinstance(column.this, exp.Star) or (not column.table and column.name in names)
                if whole_row and enclosing is None:
                    raise QueryRefused("A whole-row reference to the table being written is not allowed; "
                                       "name its columns.")
                continue
            if not column.table and enclosing is None:
                found.append(column)
            elif column.table in names and (enclosing is None or not _defines_alias(enclosing, column.table)):
                found.append(column)
    return found


def _defines_alias(select: exp.Select, alias: str) -> bool:
    current = select
    while current is not None:
        for source in [current.args.get("from_") or current.args.get("from")] + list(current.args.get("joins") or []):
            if source is not None and source.this is not None and source.this.alias_or_name == alias:
                return True
        current = current.parent.find_ancestor(exp.Select) if current.parent is not None else None
    return False


class _Splicer:
    """Stands in for pieces of SQL the rewrite inserts as text (masking expressions, whole
    subqueries): the tree gets an identifier no statement can contain, and ``filled`` puts
    each piece in its place in the generated SQL. The markers carry a random nonce, so a string literal in
    the caller's SQL cannot spell one."""

    def __init__(self):
        self._nonce = secrets.token_hex(8)
        self.pieces: dict[str, str] = {}

    def marker(self, text: str) -> str:
        # The closing letter keeps marker 1 from being a prefix of marker 10.
        key = f"warden_{self._nonce}_{len(self.pieces)}_x"
        self.pieces[key] = text
        return key

    @staticmethod
    def filled(sql: str, pieces: dict[str, str]) -> str:
        for key, text in pieces.items():
            quoted = f'"{key}"'
            if quoted in sql:
                sql = sql.replace(quoted, text)
            else:
                sql = sql.replace(key, text)
        return sql


def _mask_expression(mask, reference: str, data_type: str, secret: bytes) -> str:
    """The masking expression, or NULL where the rule cannot mask this column (a type's rule
    with an algorithm for text, met on a number column): masking fails closed."""
    try:
        return algorithms.mask_sql(mask.algorithm, mask.params, reference, data_type=data_type, secret=secret)
    except ValidationError:
        return "NULL"


def _source_sql(known: KnownTable, columns: list[str], masks: dict, row_filter: str | None, secret: bytes) -> str:
    projections = []
    for column in columns:
        mask = masks.get(column.lower())
        reference = quoted_identifier(column)
        if mask is None:
            projections.append(reference)
        else:
            projections.append(f"{_mask_expression(mask, reference, known.columns[column], secret)} AS {reference}")
    sql = f"SELECT {', '.join(projections)} FROM {quoted_table(known.name.project, known.name.name)}"
    if row_filter:
        sql += f" WHERE ({row_filter}) OFFSET 0"
    return f"({sql})"


@dataclass
class _Plan:
    """What a statement means in a project, whoever runs it: parsed, resolved against the
    catalog, qualified, with its read and write sets. Kept per process for as long as the
    security versions of every project it touches stay put (any change to their tables bumps
    them); its tree is never changed for good, only for the moment of a rewrite, under
    ``lock``."""

    kind: StatementKind
    tree: exp.Expression
    target: TableName | None
    target_node: exp.Table | None
    known: dict[TableName, KnownTable]
    reads: dict[TableName, set[str]]
    writes: list[str]
    target_columns: list[str]
    target_reads: list[exp.Column]
    sources: list[tuple[exp.Table, TableName]]
    versions: dict[str, int]
    # The statement as qualified, for the audit log; made by the first rewrite or on demand.
    normalised: str | None = None
    root_scope: Scope | None = None
    lineage: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rewrites: OrderedDict = field(default_factory=OrderedDict)


class _Cache(OrderedDict):
    """A small least-recently-used map."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_fresh(self, key, fresh):
        with self.lock:
            value = self.get(key)
            if value is None:
                return None
            if not fresh(value):
                del self[key]
                return None
            self.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)


_plans = _Cache(512)
_reader_views = _Cache(2048)
_catalog = _Cache(2048)
REWRITES_PER_PLAN = 16


def _versions(snapshots: SnapshotsOfOneDecision, names) -> dict[str, int] | None:
    versions = {}
    for name in names:
        snapshot = snapshots(name)
        if snapshot is None:
            return None
        versions[name] = snapshot.version
    return versions


def _current(versions: dict[str, int], snapshots: SnapshotsOfOneDecision) -> bool:
    return _versions(snapshots, versions) == versions


def _plan_make(project: Project, sql: str, snapshots: SnapshotsOfOneDecision) -> _Plan:
    tree = statement_parse(sql)
    kind = statement_kind(tree, sql)
    tree = tables_qualified(tree, project=project.name)
    target_node = write_target(tree, kind)
    target = table_name(target_node) if target_node is not None else None
    nodes = [node for node in physical_tables(tree) if node is not target_node]
    wanted = {table_name(node) for node in nodes} | ({target} if target else set())
    known = known_tables(project, wanted, snapshots)
    for node in nodes:
        if table_name(node) not in known:
            raise _unknown(sql, node, table_name(node))
    if kind in (StatementKind.CREATE_TABLE, StatementKind.CREATE_TABLE_AS):
        if not Project.objects.filter(tenant_id=project.tenant_id, name=target.project).exists():
            raise QueryRefused(f"There is no project {target.project} (or it is not yours).", 0)
        if target in known:
            raise QueryRefused(f"Table {target} already exists.", 0)
    elif target is not None and target not in known:
        raise _unknown(sql, target_node, target)
    target_known = known.get(target) if target else None

    if kind in (StatementKind.CREATE_TABLE, StatementKind.DROP_TABLE):
        tree = quote_identifiers(tree, dialect=DIALECT)
    else:
        tree = _qualified_columns(tree, _schema(known))
    target_node = write_target(tree, kind)
    sources = [(node, table_name(node)) for node in physical_tables(tree) if node is not target_node]
    reads: dict[TableName, set[str]] = {}
    root = build_scope(tree)
    _scope_reads(root, reads, {id(node): name for node, name in sources}, known)
    target_reads: list[exp.Column] = []
    if kind in (StatementKind.UPDATE, StatementKind.DELETE):
        target_reads = _target_column_reads(tree, target_node, target_known.columns)
        if target_reads:
            reads.setdefault(target, set()).update(column.name for column in target_reads)
    writes, target_columns = _writes(tree, kind, target, target_known)
    touched = {project.name} | {name.project for name in known} | ({target.project} if target else set())
    plan = _Plan(kind=kind, tree=tree, target=target, target_node=target_node, known=known,
                 reads=reads, writes=writes, target_columns=target_columns, target_reads=target_reads,
                 sources=sources, versions=_versions(snapshots, sorted(touched)) or {}, root_scope=root)
    if kind in (StatementKind.CREATE_TABLE_AS, StatementKind.INSERT):
        plan.lineage = _lineage(statement_parse(_normalised(plan)), kind, target, target_columns, known)
    return plan


def _normalised(plan: _Plan) -> str:
    with plan.lock:
        if plan.normalised is None:
            plan.normalised = plan.tree.sql(dialect=DIALECT, comments=False)
        return plan.normalised


def _plan_of(project: Project, sql: str, snapshots: SnapshotsOfOneDecision) -> _Plan:
    key = (project.pk, sql)
    plan = _plans.get_fresh(key, lambda cached: _current(cached.versions, snapshots))
    if plan is None:
        plan = _plan_make(project, sql, snapshots)
        if plan.versions and not connection.in_atomic_block:
            _plans.put(key, plan)
    return plan


@dataclass(frozen=True)
class _ReaderView:
    masks: dict[int, dict]
    filters: dict[int, str]
    versions: dict[str, int]
    until: object


def _reader_view(actor, plan: _Plan, snapshots: SnapshotsOfOneDecision, now) -> _ReaderView:
    """What ``actor`` sees of the tables ``plan`` reads: masks and row filters. Kept while the
    tables' projects' security versions stay put and no unmask grant it counted has expired."""
    names = list(plan.reads)
    if plan.kind in (StatementKind.UPDATE, StatementKind.DELETE) and plan.target not in plan.reads:
        # The rows an UPDATE or DELETE may touch are those the writer's filters let through.
        names.append(plan.target)
    tables = [plan.known[name].table for name in names]
    if not tables:
        return _ReaderView({}, {}, {}, None)
    key = (actor.pk, tuple(sorted(table.pk for table in tables)))
    projects = sorted({name.project for name in names})
    view = _reader_views.get_fresh(key, lambda cached: (cached.until is None or now < cached.until)
                                   and _current(cached.versions, snapshots))
    if view is None:
        versions = _versions(snapshots, projects) or {}
        masks, until = column_masks_until(user=actor, tables=tables, at=now)
        view = _ReaderView(masks, row_filter_conditions(user=actor, tables=tables), versions, until)
        if versions and not connection.in_atomic_block:
            _reader_views.put(key, view)
    return view


@dataclass(frozen=True)
class _Rewrite:
    runnable: str
    masked: list[str]
    row_filtered: list[str]
    masked_outputs: list[bool]


def _signature(plan: _Plan, view: _ReaderView) -> tuple:
    parts = []
    for name in sorted(plan.reads, key=str):
        table_id = plan.known[name].table.pk
        masks = view.masks.get(table_id, {})
        parts.append((table_id, tuple(sorted((column, mask.algorithm, json.dumps(mask.params, sort_keys=True))
                                              for column, mask in masks.items())), view.filters.get(table_id)))
    return tuple(parts)


def _rewritten(plan: _Plan, view: _ReaderView, tenant_id: int) -> _Rewrite:
    signature = _signature(plan, view)
    with plan.lock:
        cached = plan.rewrites.get(signature)
        if cached is not None:
            return cached
        masked, row_filtered = [], []
        for name in sorted(plan.reads, key=str):
            table = plan.known[name]
            table_masks = view.masks.get(table.table.pk, {})
            masked.extend(f"{name}.{column}" for column in sorted(plan.reads[name]) if column.lower() in table_masks)
            if table.table.pk in view.filters:
                row_filtered.append(str(name))
        if plan.target in plan.known and plan.target not in plan.reads and \
                plan.known[plan.target].table.pk in view.filters:
            row_filtered.append(str(plan.target))
        outputs = []
        if plan.kind == StatementKind.SELECT and masked:
            outputs = masked_outputs(plan.tree, {tuple(name.split(".", 2)) for name in masked}, plan.root_scope)
        secret = masking_key_secret(tenant=tenant_id) if masked else b""
        if plan.normalised is None and plan.kind in (StatementKind.UPDATE, StatementKind.DELETE):
            # Its rewrite changes more than tables (masked reads, the filtered WHERE): the
            # qualified text is made before, on its own.
            plan.normalised = plan.tree.sql(dialect=DIALECT, comments=False)
        splicer = _Splicer()
        changes = _Changes()
        originals = {}
        for node, name in plan.sources:
            table = plan.known[name]
            used = [column for column in table.columns if column in plan.reads.get(name, ())]
            key = splicer.marker(_source_sql(table, used, view.masks.get(table.table.pk, {}),
                                             view.filters.get(table.table.pk), secret))
            originals[key] = quoted_table(name.project, name.name)
            replacement = exp.Table(this=exp.to_identifier(key))
            alias = node.args.get("alias")
            if alias is not None:
                replacement.set("alias", alias)
            changes.replace(node, replacement)
        target = plan.known.get(plan.target) if plan.kind in (StatementKind.UPDATE, StatementKind.DELETE) else None
        if target is not None:
            _rewrite_target_reads(target, plan.target_reads, view.masks.get(target.table.pk, {}),
                                  view.filters.get(target.table.pk), plan.tree, splicer, secret, changes)
        try:
            marked = plan.tree.sql(dialect=DIALECT, comments=False)
        finally:
            changes.undo()
        runnable = splicer.filled(marked, splicer.pieces)
        if plan.normalised is None:
            # One generation serves both: the same text with each table put back.
            plan.normalised = splicer.filled(marked, originals)
        rewrite = _Rewrite(runnable, masked, row_filtered, outputs)
        plan.rewrites[signature] = rewrite
        while len(plan.rewrites) > REWRITES_PER_PLAN:
            plan.rewrites.popitem(last=False)
        return rewrite


class _Changes:
    """Replacements made in a cached tree for one rewrite, and their undoing."""

    def __init__(self):
        self._undo = []

    def replace(self, node: exp.Expression, replacement: exp.Expression) -> None:
        parent, arg_key, index = node.parent, node.arg_key, node.index
        node.replace(replacement)
        self._undo.append(lambda: replacement.replace(node) if replacement.parent is not None
                          else parent.set(arg_key, node, index))

    def set(self, node: exp.Expression, key: str, value) -> None:
        old = node.args.get(key)
        node.set(key, value)
        self._undo.append(lambda: node.set(key, old))

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


def statement_prepare(*, actor, project: Project, sql: str, now, source_ip: str | None = None,
                      snapshots: SnapshotsOfOneDecision | None = None, download: bool = False) -> Prepared:
    """Everything short of running it. Raises QueryRefused for what cannot run as written;
    denials are in the result's ``checks`` (the caller decides what to answer). ``download``:
    the result leaves Warden as a file, which takes a SELECT and Download on every table read."""
    snapshots = snapshots or SnapshotsOfOneDecision()
    try:
        return _prepared(actor, project, sql, now, source_ip, snapshots, download)
    except RecursionError:
        raise QueryRefused("The statement is nested too deeply.") from None


def _prepared(actor, project: Project, sql: str, now, source_ip, snapshots, download: bool) -> Prepared:
    plan = _plan_of(project, sql, snapshots)
    if download and plan.kind != StatementKind.SELECT:
        raise QueryRefused("Only a SELECT's result can be downloaded.", 0)
    checks = _checks(actor, project, plan.kind, plan.target, plan.reads, plan.writes, now, source_ip, snapshots,
                     download)
    prepared = Prepared(kind=plan.kind, sql="", runnable="", checks=checks, target=plan.target, known=plan.known,
                        lineage=plan.lineage,
                        reads={str(name): sorted(columns) for name, columns in plan.reads.items()},
                        writes={str(plan.target): plan.writes} if plan.target is not None else {}, masked=[],
                        row_filtered=[])
    if prepared.denied:
        prepared.sql = _normalised(plan)
        return prepared
    rewrite = _rewritten(plan, _reader_view(actor, plan, snapshots, now), project.tenant_id)
    prepared.sql = _normalised(plan)
    prepared.runnable = rewrite.runnable
    prepared.masked = list(rewrite.masked)
    prepared.row_filtered = list(rewrite.row_filtered)
    prepared.masked_outputs = list(rewrite.masked_outputs)
    return prepared


def masked_outputs(tree: exp.Expression, masked: set[tuple[str, str, str]], root: Scope | None = None) -> list[bool]:
    """Which output columns of a qualified SELECT carry a masked column's value (``masked``:
    (project, table, column)), through CTEs, subqueries, LATERAL, scalar subqueries, whole-row
    references and set operations."""
    root = root or build_scope(tree)
    if root is None or not masked:
        return []
    masked_tables = {(project, table) for project, table, _ in masked}
    scope_of = {id(scope.expression): scope for scope in root.traverse()}

    def expression_masked(scope: Scope, expression: exp.Expression) -> bool:
        # Outer scopes too: a LATERAL subquery or a correlated one reads its outer tables.
        sources = {}
        outer = scope
        while outer is not None:
            sources = {**outer.sources, **getattr(outer, "lateral_sources", {}), **sources}
            outer = outer.parent

        for node in expression.walk():
            if isinstance(node, (exp.Select, exp.SetOperation)) and node is not expression:
                inner = scope_of.get(id(node))
                if inner is not None and any(positions(inner)):
                    return True
            elif isinstance(node, exp.TableColumn) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
                source = sources.get(node.name if isinstance(node, exp.TableColumn) else node.table)
                if isinstance(source, exp.Table) and (source.db, source.name) in masked_tables:
                    return True
                if isinstance(source, Scope) and any(positions(source)):
                    return True
            elif isinstance(node, exp.Column):
                source = sources.get(node.table)
                if isinstance(source, exp.Table):
                    if (source.db, source.name, node.name) in masked:
                        return True
                elif isinstance(source, Scope) and output_masked(source, node.name):
                    return True
        return False

    def output_masked(scope: Scope, name: str) -> bool:
        if not isinstance(scope.expression, (exp.Select, exp.SetOperation)):
            # LATERAL (...) AS x: its scope wraps the subquery's own.
            inner = scope.expression.find(exp.Select)
            scope = scope_of.get(id(inner), scope) if inner is not None else scope
        for branch in scope.set_operation_scopes or [scope]:
            if branch.set_operation_scopes:
                if output_masked(branch, name):
                    return True
            elif isinstance(branch.expression, exp.Select):
                if any(projection.alias_or_name == name and expression_masked(branch, projection)
                       for projection in branch.expression.expressions):
                    return True
        return False

    def positions(scope: Scope) -> list[bool]:
        if scope.set_operation_scopes:
            flags = [positions(branch) for branch in scope.set_operation_scopes]
            return [any(column) for column in zip(*flags)]
        if not isinstance(scope.expression, exp.Select):
            return []
        return [expression_masked(scope, projection) for projection in scope.expression.expressions]

    return positions(root)


def _rewrite_target_reads(target: KnownTable, columns: list[exp.Column], masks: dict, row_filter: str | None,
                          tree: exp.Expression, splicer: _Splicer, secret: bytes, changes: "_Changes") -> None:
    for column in columns:
        mask = masks.get(column.name.lower())
        if mask is None:
            continue
        reference = column.sql(dialect=DIALECT)
        expression = _mask_expression(mask, reference, target.columns[column.name], secret)
        changes.replace(column, exp.column(splicer.marker(f"({expression})")))
    if row_filter:
        condition = exp.column(splicer.marker(f"({row_filter})"))
        where = tree.args.get("where")
        changes.set(tree, "where", exp.Where(this=condition if where is None
                                              else exp.and_(where.this.copy(), condition)))


def _writes(tree: exp.Expression, kind: StatementKind, target: TableName | None,
            target_known: KnownTable | None) -> tuple[list[str], list[str]]:
    """The columns the statement writes ([] for whole rows) and, for INSERT and CTAS, the
    target's columns in the order the SELECT fills them."""
    if kind == StatementKind.INSERT:
        schema = tree.this
        if isinstance(schema, exp.Schema) and schema.expressions:
            names = [identifier.name for identifier in schema.expressions]
            unknown = [name for name in names if name not in target_known.columns]
            if unknown:
                raise QueryRefused(f"Table {target} has no column {unknown[0]}.")
            return sorted(names), names
        return sorted(target_known.columns), list(target_known.columns)
    if kind == StatementKind.UPDATE:
        names = []
        for assignment in tree.expressions:
            column = assignment.this if isinstance(assignment, exp.EQ) else None
            if not isinstance(column, exp.Column) or column.name not in target_known.columns:
                raise QueryRefused(f"UPDATE sets columns of {target}: {assignment.sql(dialect=DIALECT)} does not.")
            names.append(column.name)
        return sorted(set(names)), names
    if kind == StatementKind.CREATE_TABLE_AS:
        select = tree.expression
        while isinstance(select, exp.Subquery):
            select = select.this
        first = select
        while isinstance(first, exp.SetOperation):
            first = first.left
        names = [projection.alias_or_name for projection in first.expressions]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates or any(not name for name in names):
            raise QueryRefused("Name every column of CREATE TABLE ... AS SELECT once (use AS): "
                               f"{', '.join(sorted(duplicates)) or 'an expression has no name'}.")
        return [], names
    return [], []


def write_checks(*, actor, project: Project, target: TableName, columns: list[str], now,
                 source_ip: str | None = None) -> list[Check]:
    """The checks of writing rows into ``columns`` of ``target`` with nothing read (an upload)."""
    return _checks(actor, project, StatementKind.INSERT, target, {}, sorted(columns), now, source_ip,
                   SnapshotsOfOneDecision(), False)


def _checks(actor, project, kind, target, reads, writes, now, source_ip, snapshots, download) -> list[Check]:
    principal = actor.principal_name
    context = RequestContext(source_ip=source_ip, current_time=now)
    destination = target.project if target is not None else project.name
    checks: list[Check] = []

    def ask(what: str, **fields) -> None:
        owner = fields["project"]
        request = AccessRequest(principal=principal, context=context,
                                via_project=project.name if owner != project.name else None, **fields)
        checks.append(Check(request, decide(request, snapshots), what))

    read_level = 0
    for name, columns in sorted(reads.items(), key=lambda item: str(item[0])):
        ask(f"Select on {name}", project=name.project, action="Select", object_type="table", object_name=name.name,
            columns=tuple(sorted(columns)),
            destination_project=destination if destination != name.project else None)
        if download:
            ask(f"Download from {name}", project=name.project, action="Download", object_type="table",
                object_name=name.name, columns=tuple(sorted(columns)))
        snapshot = snapshots(name.project)
        if snapshot is not None:
            levels = snapshot.column_levels.get(name.name, {})
            default = snapshot.table_level.get(name.name, 0)
            read_level = max([read_level, *(levels.get(column.lower(), default) for column in columns)])
    if kind in (StatementKind.INSERT, StatementKind.UPDATE, StatementKind.DELETE):
        ask(f"Update on {target}", project=target.project, action="Update", object_type="table",
            object_name=target.name, columns=tuple(writes), read_level=read_level or None)
    elif kind in (StatementKind.CREATE_TABLE, StatementKind.CREATE_TABLE_AS):
        ask(f"CreateTable in {target.project}", project=target.project, action="CreateTable", object_type="project",
            object_name=target.project)
    elif kind == StatementKind.DROP_TABLE:
        ask(f"Drop on {target}", project=target.project, action="Drop", object_type="table", object_name=target.name)
    return checks


def _lineage(tree: exp.Expression, kind: StatementKind, target: TableName, target_columns: list[str],
             known: dict[TableName, KnownTable]) -> list[tuple[TableName, str, TableName, str]]:
    """Column-level edges (source table, source column, target table, target column) of an
    INSERT ... SELECT or CREATE TABLE AS SELECT, from sqlglot's lineage."""
    schema = _schema(known)
    # Qualifying names every output (an unnamed sum(amount) becomes _col_1), which lineage needs.
    tree = _qualified_columns(tables_qualified(tree, project=target.project), schema)
    select = tree.expression
    if not isinstance(select, (exp.Select, exp.SetOperation, exp.Subquery)):
        return []
    first = select
    while isinstance(first, (exp.Subquery, exp.SetOperation)):
        first = first.this if isinstance(first, exp.Subquery) else first.left
    if not isinstance(first, exp.Select):
        return []
    outputs = [projection.alias_or_name for projection in first.expressions]
    edges = []
    for position, output in enumerate(outputs):
        if position >= len(target_columns) or not output:
            continue
        try:
            node = sqlglot_lineage(output, select, schema=schema, dialect=DIALECT)
        except (SqlglotError, KeyError, ValueError):
            continue
        for step in node.walk():
            if isinstance(step.source, exp.Table) and not step.downstream and step.source.args.get("db") is not None:
                source = TableName(step.source.db, step.source.name)
                column = exp.to_column(step.name, dialect=DIALECT).name
                if source in known and column in known[source].columns:
                    edges.append((source, column, target, target_columns[position]))
    return sorted(set(edges), key=lambda edge: (str(edge[0]), edge[1], edge[3]))
