"""Static masking: a masked copy of a warehouse table, written into a project's schema by a
Celery job (``tasks.masking_job_run``).

**Starting** (``masking_job_start``) asks ``authorize`` what the gateway would ask of the
same copy written as CREATE TABLE AS SELECT in the source's project: Select on every live
column of the source, with the target project as the destination when the copy leaves the
source's project (so ProjectProtection, trusted projects and exceptions apply), and
CreateTable in the target project. The decision is taken once, when the job is asked for, as
for a statement sent to the gateway; the worker carries out what was allowed.

**The copy** (``masking_job_run``) masks every column any rule masks (``rule_masks``): the
copy is for sharing, so nobody's unmask grant applies, the requester's included. A rule whose
algorithm cannot mask the column's type writes NULL, as the gateway does: masking fails
closed. The target's columns take the source's names, and the type of the masking
algorithm's result for masked columns (``algorithm_result_type``), the source's otherwise.

Rows are copied in batches of about ``BATCH_ROWS`` by ranges of the source's pages (``ctid``),
all in one REPEATABLE READ transaction of the warehouse. One snapshot serves the count and
every batch, so each row the snapshot sees is copied exactly once whatever others write
meanwhile (a row updated during the copy has a new ctid, invisible to the snapshot), the
total is exact, a table needs no primary key, and each batch reads only its own pages (a TID
range scan) where ORDER BY ... OFFSET would read every earlier row again. Progress is written
to the job after each batch, outside that transaction, so pages and the API watch it; a
cancel is looked for between batches. A cancel or an error rolls the warehouse transaction
back, which drops the target table (it was made in that transaction).

**On success** the table enters the catalog (owned by the requester) in the same
transaction as the job's end and its audit event: lineage edges from each source column to
its copy, and for the columns copied in clear the source column's sensitivity level and
classification (``lineage_labels_inherit``). Masked columns take no label from their source:
they no longer hold the sensitive values, and a classification would make a type rule mask
the masked values a second time. Warden's transaction commits just before the warehouse's;
should that last commit fail, the job ends failed and the next harvest marks the catalog's
entry dropped.
"""

from __future__ import annotations

import datetime
import logging
import math
import re

import psycopg
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from apps import audit
from apps.audit.models import Channel
from apps.audit.models import Decision as AuditDecision
from apps.audit.services import request_source_ip
from apps.catalog.harvest import warehouse_tables_sync
from apps.catalog.lineage import lineage_edges_record, lineage_labels_inherit
from apps.catalog.models import Column, Table
from apps.masking.algorithms import algorithm_result_type, mask_sql
from apps.masking.expressions import quoted_identifier, quoted_table
from apps.masking.models import MaskingJob, MaskingJobStatus
from apps.masking.selectors import rule_masks
from apps.masking.services import masking_key_secret
from apps.permissions.decision import AccessRequest, Decision, RequestContext
from apps.permissions.runtime import SnapshotsOfOneDecision, decide
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities

logger = logging.getLogger(__name__)

WAREHOUSE = "warehouse"
BATCH_ROWS = 5_000
# An unquoted PostgreSQL identifier, as the gateway's CREATE TABLE would fold it.
TARGET_NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _Cancelled(Exception):
    pass


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- starting and cancelling -------------------------------------------------------------------

def _source_validated(actor, source_table: Table) -> Project:
    project = source_table.data_source.project
    if project.tenant_id != actor.tenant_id or not warehouse_tables(project).filter(pk=source_table.pk).exists():
        raise ValidationError({"source_table": "No such table in the project's warehouse schema."})
    return project


