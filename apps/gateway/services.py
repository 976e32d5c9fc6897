"""Running a statement for someone: the gateway's one door to the warehouse.

``query_run`` takes the caller's SQL in a project, and either refuses it (``QueryRefused``:
it cannot run as written; ``QueryDenied``: ``authorize`` said no; ``LimitExceeded``: over a
resource budget) or runs the rewritten statement and returns its rows. Every statement,
refused or run, is one audit event ``gateway.query`` in the project it ran in, holding the
normalised SQL, the read and write sets, the masked columns, each access request with its
decision and trace, the rows returned or written, and how long it took. The requests are kept
in the shape the impact preview replays (``details["requests"]``).

Writes commit the warehouse change, the catalog change (a table made or dropped, lineage
edges) and the audit event together: the warehouse transaction is nested in Warden's, so
either both commit or, if the warehouse refuses, neither does.
"""

from __future__ import annotations

import datetime
import decimal
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import partial

import psycopg
from psycopg.types.string import TextLoader
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps import audit
from apps.audit.models import Decision as AuditDecision
from apps.catalog.harvest import warehouse_tables_sync
from apps.catalog.lineage import lineage_edges_record, lineage_labels_inherit
from apps.catalog.models import Column, Table
from apps.gateway import limits
from apps.gateway.prepare import Check, Prepared, statement_prepare
from apps.gateway.sql import DDL_KINDS, QueryRefused, StatementKind
from apps.gateway.warehouse import WAREHOUSE, restricted, schemas_prepared
from apps.permissions.impact import access_request_as_dict
from apps.tenancy.models import Project


class QueryDenied(Exception):
    """``authorize`` refused at least one of the checks of a statement or an upload."""

    def __init__(self, checks: list[Check]):
        super().__init__("Access denied.")
        self.checks = checks

    @property
    def denied(self) -> list[Check]:
        return [check for check in self.checks if not check.decision.allowed]


class QueryFailed(Exception):
    """The warehouse refused the rewritten statement (a type error, a timeout, ...)."""


@dataclass
class QueryResult:
    kind: StatementKind
    columns: list[str]
    column_types: list[str]
    rows: list[list]
    masked_columns: list[str]
    truncated: bool
    rows_written: int | None
    duration_ms: float
    prepared: Prepared
    event_id: int | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows) if self.kind == StatementKind.SELECT else (self.rows_written or 0)


def decision_summary(checks: list[Check]) -> dict:
    """The decision of a statement's checks: allowed when every check is, with each check's trace."""
    denied = [check for check in checks if not check.decision.allowed]
    return {
        "allowed": not denied,
        "checks": [{"what": check.what, **check.decision.as_dict()} for check in checks],
        "denied": [{"what": check.what, "project": check.request.project, "object": check.request.object_name,
                    "action": check.request.action, "columns": list(check.decision.denied_columns),
                    "step": str(check.decision.step), "reason": check.decision.reason} for check in denied],
    }


def limit_validated(limit) -> int:
    if limit in (None, ""):
        return settings.GATEWAY_DEFAULT_ROWS
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise ValidationError({"limit": "Give a whole number of rows."}) from None
    if not 1 <= value <= settings.GATEWAY_MAX_ROWS:
        raise ValidationError({"limit": f"Give a number of rows from 1 to {settings.GATEWAY_MAX_ROWS:,} "
                                        "(GATEWAY_MAX_ROWS)."})
    return value


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, (uuid.UUID, datetime.timedelta)):
        return str(value)
    return str(value)


def _record(actor, project: Project, *, sql: str, text: str, request, channel, decision: str, details: dict,
            action: str = "gateway.query"):
    """``sql`` is the statement as the gateway understood it (names qualified, no comments);
    ``text`` as the caller wrote it."""
    details = {"sql": sql[:20_000], "text": text[:20_000], **details}
    return audit.record(actor, action, project, project=project, request=request, decision=decision,
                        details=details, channel=channel)


def _details(prepared: Prepared) -> dict:
    return {
        "kind": str(prepared.kind),
        "reads": prepared.reads,
        "writes": prepared.writes,
        "masked": prepared.masked,
        "row_filtered": prepared.row_filtered,
        "requests": [access_request_as_dict(check.request) for check in prepared.checks],
        "decision": decision_summary(prepared.checks),
    }


