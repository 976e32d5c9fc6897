"""Reads about what went through the gateway, from the audit log: each statement is one
``gateway.query`` event (``apps.gateway.services``), so the log is the gateway's history."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q

from apps.audit.models import Decision as AuditDecision
from apps.audit.models import Event
from apps.audit.selectors import event_list
from apps.catalog.models import DataSourceKind, Table
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import is_tenant_admin, project_capabilities

QUERY_EVENT = "gateway.query"
HISTORY_SIZE = 20
RECENT_ACCESS_SIZE = 20


def statement_outcome(event: Event) -> str:
    """``ok``, ``refused`` (could not run as written), ``denied`` or ``failed``."""
    if "refused" in event.details:
        return "refused"
    if event.decision == AuditDecision.DENY:
        return "denied"
    if "failed" in event.details:
        return "failed"
    return "ok"


@dataclass(frozen=True)
class StatementEntry:
    occurred_at: datetime.datetime
    sql: str
    outcome: str
    rows: int | None


def query_history(*, user, project: Project, limit: int = HISTORY_SIZE) -> list[StatementEntry]:
    """``user``'s latest statements in ``project``, newest first."""
    events = event_list(user=user).filter(action=QUERY_EVENT, project=project, actor=user)[:limit]
    return [StatementEntry(occurred_at=event.occurred_at, sql=event.details.get("text") or event.details.get("sql", ""),
                           outcome=statement_outcome(event), rows=event.details.get("rows"))
            for event in events]


def may_see_table_access(user, project: Project) -> bool:
    """Who ran what against a table is the project's audit log: its auditors (the AUDIT
    capability: the owner, the workspace auditor role) and the tenant's administrators read it."""
    return is_tenant_admin(user) or Capability.AUDIT in project_capabilities(user, project)


@dataclass(frozen=True)
class TableAccess:
    occurred_at: datetime.datetime
    actor_name: str
    project_name: str
    kind: str
    outcome: str
    rows: int | None
    masked_columns: list[str]
    sql: str

    @property
    def kind_label(self) -> str:
        return self.kind.replace("_", " ")


def table_recent_access(*, user, table: Table, limit: int = RECENT_ACCESS_SIZE) -> list[TableAccess] | None:
    """The latest statements that read or wrote ``table``, from any project of the tenant,
    newest first; None when ``user`` may not read the table's project's audit log.
    ``masked_columns`` are the columns of this table the statement read masked."""
    project = table.data_source.project
    if not may_see_table_access(user, project):
        return None
    key = f"{project.name}.{table.name}"
    events = (event_list(user=user).filter(action=QUERY_EVENT)
              .filter(Q(details__reads__has_key=key) | Q(details__writes__has_key=key))[:limit])
    prefix = f"{key}."
    return [TableAccess(occurred_at=event.occurred_at, actor_name=event.actor_name, project_name=event.project_name,
                        kind=event.details.get("kind", ""), outcome=statement_outcome(event),
                        rows=event.details.get("rows"),
                        masked_columns=[name.removeprefix(prefix) for name in event.details.get("masked", [])
                                        if name.startswith(prefix)],
                        sql=event.details.get("sql", ""))
            for event in events]


def writable_table_names(*, project: Project) -> list[str]:
    """The live warehouse tables of ``project``, by name, for the upload form (whether the
    user may write one is the gateway's decision when they try)."""
    return list(Table.objects.filter(data_source__project=project, data_source__kind=DataSourceKind.WAREHOUSE,
                                     is_dropped=False).order_by("name").values_list("name", flat=True))
