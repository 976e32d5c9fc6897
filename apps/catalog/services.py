"""Every change to data sources and the start of harvests: atomic, validated,
permission-checked and audited in the same transaction. Harvests themselves run in
``apps.catalog.harvest`` (a Celery task).

Registering, changing, testing and harvesting a data source is for the project's admins:
whoever may manage the project's members (``Capability.MANAGE_MEMBERS``: the owner, the
tenant's owner and admins, project Super_Administrators and Admins).

A data source's password never appears in an audit event, a log line, an error message or
a repr: audit details say only whether one is set or was changed.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from apps import audit
from apps.audit.models import Channel
from apps.catalog import connectors, hooks
from apps.catalog.models import (
    DEFAULT_PORTS,
    HARVEST_INTERVAL_SECONDS,
    MAX_LEVEL,
    Column,
    DataSource,
    DataSourceKind,
    HarvestRun,
    HarvestSchedule,
    HarvestStatus,
    SensitiveType,
    Table,
    TLSMode,
)
from apps.catalog.search import search_documents_refresh
from apps.core import crypto
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities
from apps.tenancy.services import security_version_bump

logger = logging.getLogger(__name__)

WAREHOUSE_SOURCE_NAME = "warehouse"
EXTERNAL_KINDS = (DataSourceKind.POSTGRESQL, DataSourceKind.MYSQL)
# A queued or running harvest older than this has lost its worker; a new one may start.
HARVEST_ABANDONED_AFTER = datetime.timedelta(hours=1)
# The connection settings of a data source, as audit details show them (never the password).
CONNECTION_FIELDS = ("host", "port", "database", "username", "tls_mode")
# Changing any of these needs the password entered again (see data_source_update).
PASSWORD_BOUND_FIELDS = frozenset({"host", "port", "username", "tls_mode"})


def require_project_admin(actor, project: Project) -> None:
    if actor is None or Capability.MANAGE_MEMBERS not in project_capabilities(actor, project):
        raise PermissionDenied(f"Only the admins of project {project.name} manage its data sources.")


def _choice(field: str, value: str, choices) -> str:
    if value not in choices.values:
        raise ValidationError({field: f"Choose one of: {', '.join(choices.values)}."})
    return value


def _validated(data_source: DataSource) -> None:
    try:
        data_source.full_clean(exclude=["password_encrypted"])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def _set_password(data_source: DataSource, password: str) -> None:
    data_source.password_encrypted = (
        crypto.encrypt(password, purpose=connectors.PASSWORD_PURPOSE) if password else None
    )


def _summary(data_source: DataSource) -> dict:
    summary = {"kind": data_source.kind, "name": data_source.name,
               "harvest_schedule": data_source.harvest_schedule}
    if not data_source.is_warehouse:
        summary.update({field: getattr(data_source, field) for field in CONNECTION_FIELDS})
        summary["password_set"] = data_source.has_password
    return summary


# --- data sources -----------------------------------------------------------------------------

@transaction.atomic
def data_source_create(*, actor, project: Project, kind: str, name: str, host: str = "", port: int | None = None,
                       database: str = "", username: str = "", password: str = "",
                       tls_mode: str = TLSMode.PREFER, harvest_schedule: str = HarvestSchedule.MANUAL,
                       description: str = "", request=None) -> DataSource:
    """Register an external PostgreSQL or MySQL/MariaDB database in ``project``."""
    require_project_admin(actor, project)
    if kind == DataSourceKind.WAREHOUSE:
        raise ValidationError({"kind": "The project's warehouse schema is registered automatically."})
    _choice("kind", kind, DataSourceKind)
    _choice("tls_mode", tls_mode, TLSMode)
    _choice("harvest_schedule", harvest_schedule, HarvestSchedule)
    name = (name or "").strip()
    if DataSource.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"Project {project.name} already has a data source named '{name}'."})
    data_source = DataSource(
        tenant_id=project.tenant_id, project=project, kind=kind, name=name, description=(description or "").strip(),
        host=(host or "").strip(), port=port if port is not None else DEFAULT_PORTS[kind],
        database=(database or "").strip(), username=(username or "").strip(), tls_mode=tls_mode,
        harvest_schedule=harvest_schedule, created_by=actor,
    )
    _validated(data_source)
    _set_password(data_source, password or "")
    data_source.save()
    audit.record(actor, "catalog.data_source_create", data_source, project=project, request=request,
                 details=_summary(data_source))
    return data_source


_UNCHANGED = object()


@transaction.atomic
def data_source_update(*, actor, data_source: DataSource, name=_UNCHANGED, description=_UNCHANGED,
                       host=_UNCHANGED, port=_UNCHANGED, database=_UNCHANGED, username=_UNCHANGED,
                       password=_UNCHANGED, tls_mode=_UNCHANGED, harvest_schedule=_UNCHANGED,
                       request=None) -> DataSource:
    """Change what is passed; leave the rest. ``password=""`` removes the stored password.
    The warehouse source's connection is Warden's own: only its description and schedule
    change."""
    require_project_admin(actor, data_source.project)
    data_source = DataSource.objects.select_for_update().get(pk=data_source.pk)
    wanted = {"name": name, "description": description, "host": host, "port": port, "database": database,
              "username": username, "tls_mode": tls_mode, "harvest_schedule": harvest_schedule}
    wanted = {field: value for field, value in wanted.items() if value is not _UNCHANGED}
    if data_source.is_warehouse:
        fixed = set(wanted) - {"description", "harvest_schedule"}
        if password is not _UNCHANGED:
            fixed.add("password")
        if fixed:
            raise ValidationError({field: "The warehouse source connects as Warden itself; this cannot change."
                                   for field in sorted(fixed)})
    if "tls_mode" in wanted:
        _choice("tls_mode", wanted["tls_mode"], TLSMode)
    if "harvest_schedule" in wanted:
        _choice("harvest_schedule", wanted["harvest_schedule"], HarvestSchedule)
    if wanted.get("port") is not None:
        try:
            wanted["port"] = DataSource._meta.get_field("port").to_python(wanted["port"])
        except ValidationError as error:
            raise ValidationError({"port": error.messages}) from None
    changes = {}
    for field, value in wanted.items():
        if isinstance(value, str):
            value = value.strip()
        if value != getattr(data_source, field):
            changes[field] = {"from": getattr(data_source, field), "to": value}
            setattr(data_source, field, value)
    # The stored password is never sent anywhere but where it was entered for: whoever
    # points the source at another server, user or weaker TLS enters it again.
    redirected = sorted(set(changes) & PASSWORD_BOUND_FIELDS)
    if redirected and data_source.has_password and password is _UNCHANGED:
        raise ValidationError({"password": f"Enter the password again to change {', '.join(redirected)}: "
                                           "the stored one is only sent where it was entered for."})
    if "name" in changes and DataSource.objects.filter(project=data_source.project_id, name=data_source.name) \
            .exclude(pk=data_source.pk).exists():
        raise ValidationError({"name": f"Project {data_source.project.name} already has a data source named "
                                       f"'{data_source.name}'."})
    _validated(data_source)
    if password is not _UNCHANGED:
        _set_password(data_source, password or "")
        changes["password"] = "changed" if password else "removed"
    if changes:
        data_source.save()
        audit.record(actor, "catalog.data_source_update", data_source, project=data_source.project,
                     request=request, details=changes)
    return data_source


@transaction.atomic
def data_source_delete(*, actor, data_source: DataSource, request=None) -> None:
    """Unregister an external source. Its catalog goes with it; the ``on_objects_dropped``
    hooks see its tables and columns first, so grants and labels on them go too."""
    require_project_admin(actor, data_source.project)
    if data_source.is_warehouse:
        raise ValidationError({"kind": "The project's warehouse source cannot be removed."})
    data_source = DataSource.objects.select_for_update().get(pk=data_source.pk)
    tables = list(Table.objects.filter(data_source=data_source, is_dropped=False))
    columns = list(Column.objects.filter(table__data_source=data_source, is_dropped=False))
    hooks.objects_dropped(data_source=data_source, tables=tables, columns=columns)
    audit.record(actor, "catalog.data_source_delete", data_source, project=data_source.project, request=request,
                 details={**_summary(data_source), "tables": len(tables), "columns": len(columns)})
    data_source.delete()


@transaction.atomic
def warehouse_source_ensure(*, project: Project) -> DataSource:
    """The project's warehouse schema as a data source, registered on first use.

    Called lazily (for example by ``project_harvest_start``) rather than by project
    creation: the tenancy app sits below the catalog and does not know it exists.
    """
    existing = DataSource.objects.filter(project=project, kind=DataSourceKind.WAREHOUSE).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            data_source = DataSource.objects.create(
                tenant_id=project.tenant_id, project=project, kind=DataSourceKind.WAREHOUSE,
                name=WAREHOUSE_SOURCE_NAME, tls_mode=TLSMode.DISABLE,
                description=f"The warehouse schema {project.schema_name} of project {project.name}.",
            )
    except IntegrityError:
        # Someone registered it (or took the name) at the same moment.
        return DataSource.objects.get(project=project, kind=DataSourceKind.WAREHOUSE)
    audit.record(None, "catalog.data_source_register", data_source, project=project, channel=Channel.SYSTEM,
                 details=_summary(data_source))
    return data_source


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def _check(params: connectors.ConnectionParameters) -> ConnectionCheck:
    try:
        version = connectors.check_connection(params)
    except connectors.DataSourceConnectionError as error:
        logger.info("connection test to %s:%s failed: %s", params.host, params.port, error)
        return ConnectionCheck(ok=False, message=str(error))
    return ConnectionCheck(ok=True, message=f"Connected to {params.host}:{params.port}: {version}")


def data_source_test_connection(*, actor, data_source: DataSource) -> ConnectionCheck:
    """Log in to the source with its stored settings and report, in words, what happened."""
    require_project_admin(actor, data_source.project)
    if data_source.is_warehouse:
        with connections["warehouse"].cursor() as cursor:
            cursor.execute("SELECT version()")
            return ConnectionCheck(ok=True, message=f"Connected to the warehouse: {cursor.fetchone()[0]}")
    return _check(connectors.ConnectionParameters.of(data_source))


def connection_parameters_test(*, actor, project: Project, kind: str, host: str, port: int | None, database: str,
                               username: str, password: str = "", tls_mode: str = TLSMode.PREFER
                               ) -> ConnectionCheck:
    """The same test for settings not saved yet (the "test connection" button of the form)."""
    require_project_admin(actor, project)
    if kind not in EXTERNAL_KINDS:
        raise ValidationError({"kind": f"Choose one of: {', '.join(EXTERNAL_KINDS)}."})
    _choice("tls_mode", tls_mode, TLSMode)
    params = connectors.ConnectionParameters(
        kind=kind, host=(host or "").strip(), port=port or DEFAULT_PORTS[kind], database=(database or "").strip(),
        username=(username or "").strip(), password=password or "", tls_mode=tls_mode,
    )
    return _check(params)


# --- sensitivity -----------------------------------------------------------------------------

@transaction.atomic
def column_classify(*, actor, column: Column, sensitivity_level=_UNCHANGED, classification=_UNCHANGED,
                    request=None) -> Column:
    """Set a column's sensitivity level (0-9, or None) and classification (a sensitive type
    of the column's tenant or a built-in one, or None) by hand.

    A classification given without a level brings its type's default level. Levels decide
    access under LabelSecurity, so this is the project's security configuration
    (``Capability.MANAGE_SECURITY``) and bumps the project's security version.
    """
    data_source = column.table.data_source
    project = data_source.project
    if actor is None or Capability.MANAGE_SECURITY not in project_capabilities(actor, project):
        raise PermissionDenied(f"Only the security administrators of project {project.name} classify columns.")
    column = Column.objects.select_for_update().get(pk=column.pk)
    if column.is_dropped:
        raise ValidationError({"column": f"{column.name} was dropped from its table."})
    if classification is not _UNCHANGED and classification is not None:
        if classification.tenant_id not in (None, data_source.tenant_id):
            raise ValidationError({"classification": "No such sensitive type."})
        if sensitivity_level is _UNCHANGED:
            sensitivity_level = classification.default_level
    if sensitivity_level is not _UNCHANGED and sensitivity_level is not None:
        if isinstance(sensitivity_level, bool) or not isinstance(sensitivity_level, int) \
                or not 0 <= sensitivity_level <= MAX_LEVEL:
            raise ValidationError({"sensitivity_level": f"Use a whole number from 0 to {MAX_LEVEL}."})
    changes = {}
    if sensitivity_level is not _UNCHANGED and sensitivity_level != column.sensitivity_level:
        changes["sensitivity_level"] = {"from": column.sensitivity_level, "to": sensitivity_level}
        column.sensitivity_level = sensitivity_level
    if classification is not _UNCHANGED and getattr(classification, "pk", None) != column.classification_id:
        old = SensitiveType.objects.filter(pk=column.classification_id).values_list("code", flat=True).first()
        changes["classification"] = {"from": old, "to": getattr(classification, "code", None)}
        column.classification = classification
    if changes:
        column.save(update_fields=["sensitivity_level", "classification"])
        search_documents_refresh(tables=[column.table_id])
        security_version_bump(project, actor=actor, summary=f"classify {column.table.name}.{column.name}: "
                              + ", ".join(f"{name} {change['to']}" for name, change in changes.items()))
        audit.record(actor, "catalog.column_classify", column, project=project, request=request, details=changes)
    return column


# --- harvests ---------------------------------------------------------------------------------

def _schedule_harvest(run: HarvestRun) -> None:
    from apps.catalog.tasks import harvest

    transaction.on_commit(lambda: harvest.delay(run.pk))


def _enqueue(*, actor, data_source: DataSource, request=None) -> HarvestRun:
    # The row lock makes two simultaneous requests queue one harvest, not two.
    DataSource.objects.select_for_update().filter(pk=data_source.pk).first()
    now = timezone.now()
    active = HarvestRun.objects.active().filter(data_source=data_source)
    abandoned = list(active.filter(created_at__lt=now - HARVEST_ABANDONED_AFTER))
    for run in abandoned:
        run.status, run.finished_at = HarvestStatus.FAILED, now
        run.error = "Abandoned: no worker finished this harvest within an hour."
        run.save(update_fields=["status", "finished_at", "error"])
    running = active.exclude(pk__in=[run.pk for run in abandoned]).first()
    if running is not None:
        raise ValidationError({"data_source": f"A harvest of {data_source.name} is already {running.status} "
                                              f"(run {running.pk})."})
    run = HarvestRun.objects.create(data_source=data_source, requested_by=actor,
                                    progress_message="Waiting for a worker")
    audit.record(actor, "catalog.harvest_start", data_source, project=data_source.project, request=request,
                 details={"run": run.pk})
    _schedule_harvest(run)
    return run


@transaction.atomic
def harvest_start(*, actor, data_source: DataSource, request=None) -> HarvestRun:
    """Queue a harvest of ``data_source``; the Celery task starts once this commits."""
    require_project_admin(actor, data_source.project)
    return _enqueue(actor=actor, data_source=data_source, request=request)


@transaction.atomic
def project_harvest_start(*, actor, project: Project, request=None) -> HarvestRun:
    """Queue a harvest of the project's warehouse schema, registering it first if needed."""
    require_project_admin(actor, project)
    return _enqueue(actor=actor, data_source=warehouse_source_ensure(project=project), request=request)


def harvest_start_due(*, now: datetime.datetime | None = None) -> list[HarvestRun]:
    """Queue a harvest of every scheduled source whose interval has passed since its last
    harvest (run by beat). Each source is queued in its own transaction, so one busy source
    does not hold up the rest."""
    now = now or timezone.now()
    started = []
    for schedule, seconds in HARVEST_INTERVAL_SECONDS.items():
        due = (
            DataSource.objects.filter(harvest_schedule=schedule)
            .exclude(last_harvest_at__gt=now - datetime.timedelta(seconds=seconds))
            .select_related("project")
        )
        for data_source in due:
            try:
                with transaction.atomic():
                    started.append(_enqueue(actor=None, data_source=data_source))
            except ValidationError:
                continue
    return started
