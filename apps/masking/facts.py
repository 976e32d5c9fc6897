"""The masking app's part of a project's security facts (``apps.permissions.facts``), so the
security versions, their diffs and the rollback report show masking changes beside the rest.

``masking_facts`` is registered in ``permissions.hooks.security_fact_providers``, the lines
in ``fact_describers`` and the rollback's reason in ``fact_rollback_reasons``. Subjects are
written as the permissions facts write them (``{"user": principal}``, ``{"role": name}``
lowercase), plus ``{"everyone": true}`` for a row filter that names everyone; tables by
name, columns lowercase, times as ISO 8601 UTC. Kinds::

    {"kind": "masking_rule", "id": int, "name", "scope": "tenant" | "project" | "column",
     "target": sensitive type code | "table.column", "algorithm", "params": {...},
     "enabled": bool}      the project's rules and the tenant-wide ones, which apply to it
    {"kind": "unmask_grant", "id": int, "table", "columns": [...] (empty: every column),
     "subject", "expires": time | null}
    {"kind": "row_filter", "table", "name", "subject", "expression", "enabled": bool}
"""

from __future__ import annotations

import json

from django.db.models import Q

from apps.masking.models import MaskingRule, RowFilter, UnmaskGrant
from apps.permissions.facts import time_text
from apps.tenancy.models import Project

ROLLBACK_REASON = "masking rules, unmask grants and row filters are changed on the masking pages"


def _subject(row) -> dict:
    if row.user_id:
        return {"user": row.user.principal_name}
    if row.role_id:
        return {"role": row.role.name.lower()}
    return {"everyone": True}


def _rule_scope_target(rule: MaskingRule) -> tuple[str, str]:
    if rule.column_id is not None:
        return "column", f"{rule.column.table.name}.{rule.column.name.lower()}"
    return ("tenant" if rule.project_id is None else "project"), rule.sensitive_type.code


def masking_facts(project: Project) -> list[dict]:
    """The masking rules that apply to ``project``, its unmask grants and its row filters, as
    facts, in three queries."""
    facts: list[dict] = []
    rules = (MaskingRule.objects.filter(Q(project=project) | Q(project__isnull=True, tenant_id=project.tenant_id))
             .select_related("column__table", "sensitive_type").order_by("pk"))
    for rule in rules:
        scope, target = _rule_scope_target(rule)
        facts.append({"kind": "masking_rule", "id": rule.pk, "name": rule.name, "scope": scope, "target": target,
                      "algorithm": rule.algorithm, "params": rule.params, "enabled": rule.enabled})
    for grant in (UnmaskGrant.objects.filter(project=project).select_related("table", "user__tenant", "role")
                  .order_by("pk")):
        facts.append({"kind": "unmask_grant", "id": grant.pk, "table": grant.table.name,
                      "columns": sorted(column.lower() for column in grant.columns), "subject": _subject(grant),
                      "expires": time_text(grant.expires_at)})
    for row_filter in (RowFilter.objects.filter(project=project).select_related("table", "user__tenant", "role")
                       .order_by("table__name", "name")):
        facts.append({"kind": "row_filter", "table": row_filter.table.name, "name": row_filter.name,
                      "subject": _subject(row_filter), "expression": row_filter.expression,
                      "enabled": row_filter.enabled})
    return facts


def _subject_text(subject: dict) -> str:
    if subject.get("user"):
        return f"user {subject['user']}"
    return f"role {subject['role']}" if subject.get("role") else "everyone"


def _disabled(fact: dict) -> str:
    return "" if fact["enabled"] else " (disabled)"


def masking_rule_line(fact: dict) -> str:
    """``masking rule 'mobile numbers': customers.mobile → mask_middle {"keep": 3}``."""
    if fact["scope"] == "column":
        target = fact["target"]
    else:
        target = f"sensitive type {fact['target']}{' (tenant-wide)' if fact['scope'] == 'tenant' else ''}"
    params = f" {json.dumps(fact['params'], sort_keys=True)}" if fact["params"] else ""
    return f"masking rule '{fact['name']}': {target} → {fact['algorithm']}{params}{_disabled(fact)}"


def unmask_grant_line(fact: dict) -> str:
    """``unmask customers(email) for user RAM$acme:bob until 2026-12-24T00:00:00Z``."""
    columns = f"({', '.join(fact['columns'])})" if fact["columns"] else " (every column)"
    until = f" until {fact['expires']}" if fact["expires"] else ""
    return f"unmask {fact['table']}{columns} for {_subject_text(fact['subject'])}{until}"


def row_filter_line(fact: dict) -> str:
    """``row filter eu on orders for role analyst: "region" = 'EU'``."""
    return (f"row filter {fact['name']} on {fact['table']} for {_subject_text(fact['subject'])}: "
            f"{fact['expression']}{_disabled(fact)}")


FACT_LINES = {"masking_rule": masking_rule_line, "unmask_grant": unmask_grant_line, "row_filter": row_filter_line}
