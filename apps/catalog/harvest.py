"""Harvesting: bring the catalog of one data source in step with what the source holds.

A harvest reads every table, view and column in two metadata queries
(``connectors.read_metadata``), then compares them with the catalog in one transaction:

- a table or column the catalog lacks is added;
- a changed kind, type, nullability or comment is updated (row estimates and column
  positions are refreshed silently: they move all the time and are no news);
- a table or column the source no longer has is marked dropped, never deleted, and one
  that reappears is revived with everything attached to it;
- the ``on_objects_dropped`` hooks see what was dropped, inside the same transaction.

The run's change list records each change (see ``HarvestRun``). A dropped table's columns
are marked dropped with it but listed once, as the table; likewise a revived table's.

Progress (the percentage of tables compared) is written through a database connection of
its own, so pages can watch it while the harvest's transaction is still open.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from apps import audit
from apps.audit.models import Channel
from apps.catalog import connectors, hooks, search
from apps.catalog.models import Column, DataSource, DataSourceKind, HarvestRun, HarvestStatus, Table
from apps.tenancy.services import security_version_bump

logger = logging.getLogger(__name__)

TABLE_FIELDS = ("kind", "comment")
COLUMN_FIELDS = ("data_type", "nullable", "comment")


class ProgressReporter:
    """Writes a run's progress through its own autocommit connection, at most every
    ``interval`` seconds (and whenever ``force`` is set)."""

    def __init__(self, run: HarvestRun, interval: float = 0.5):
        self.run_id = run.pk
        self.interval = interval
        self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self._last_at = 0.0
        self._last_percent = -1

    def report(self, percent: int, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (percent == self._last_percent or now - self._last_at < self.interval):
            return
        self._last_at, self._last_percent = now, percent
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {HarvestRun._meta.db_table} SET progress = %s, progress_message = %s "
                "WHERE id = %s AND status = %s",
                [percent, message[:200], self.run_id, HarvestStatus.RUNNING],
            )

    def close(self) -> None:
        self._connection.close()


class ChangeList:
    def __init__(self):
        self.entries: list[dict] = []
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, obj: str, change: str, schema: str, table: str, column: str | None = None, **extra) -> None:
        entry = {"object": obj, "change": change, "schema": schema, "table": table}
        if column is not None:
            entry["column"] = column
        entry.update(extra)
        self.entries.append(entry)
        self.counts[f"{obj}s_{change}"] += 1


def _field_changes(obj, info, fields) -> dict:
    return {field: {"from": getattr(obj, field), "to": getattr(info, field)}
            for field in fields if getattr(obj, field) != getattr(info, field)}


NEW_COLUMNS_BATCH = 10_000


def _insert_new_columns(new_columns: list[tuple[Table, connectors.ColumnInfo]], now) -> None:
    """Insert the new columns with one ``INSERT ... SELECT FROM unnest(...)`` per batch: for
    a first harvest of 100,000 columns, building model instances for ``bulk_create`` costs
    far more than the database does. The new columns of new tables take their table's id,
    set by the tables' ``bulk_create`` just before."""
    sql = (
        f"INSERT INTO {Column._meta.db_table} (table_id, name, ordinal, data_type, nullable, comment, description, "
        "is_dropped, first_seen_at, last_seen_at) "
        "SELECT u.table_id, u.name, u.ordinal, u.data_type, u.nullable, u.comment, '', false, %s, %s "
        "FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[], %s::boolean[], %s::text[]) "
        "AS u(table_id, name, ordinal, data_type, nullable, comment)"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(new_columns), NEW_COLUMNS_BATCH):
            batch = new_columns[start:start + NEW_COLUMNS_BATCH]
            cursor.execute(sql, [now, now, [table.pk for table, _ in batch], [info.name for _, info in batch],
                                 [info.ordinal for _, info in batch], [info.data_type for _, info in batch],
                                 [info.nullable for _, info in batch], [info.comment for _, info in batch]])