def _target_name_validated(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not TARGET_NAME_PATTERN.match(name) or name.startswith("pg_"):
        raise ValidationError({"target_name": "Use 1 to 63 characters: lowercase letters, digits and '_', not "
                                              "starting with a digit (nor with 'pg_')."})
    return name


def _target_name_free(target_project: Project, name: str) -> None:
    taken = f"Project {target_project.name} already has a table named {name}."
    if warehouse_tables(target_project).filter(name=name).exists():
        raise ValidationError({"target_name": taken})
    with connections[WAREHOUSE].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relname = %s", [target_project.schema_name, name])
        if cursor.fetchone() is not None:
            raise ValidationError({"target_name": taken})
    if MaskingJob.objects.active().filter(target_project=target_project, target_name=name).exists():
        raise ValidationError({"target_name": f"Another masking job is already writing "
                                              f"{target_project.name}.{name}."})


def masking_job_checks(*, actor, source_table: Table, target_project: Project, source_ip: str | None = None,
                       now=None) -> list[tuple[str, Decision]]:
    """What the copy asks ``authorize``, each with what it is and its decision."""
    source_project = source_table.data_source.project
    crosses = target_project.pk != source_project.pk
    context = RequestContext(source_ip=source_ip, current_time=now or timezone.now())
    columns = tuple(Column.objects.live().filter(table=source_table).values_list("name", flat=True))
    requests = [
        (f"Select on {source_project.name}.{source_table.name}",
         AccessRequest(principal=actor.principal_name, project=source_project.name, action="Select",
                       object_type="table", object_name=source_table.name, columns=columns, context=context,
                       destination_project=target_project.name if crosses else None)),
        (f"CreateTable in {target_project.name}",
         AccessRequest(principal=actor.principal_name, project=target_project.name, action="CreateTable",
                       object_type="project", object_name=target_project.name, context=context,
                       via_project=source_project.name if crosses else None)),
    ]
    snapshots = SnapshotsOfOneDecision()
    return [(what, decide(request, snapshots)) for what, request in requests]


def _masked_column_names(source_table: Table) -> list[str]:
    masks = rule_masks(tables=[source_table])[source_table.pk]
    return [name for name in Column.objects.live().filter(table=source_table).values_list("name", flat=True)
            if name.lower() in masks]


def _job_detail(job: MaskingJob) -> dict:
    return {"job": job.pk, "source": f"{job.project.name}.{job.source_table.name}",
            "target": f"{job.target_project.name}.{job.target_name}", "masked_columns": job.masked_columns}


@transaction.atomic
def masking_job_start(*, actor, source_table: Table, target_project: Project, target_name: str,
                      request=None) -> MaskingJob:
    """Queue a masked copy of ``source_table`` as ``target_name`` in ``target_project``; the
    Celery task starts once this commits. PermissionDenied, with the decision's reason, when
    ``authorize`` refuses any part of the copy."""
    project = _source_validated(actor, source_table)
    if target_project.tenant_id != actor.tenant_id:
        raise ValidationError({"target_project": "No such project."})
    target_name = _target_name_validated(target_name)
    checks = masking_job_checks(actor=actor, source_table=source_table, target_project=target_project,
                                source_ip=request_source_ip(request))
    for what, decision in checks:
        if not decision.allowed:
            raise PermissionDenied(f"{what}: {decision.reason}")
    _target_name_free(target_project, target_name)
    job = MaskingJob.objects.create(
        tenant_id=project.tenant_id, project=project, source_table=source_table, target_project=target_project,
        target_name=target_name, requested_by=actor, progress_message="Waiting for a worker",
        masked_columns=_masked_column_names(source_table))
    audit.record(actor, "masking.job_start", job, project=project, request=request, decision=AuditDecision.ALLOW,
                 details={**_job_detail(job), "checks": [{"what": what, **decision.as_dict()}
                                                         for what, decision in checks]})
    _schedule(job)
    return job


def _schedule(job: MaskingJob) -> None:
    from apps.masking.tasks import masking_job_run

    transaction.on_commit(lambda: masking_job_run.delay(job.pk))


def may_cancel(actor, job: MaskingJob) -> bool:
    if actor is None or not actor.is_authenticated:
        return False
    return job.requested_by_id == actor.pk or Capability.MANAGE_SECURITY in project_capabilities(actor, job.project)


@transaction.atomic
def masking_job_cancel(*, actor, job: MaskingJob, request=None) -> MaskingJob:
    """Ask a running job to stop after its current batch (the worker drops what it wrote);
    a job no worker has taken yet ends at once. For the requester and those who manage the
    source project's security."""
    job = MaskingJob.objects.select_for_update(of=("self",)).select_related(
        "project", "source_table", "target_project").get(pk=job.pk)
    if not may_cancel(actor, job):
        raise PermissionDenied(f"Only whoever started masking job {job.pk} and the security administrators of "
                               f"project {job.project.name} cancel it.")
    if not job.is_active:
        raise ValidationError({"status": f"Masking job {job.pk} has already ended ({job.get_status_display()})."})
    if job.cancel_requested:
        return job
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.status == MaskingJobStatus.QUEUED:
        job.status, job.finished_at, job.progress_message = MaskingJobStatus.CANCELLED, timezone.now(), "Cancelled"
        fields += ["status", "finished_at", "progress_message"]
    job.save(update_fields=fields)
    audit.record(actor, "masking.job_cancel", job, project=job.project, request=request,
                 details={**_job_detail(job), "status": job.status})
    return job


# --- the runner ----------------------------------------------------------------------------------

def _begin(job_id: int) -> MaskingJob | None:
    """Mark a queued job running; None if it is not (any more) queued, so a task delivered
    twice copies once."""
    with transaction.atomic():
        job = (MaskingJob.objects.select_for_update(of=("self",))
               .select_related("project", "source_table", "target_project", "requested_by").filter(pk=job_id).first())
        if job is None or job.status != MaskingJobStatus.QUEUED:
            return None
        job.status, job.started_at = MaskingJobStatus.RUNNING, timezone.now()
        job.heartbeat_at = job.started_at
        job.progress, job.progress_message = 0, "Counting rows"
        job.save(update_fields=["status", "started_at", "heartbeat_at", "progress", "progress_message"])
    return job


def _projection(column: Column, mask, secret: bytes) -> tuple[str, str]:
    """The column's expression in the copy and the target column's type."""
    reference = quoted_identifier(column.name)
    if mask is None:
        return reference, column.data_type
    try:
        return (mask_sql(mask.algorithm, mask.params, reference, data_type=column.data_type, secret=secret),
                algorithm_result_type(mask.algorithm, mask.params, column.data_type))
    except ValidationError:
        return f"NULL::{column.data_type}", column.data_type


def _progress(job: MaskingJob) -> None:
    if job.rows_total:
        job.progress = min(99, job.rows_copied * 100 // job.rows_total)
    job.progress_message = f"Copied {job.rows_copied:,} of {job.rows_total:,} rows"
    MaskingJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total, rows_copied=job.rows_copied,
                                                progress=job.progress, progress_message=job.progress_message,
                                                heartbeat_at=timezone.now())


def _copy(job: MaskingJob, columns: list[Column], masks: dict, batch_rows: int) -> None:
    """Create the target and copy the source into it, batch by batch, in the warehouse
    transaction the caller holds open."""
    source = quoted_table(job.project.schema_name, job.source_table.name)
    target = quoted_table(job.target_project.schema_name, job.target_name)
    secret = masking_key_secret(tenant=job.tenant_id) if masks else b""
    projections = [_projection(column, masks.get(column.name.lower()), secret) for column in columns]
    names = ", ".join(quoted_identifier(column.name) for column in columns)
    with connections[WAREHOUSE].cursor() as cursor:
        # No parameters in any statement: quoted names may hold a "%".
        cursor.execute(f"SELECT count(*), pg_relation_size({_literal(source)}::regclass) "
                       f"/ current_setting('block_size')::bigint FROM {source}")
        job.rows_total, pages = cursor.fetchone()
        _progress(job)
        cursor.execute(f"CREATE TABLE {target} ("
                       + ", ".join(f"{quoted_identifier(column.name)} {kind}" for column, (_, kind) in zip(columns, projections))
                       + ")")
        insert = (f"INSERT INTO {target} ({names}) SELECT "
                  + ", ".join(expression for expression, _ in projections) + f" FROM {source}")
        pages_per_batch = max(1, math.ceil(pages * batch_rows / job.rows_total)) if job.rows_total else max(pages, 1)
        for first_page in range(0, max(pages, 1), pages_per_batch):
            last = first_page + pages_per_batch >= pages
            # The last batch has no upper bound: it takes any page added since the size was read.
            bounds = f" WHERE ctid >= '({first_page},0)'::tid" + (
                "" if last else f" AND ctid < '({first_page + pages_per_batch},0)'::tid")
            cursor.execute(insert + bounds)
            job.rows_copied += max(cursor.rowcount, 0)
            _progress(job)
            if MaskingJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                raise _Cancelled


def _register(job: MaskingJob, columns: list[Column], masked: list[str]) -> None:
    """The copy in the catalog, owned by the requester, with its lineage and labels; inside
    the warehouse transaction that made it, which the catalog reads."""
    target_project = job.target_project
    warehouse_tables_sync(project=target_project, names=frozenset({job.target_name}),
                          summary=f"masked copy of {job.project.name}.{job.source_table.name} (masking job {job.pk})")
    table = warehouse_tables(target_project).get(name=job.target_name)
    Table.objects.filter(pk=table.pk).update(owner=job.requested_by)
    copies = {column.name: column for column in Column.objects.live().filter(table=table)}
    edges = [(column, copies[column.name]) for column in columns if column.name in copies]
    lineage_edges_record(actor=job.requested_by, edges=edges, description=f"static masking job {job.pk}")
    lineage_labels_inherit(edges=[(source, copy) for source, copy in edges if source.name not in masked])


def _finish(job: MaskingJob, status: str, *, error: str = "") -> None:
    job.status, job.finished_at, job.error = status, timezone.now(), error
    if status == MaskingJobStatus.SUCCEEDED:
        job.progress, job.progress_message = 100, f"Copied {job.rows_copied:,} rows"
    else:
        job.progress_message = MaskingJobStatus(status).label
    job.save(update_fields=["status", "finished_at", "error", "progress", "progress_message", "rows_total",
                            "rows_copied", "masked_columns"])
    details = {**_job_detail(job), "status": status, "rows": job.rows_copied}
    if error:
        details["error"] = error
    audit.record(job.requested_by, "masking.job_finish", job, project=job.project, channel=Channel.SYSTEM,
                 details=details)


def _first_line(error: Exception) -> str:
    cause = error.__cause__ if isinstance(error, DatabaseError) and error.__cause__ is not None else error
    if isinstance(cause, psycopg.Error) and cause.diag.message_primary:
        message = cause.diag.message_primary
    else:
        message = str(cause) or type(cause).__name__
    return message.strip().split("\n", 1)[0][:500]


def masking_job_run(*, job_id: int, batch_rows: int = BATCH_ROWS) -> str | None:
    """Run one queued job to its end, outside any transaction (its progress must commit as
    it goes); returns its final status (None: nothing to do)."""
    job = _begin(job_id)
    if job is None:
        return None
    warehouse = connections[WAREHOUSE]
    opens_transaction = not warehouse.in_atomic_block
    try:
        columns = list(Column.objects.live().filter(table=job.source_table).order_by("ordinal", "pk"))
        masks = rule_masks(tables=[job.source_table])[job.source_table.pk]
        job.masked_columns = [column.name for column in columns if column.name.lower() in masks]
        with transaction.atomic(using=WAREHOUSE):
            if opens_transaction:
                with warehouse.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _copy(job, columns, masks, batch_rows)
            with transaction.atomic():
                _register(job, columns, job.masked_columns)
                _finish(job, MaskingJobStatus.SUCCEEDED)
    except _Cancelled:
        with transaction.atomic():
            _finish(job, MaskingJobStatus.CANCELLED)
        return MaskingJobStatus.CANCELLED
    except Exception as error:  # noqa: BLE001 - any failure ends the job as failed, with a reason
        logger.exception("masking job %s failed", job.pk)
        with transaction.atomic():
            _finish(job, MaskingJobStatus.FAILED, error=_first_line(error))
        return MaskingJobStatus.FAILED
    return MaskingJobStatus.SUCCEEDED


# --- jobs nobody finishes ----------------------------------------------------------------------

# A running job reports after every batch; one that has not for this long lost its worker (the
# warehouse rolled its copy back when the connection went). A queued one no worker took this
# long after it was queued lost its message.
SILENT_AFTER = datetime.timedelta(minutes=15)
UNTAKEN_AFTER = datetime.timedelta(hours=1)


def masking_jobs_abandoned(*, now=None) -> int:
    """End the jobs nobody will finish as failed, freeing their target names; returns how
    many (the beat task runs this)."""
    now = now or timezone.now()
    ended = 0
    with transaction.atomic():
        stale = (MaskingJob.objects.select_for_update(skip_locked=True)
                 .filter(Q(status=MaskingJobStatus.RUNNING, heartbeat_at__lt=now - SILENT_AFTER)
                         | Q(status=MaskingJobStatus.QUEUED, created_at__lt=now - UNTAKEN_AFTER))
                 .select_related("project"))
        for job in stale:
            was = job.status
            job.status, job.finished_at = MaskingJobStatus.FAILED, now
            job.error = ("Abandoned: the worker stopped reporting progress." if was == MaskingJobStatus.RUNNING
                         else "Abandoned: no worker took the job.")
            job.progress_message = MaskingJobStatus.FAILED.label
            job.save(update_fields=["status", "finished_at", "error", "progress_message"])
            audit.record(None, "masking.job_finish", job, project=job.project, channel=Channel.SYSTEM,
                         details={"job": job.pk, "status": job.status, "error": job.error})
            ended += 1
    return ended