def failure_of(error: Exception) -> QueryFailed:
    cause = error.__cause__ if isinstance(error, DatabaseError) and error.__cause__ is not None else error
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return QueryFailed(f"The statement ran longer than {settings.GATEWAY_STATEMENT_TIMEOUT_MS:,} ms "
                           "(GATEWAY_STATEMENT_TIMEOUT_MS) and was cancelled.")
    if isinstance(cause, psycopg.errors.InsufficientPrivilege):
        return QueryFailed("The warehouse refused the statement: the gateway's database role may not do that.")
    message = str(getattr(cause, "diag", None) and cause.diag.message_primary or cause).split("\n", 1)[0]
    return QueryFailed(f"The warehouse refused the statement: {message}")


def _schemas(prepared: Prepared) -> set[str]:
    schemas = {name.project for name in prepared.known}
    if prepared.target is not None:
        schemas.add(prepared.target.project)
    return schemas


# Types whose values leave Warden as PostgreSQL writes them: exact (numeric keeps every digit)
# and cheaper than making Python objects only to turn them back into text for JSON.
TEXT_TYPES = ("numeric", "date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "inet", "cidr",
              "macaddr", "money", "bit", "varbit", "tsvector", "xml")
# Values of these types are JSON as psycopg loads them.
JSON_READY_TYPES = frozenset({"int2", "int4", "int8", "oid", "float4", "float8", "bool", "text", "varchar", "bpchar",
                              "name", "char", "json", "jsonb", "unknown", *TEXT_TYPES})


def _select(prepared: Prepared, limit: int) -> tuple[list[str], list[str], list[list], bool]:
    connection = connections[WAREHOUSE]
    with transaction.atomic(using=WAREHOUSE), connection.cursor() as cursor:
        schemas_prepared(cursor, _schemas(prepared))
        with restricted(cursor):
            # A server-side cursor: a query over a billion rows costs the rows read, not the
            # rows the table holds in this process's memory.
            with connection.connection.cursor(name=f"gateway_{secrets.token_hex(6)}") as rows_cursor:
                for type_name in TEXT_TYPES:
                    rows_cursor.adapters.register_loader(type_name, TextLoader)
                rows_cursor.execute(prepared.runnable)
                rows = rows_cursor.fetchmany(limit + 1)
                description = rows_cursor.description or []
    names = [column.name for column in description]
    types = [_type_name(connection, column.type_code) for column in description]
    truncated = len(rows) > limit
    if truncated:
        del rows[limit:]
    rows = list(map(list, rows))
    converted = [index for index, type_name in enumerate(types) if type_name not in JSON_READY_TYPES]
    if converted:
        for row in rows:
            for index in converted:
                row[index] = _json_value(row[index])
    return names, types, rows, truncated


_type_names: dict[int, str] = {}


def _type_name(connection, oid: int) -> str:
    if oid not in _type_names:
        info = psycopg.postgres.types.get(oid)
        if info is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT format_type(%s, NULL)", [oid])
                _type_names[oid] = cursor.fetchone()[0]
        else:
            _type_names[oid] = info.name
    return _type_names[oid]


def _write(actor, project: Project, prepared: Prepared) -> int:
    """Run a write and bring the catalog along, inside the caller's transaction."""
    connection = connections[WAREHOUSE]
    with transaction.atomic(using=WAREHOUSE), connection.cursor() as cursor:
        schemas_prepared(cursor, _schemas(prepared))
        with restricted(cursor, as_gateway=prepared.kind != StatementKind.DROP_TABLE):
            cursor.execute(prepared.runnable)
            written = max(cursor.rowcount, 0)
        target = prepared.target
        if prepared.kind in DDL_KINDS:
            target_project = Project.objects.get(name=target.project)
            warehouse_tables_sync(project=target_project, names=frozenset({target.name}),
                                  summary=f"{prepared.kind.replace('_', ' ')} {target} through the gateway")
            if prepared.kind != StatementKind.DROP_TABLE:
                Table.objects.filter(data_source__project=target_project, name=target.name, is_dropped=False) \
                    .update(owner=actor)
        if prepared.lineage:
            _lineage_record(actor, prepared)
    return written