def apply_metadata(*, data_source: DataSource, metadata: connectors.SourceMetadata,
                   progress: ProgressReporter | None = None, only_tables: frozenset[str] | None = None,
                   summary: str = "") -> ChangeList:
    """Compare ``metadata`` with the catalog of ``data_source`` and apply the differences.
    With ``only_tables``, ``metadata`` holds just those tables and the rest of the catalog is
    left alone. Call inside a transaction; returns the change list."""
    now = timezone.now()
    changes = ChangeList()
    known_tables = Table.objects.filter(data_source=data_source)
    if only_tables is not None:
        known_tables = known_tables.filter(name__in=only_tables)
    tables = {(t.schema, t.name): t for t in known_tables}
    columns_of: dict[int, dict[str, Column]] = defaultdict(dict)
    for column in Column.objects.filter(table__in=[table.pk for table in tables.values()]):
        columns_of[column.table_id][column.name] = column
    remote_columns: dict[tuple[str, str], list[connectors.ColumnInfo]] = defaultdict(list)
    for info in metadata.columns:
        remote_columns[(info.schema, info.table)].append(info)

    new_tables: list[Table] = []
    new_columns: list[tuple[Table, connectors.ColumnInfo]] = []
    changed_tables: list[Table] = []
    changed_columns: list[Column] = []
    dropped_columns: list[Column] = []
    seen_tables: set[int] = set()
    total = len(metadata.tables)

    for index, info in enumerate(metadata.tables, start=1):
        key = (info.schema, info.name)
        table = tables.get(key)
        if table is None:
            table = Table(data_source=data_source, schema=info.schema, name=info.name, kind=info.kind,
                          comment=info.comment, row_estimate=info.row_estimate, first_seen_at=now,
                          last_seen_at=now)
            new_tables.append(table)
            new_columns.extend((table, column) for column in remote_columns[key])
            changes.add("table", "added", *key, columns=[column.name for column in remote_columns[key]])
        else:
            seen_tables.add(table.pk)
            revived = table.is_dropped
            fields = _field_changes(table, info, TABLE_FIELDS)
            if revived:
                changes.add("table", "revived", *key, **({"fields": fields} if fields else {}))
            elif fields:
                changes.add("table", "changed", *key, fields=fields)
            if revived or fields or table.row_estimate != info.row_estimate:
                table.kind, table.comment, table.row_estimate = info.kind, info.comment, info.row_estimate
                table.is_dropped, table.dropped_at = False, None
                changed_tables.append(table)
            _compare_columns(table, remote_columns[key], columns_of[table.pk], now, changes, quiet=revived,
                             new_columns=new_columns, changed_columns=changed_columns,
                             dropped_columns=dropped_columns)
        if progress is not None:
            progress.report(min(99, 100 * index // total), f"Compared {index} of {total} tables",
                            force=index == total)

    dropped_tables = [t for t in tables.values() if t.pk not in seen_tables and not t.is_dropped]
    for table in dropped_tables:
        changes.add("table", "dropped", table.schema, table.name)
        table.is_dropped, table.dropped_at = True, now
        for column in columns_of[table.pk].values():
            if not column.is_dropped:
                column.is_dropped, column.dropped_at = True, now
                dropped_columns.append(column)

    Table.objects.bulk_create(new_tables, batch_size=1000)
    _insert_new_columns(new_columns, now)
    Table.objects.bulk_update(changed_tables + dropped_tables,
                              ["kind", "comment", "row_estimate", "is_dropped", "dropped_at"], batch_size=1000)
    Column.objects.bulk_update(changed_columns + dropped_columns,
                               ["ordinal", "data_type", "nullable", "comment", "is_dropped", "dropped_at"],
                               batch_size=2000)
    # Everything still live was seen just now (what was added just now says so already).
    seen_now = Table.objects.filter(data_source=data_source, is_dropped=False)
    if only_tables is not None:
        seen_now = seen_now.filter(name__in=only_tables)
    seen_now.exclude(last_seen_at=now).update(last_seen_at=now)
    Column.objects.filter(table__in=seen_now, is_dropped=False).exclude(last_seen_at=now).update(last_seen_at=now)
    search.search_documents_refresh(
        tables={t.pk for t in new_tables + changed_tables + dropped_tables}
        | {table.pk for table, _ in new_columns} | {c.table_id for c in changed_columns + dropped_columns})

    hooks.objects_dropped(data_source=data_source, tables=dropped_tables, columns=dropped_columns)
    if data_source.kind == DataSourceKind.WAREHOUSE and (new_tables or new_columns or changed_tables or dropped_tables
                                                         or changed_columns or dropped_columns):
        # The warehouse's tables are what grants and labels refer to, and what the gateway's
        # plans and masks are made of: they must see them appear, change and go.
        security_version_bump(data_source.project, summary=summary or f"harvest of {data_source.name}")
    changes.counts["tables_seen"] = total
    changes.counts["columns_seen"] = len(metadata.columns)
    return changes


def warehouse_tables_sync(*, project, names: frozenset[str], summary: str) -> ChangeList:
    """Bring the catalog's entries for the tables ``names`` of ``project``'s warehouse schema
    in step with the warehouse as the current transaction of the ``warehouse`` connection sees
    it: the gateway calls this right after its own CREATE or DROP, before either commits, so
    grants, labels and search see a new table at once."""
    from apps.catalog.services import warehouse_source_ensure

    data_source = warehouse_source_ensure(project=project)
    metadata = connectors.read_metadata(data_source, names)
    return apply_metadata(data_source=data_source, metadata=metadata, only_tables=names, summary=summary)


def _compare_columns(table: Table, remote: list[connectors.ColumnInfo], known: dict[str, Column], now,
                     changes: ChangeList, *, quiet: bool, new_columns: list, changed_columns: list,
                     dropped_columns: list) -> None:
    """Column differences of a table the catalog knows. ``quiet``: the table itself was just
    revived, so its columns coming back are not listed one by one."""
    seen = set()
    for info in remote:
        seen.add(info.name)
        column = known.get(info.name)
        if column is None:
            new_columns.append((table, info))
            changes.add("column", "added", table.schema, table.name, info.name, data_type=info.data_type)
            continue
        fields = _field_changes(column, info, COLUMN_FIELDS)
        revived = column.is_dropped
        if revived and not quiet:
            changes.add("column", "revived", table.schema, table.name, info.name,
                        **({"fields": fields} if fields else {}))
        elif fields:
            changes.add("column", "changed", table.schema, table.name, info.name, fields=fields)
        if revived or fields or column.ordinal != info.ordinal:
            column.ordinal, column.data_type = info.ordinal, info.data_type
            column.nullable, column.comment = info.nullable, info.comment
            column.is_dropped, column.dropped_at = False, None
            changed_columns.append(column)
    for name, column in known.items():
        if name not in seen and not column.is_dropped:
            changes.add("column", "dropped", table.schema, table.name, name)
            column.is_dropped, column.dropped_at = True, now
            dropped_columns.append(column)


# --- one run -----------------------------------------------------------------------------------

def _begin(run_id: int) -> HarvestRun | None:
    """Mark a queued run running; None if it is not (any more) queued, so a task delivered
    twice harvests once."""
    with transaction.atomic():
        run = (HarvestRun.objects.select_for_update(of=("self",)).select_related("data_source__project", "requested_by")
               .filter(pk=run_id).first())
        if run is None or run.status != HarvestStatus.QUEUED:
            return None
        run.status, run.started_at = HarvestStatus.RUNNING, timezone.now()
        run.progress, run.progress_message = 0, f"Reading the metadata of {run.data_source.name}"
        run.save(update_fields=["status", "started_at", "progress", "progress_message"])
    return run


def _finish(run: HarvestRun, *, status: str, counts: dict, changes: list, error: str = "") -> None:
    now = timezone.now()
    data_source = run.data_source
    run.status, run.finished_at, run.error = status, now, error
    run.counts, run.changes = counts, changes
    if status == HarvestStatus.SUCCEEDED:
        run.progress, run.progress_message = 100, "Done"
    else:
        run.progress_message = "Failed"
    run.save(update_fields=["status", "finished_at", "error", "counts", "changes", "progress",
                            "progress_message"])
    DataSource.objects.filter(pk=data_source.pk).update(last_harvest_status=status, last_harvest_at=now)
    details = {"run": run.pk, "status": status, **counts}
    if error:
        details["error"] = error
    audit.record(run.requested_by, "catalog.harvest", data_source, project=data_source.project,
                 channel=Channel.SYSTEM, details=details)


def harvest_run_execute(*, run_id: int) -> str | None:
    """Run one queued harvest to its end; returns its final status (None: nothing to do)."""
    run = _begin(run_id)
    if run is None:
        return None
    data_source = run.data_source
    progress = ProgressReporter(run)
    try:
        metadata = connectors.read_metadata(data_source)
        progress.report(0, f"Comparing {len(metadata.tables)} tables", force=True)
        with transaction.atomic():
            # One harvest of a source at a time changes its catalog.
            DataSource.objects.select_for_update().filter(pk=data_source.pk).first()
            changes = apply_metadata(data_source=data_source, metadata=metadata, progress=progress)
            # The progress connection must be done before this transaction touches the run's
            # row, or its next update would wait on our lock.
            progress.close()
            _finish(run, status=HarvestStatus.SUCCEEDED, counts=dict(changes.counts), changes=changes.entries)
    except Exception as error:  # noqa: BLE001 - any failure ends the run as failed, with a reason
        progress.close()
        if isinstance(error, connectors.DataSourceConnectionError):
            message = str(error)
            logger.warning("harvest %s of %s failed: %s", run.pk, data_source, message)
        else:
            message = f"The harvest failed: {type(error).__name__}: {error}"
            logger.exception("harvest %s of %s failed", run.pk, data_source)
        if not data_source.is_warehouse:
            message = connectors.scrub_password(message, connectors.password_of(data_source))
        with transaction.atomic():
            _finish(run, status=HarvestStatus.FAILED, counts={}, changes=[], error=message)
        return HarvestStatus.FAILED
    return HarvestStatus.SUCCEEDED
