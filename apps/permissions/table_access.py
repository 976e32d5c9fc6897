"""The table page's "who has access" panel: for each live column of a warehouse table,
which of the project's principals the engine lets Select it, and why (not).

The catalog shows the panel through its ``table_access_panels`` hook (it does not import
this app). Each principal is asked about all the table's columns at once; when a step
refuses some columns (a label, a grant covering only some), the rest are asked again, so
every column gets the answer it would get on its own. Asking about others takes the rights
of ``access.CHECK_OTHERS``; everybody else sees their own row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils import timezone

from apps.catalog.models import Column, Table
from apps.permissions.access import CHECK_OTHERS, STEP_TITLES, rule_description
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest, Decision
from apps.permissions.models import TableLabel
from apps.permissions.runtime import SnapshotsOfOneDecision, decide
from apps.permissions.selectors import grant_list, warehouse_tables
from apps.tenancy.selectors import member_list, project_capabilities

MAX_PRINCIPALS = 50
ACTION = "Select"


@dataclass
class ColumnAccess:
    name: str
    level: int
    level_source: str
    allowed: list[tuple[str, str]] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)


def _why(decision: Decision, column: str, grant_columns: dict[int, set[str]]) -> str:
    step = decision.trace[-1]
    rule = step.rule
    if rule and rule.get("kind") == "columns":
        # Several column grants together cover the request: name the one covering this column.
        rule = next((part for part in rule["rules"]
                     if part.get("kind") == "grant" and column in grant_columns.get(part["id"], ())), rule)
    # "owner" and "member" say less than the step's own words ("project owner").
    described = rule_description(rule) if rule and rule.get("kind") not in ("owner", "member") else ""
    title = STEP_TITLES.get(str(step.step), str(step.step))
    return f"{title}: {described}" if described and decision.allowed else f"{title}: {step.detail}"


def _answers(principal: str, table: Table, columns: list[str], grant_columns: dict[int, set[str]],
             snapshots: SnapshotsOfOneDecision) -> dict[str, tuple[bool, str]]:
    """``{column: (allowed, why)}`` for ``principal`` selecting each of ``columns``."""
    answers: dict[str, tuple[bool, str]] = {}
    remaining = columns
    context = RequestContext(current_time=timezone.now())
    while remaining:
        decision = decide(AccessRequest(principal=principal, project=table.data_source.project.name,
                                        action=ACTION, object_type="table", object_name=table.name,
                                        columns=tuple(remaining), context=context), snapshots)
        if decision.allowed:
            for column in remaining:
                answers[column] = (True, _why(decision, column, grant_columns))
            break
        refused = set(decision.denied_columns) or set(remaining)
        for column in refused:
            answers[column] = (False, _why(decision, column, grant_columns))
        remaining = [column for column in remaining if column not in refused]
    return answers


def table_access(*, user, table: Table) -> dict | None:
    """What the panel shows, or None for a table the permissions model does not govern."""
    project = table.data_source.project
    if table.is_dropped or not warehouse_tables(project).filter(pk=table.pk).exists():
        return None
    may_check_others = bool(CHECK_OTHERS & project_capabilities(user, project))
    members = member_list(user=user, project=project)
    if not may_check_others:
        members = members.filter(user=user)
    listed = list(members[:MAX_PRINCIPALS + 1])
    total = members.count() if len(listed) > MAX_PRINCIPALS else len(listed)
    principals = [membership.user for membership in listed[:MAX_PRINCIPALS]]
    if not may_check_others and not principals:
        principals = [user]

    columns = list(Column.objects.live().filter(table=table).order_by("ordinal", "name"))
    table_label = TableLabel.objects.filter(table=table).values_list("level", flat=True).first()
    rows = []
    for column in columns:
        if column.sensitivity_level is not None:
            level, source = column.sensitivity_level, "column label"
        elif table_label is not None:
            level, source = table_label, "table label"
        else:
            level, source = 0, "unlabelled"
        rows.append(ColumnAccess(column.name, level, source))

    grant_columns = {grant.pk: {name.lower() for name in grant.columns}
                     for grant in grant_list(user=user, project=project, object_type="table", object_name=table.name)}
    snapshots = SnapshotsOfOneDecision()
    names = [column.name.lower() for column in columns]
    for principal in principals:
        label = principal.username + (" (owner)" if principal.pk == project.owner_id else "")
        answers = _answers(principal.principal_name, table, names, grant_columns, snapshots)
        for row, name in zip(rows, names, strict=True):
            allowed, why = answers[name]
            (row.allowed if allowed else row.denied).append((label, why))
    return {"project": project, "table": table, "rows": rows, "may_check_others": may_check_others,
            "more": max(total - MAX_PRINCIPALS, 0)}


def table_access_panel(request, table: Table) -> str | None:
    """The catalog's ``table_access_panels`` hook."""
    access = table_access(user=request.user, table=table)
    if access is None:
        return None
    return render_to_string("permissions/security/_table_access.html", access, request=request)