def _lineage_record(actor, prepared: Prepared) -> None:
    wanted = {(edge[0], edge[1]) for edge in prepared.lineage} | {(edge[2], edge[3]) for edge in prepared.lineage}
    projects = {name.project for name, _ in wanted}
    columns = {}
    for column in (Column.objects.filter(table__data_source__project__name__in=projects,
                                         table__name__in={name.name for name, _ in wanted},
                                         table__is_dropped=False, is_dropped=False)
                   .select_related("table__data_source__project")):
        columns[(column.table.data_source.project.name, column.table.name, column.name)] = column
    edges = []
    for source, source_column, target, target_column in prepared.lineage:
        pair = (columns.get((source.project, source.name, source_column)),
                columns.get((target.project, target.name, target_column)))
        if None not in pair:
            edges.append(pair)
    lineage_edges_record(actor=actor, edges=edges, description=f"{prepared.kind.replace('_', ' ')} through the gateway")
    if prepared.kind == StatementKind.CREATE_TABLE_AS:
        lineage_labels_inherit(edges=edges)


def query_run(*, actor, project: Project, sql: str, limit=None, source_ip: str | None = None, request=None,
              channel=None, download: bool = False) -> QueryResult:
    """Check, rewrite, run and audit one statement of ``actor``'s in ``project`` (which the
    caller has already found among the projects ``actor`` may see). ``download``: a SELECT
    whose rows become a file (``exports``): Download is checked too, up to
    GATEWAY_EXPORT_MAX_ROWS rows, audited as ``gateway.export``."""
    limit = settings.GATEWAY_EXPORT_MAX_ROWS if download else limit_validated(limit)
    action = "gateway.export" if download else "gateway.query"
    now = timezone.now()
    started = time.perf_counter()
    record = partial(_record, actor, project, action=action, text=sql, request=request, channel=channel)
    with limits.query_slot(actor) as slot:
        try:
            prepared = statement_prepare(actor=actor, project=project, sql=sql, now=now, source_ip=source_ip,
                                         download=download)
        except QueryRefused as refusal:
            record(sql=sql, decision=AuditDecision.DENY,
                   details={"refused": refusal.message, "position": refusal.position})
            raise
        if prepared.denied:
            record(sql=prepared.sql, decision=AuditDecision.DENY, details=_details(prepared))
            raise QueryDenied(prepared.checks)
        try:
            if prepared.kind == StatementKind.SELECT:
                columns, types, rows, truncated = _select(prepared, limit)
                result = _result(prepared, columns, types, rows, truncated, None, started)
                result.event_id = record(sql=prepared.sql, decision=AuditDecision.ALLOW,
                                         details=_run_details(result)).pk
            else:
                with transaction.atomic():
                    written = _write(actor, project, prepared)
                    result = _result(prepared, [], [], [], False, written, started)
                    result.event_id = record(sql=prepared.sql, decision=AuditDecision.ALLOW,
                                             details=_run_details(result)).pk
        except (DatabaseError, psycopg.Error) as error:
            failure = failure_of(error)
            record(sql=prepared.sql, decision=AuditDecision.ALLOW,
                   details={**_details(prepared), "failed": str(failure),
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            raise failure from None
        slot.rows = len(result.rows)
    return result


def _result(prepared: Prepared, columns, types, rows, truncated, written, started) -> QueryResult:
    flags = prepared.masked_outputs
    return QueryResult(kind=prepared.kind, columns=columns, column_types=types, rows=rows,
                       masked_columns=[name for name, flag in zip(columns, flags) if flag], truncated=truncated,
                       rows_written=written, duration_ms=round((time.perf_counter() - started) * 1000, 2),
                       prepared=prepared)


def _run_details(result: QueryResult) -> dict:
    prepared = result.prepared
    details = {**_details(prepared), "rows": result.row_count, "truncated": result.truncated,
               "masked_columns": result.masked_columns, "duration_ms": result.duration_ms}
    if prepared.lineage:
        details["lineage"] = [f"{source}.{column} -> {target}.{target_column}"
                              for source, column, target, target_column in prepared.lineage]
    return details
