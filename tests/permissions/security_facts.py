"""Builders of security facts (``apps.permissions.facts``) and a ``decide`` that runs both the
engine and the reference evaluator on one request and insists they agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest, Decision
from apps.permissions.engine import authorize, compile_snapshot
from apps.permissions.facts import time_text
from apps.permissions.reference import reference_authorize

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PAST = time_text(NOW - timedelta(days=1))
FUTURE = time_text(NOW + timedelta(days=1))

OWNER = "ALIYUN$owner"
ALICE = "RAM$acme:alice"
BOB = "RAM$acme:bob"
CAROL = "RAM$acme:carol"


def project(name: str, owner: str = OWNER, tenant: str = "acme") -> dict:
    return {"kind": "project", "name": name, "tenant": tenant, "owner": owner, "environment": "prod"}


def member(principal: str) -> dict:
    return {"kind": "member", "principal": principal}


def setting(name: str, value: bool) -> dict:
    return {"kind": "setting", "name": name, "value": value}


def table(name: str, columns=("id", "amount", "email"), creator: str | None = None) -> dict:
    return {"kind": "object", "object_type": "table", "name": name, "columns": list(columns), "creator": creator}


def role(name: str, privileges=()) -> dict:
    return {"kind": "role", "name": name, "type": "resource", "builtin": False, "privileges": list(privileges)}


def role_member(role_name: str, principal: str) -> dict:
    return {"kind": "role_member", "role": role_name, "principal": principal}


def user(principal: str) -> dict:
    return {"user": principal}


def of_role(name: str) -> dict:
    return {"role": name}


def grant(grant_id: int, subject: dict, obj: str, actions=("Select",), *, object_type: str = "table", columns=(),
          expires: str | None = None, condition: dict | None = None, package: str | None = None) -> dict:
    return {"kind": "grant", "id": grant_id, "subject": subject, "object_type": object_type, "object": obj,
            "columns": list(columns), "actions": list(actions), "expires": expires, "condition": condition,
            "origin": "statement", "package": package}


def statement(effect: str, actions, resources, principal=None, condition: dict | None = None) -> dict:
    document = {"Effect": effect, "Action": [f"odps:{action}" for action in actions],
                "Resource": [f"acs:odps:*:{resource}" for resource in resources]}
    if principal is not None:
        document["Principal"] = principal
    if condition is not None:
        document["Condition"] = condition
    return document


def policy(statements, role_name: str | None = None) -> dict:
    return {"kind": "policy", "role": role_name, "document": json.dumps({"Version": "1", "Statement": statements})}


def protection_exception(statements) -> dict:
    return {"kind": "protection_exception", "document": json.dumps({"Version": "1", "Statement": statements})}


def label(table_name: str, level: int, column: str | None = None) -> dict:
    return {"kind": "label", "table": table_name, "column": column, "level": level}


def clearance(subject: dict, level: int) -> dict:
    return {"kind": "clearance", "subject": subject, "level": level}


def label_grant(grant_id: int, subject: dict, table_name: str, level: int, columns=(), expires: str = FUTURE) -> dict:
    return {"kind": "label_grant", "id": grant_id, "subject": subject, "table": table_name, "columns": list(columns),
            "level": level, "expires": expires}


def ip_whitelist(entries, scope: str = "project", network: str = "ip") -> dict:
    return {"kind": "ip_whitelist", "scope": scope, "network": network, "entries": list(entries)}


def trusted_project(name: str) -> dict:
    return {"kind": "trusted_project", "project": name}


def package(name: str) -> dict:
    return {"kind": "package", "name": name}


def package_object(package_name: str, obj: str, actions=("Describe", "Select"), object_type: str = "table") -> dict:
    return {"kind": "package_object", "package": package_name, "object_type": object_type, "object": obj,
            "actions": list(actions)}


def package_allowance(package_name: str, consumer: str, level: int = 0, expires: str | None = None) -> dict:
    return {"kind": "package_allowance", "package": package_name, "project": consumer, "label": level,
            "expires": expires}


def package_install(provider: str, package_name: str) -> dict:
    return {"kind": "package_install", "provider": provider, "package": package_name}


def request(principal: str = ALICE, action: str = "Select", obj: str = "orders", *, project_name: str = "sales",
            object_type: str = "table", columns=(), source_ip: str | None = "10.0.0.5", task_type: str | None = "SQL",
            now: datetime = NOW, **fields) -> AccessRequest:
    context = RequestContext(source_ip=source_ip, current_time=now, task_type=task_type)
    return AccessRequest(principal=principal, project=project_name, action=action, object_type=object_type,
                         object_name=obj, columns=tuple(columns), context=context, **fields)


def decide(facts_by_project: dict[str, list[dict]], access: AccessRequest) -> Decision:
    """The engine's decision, after checking the reference evaluator reaches the same one."""
    snapshots = {name: compile_snapshot(facts, version=1) for name, facts in facts_by_project.items()}
    decision = authorize(access, snapshots.get)
    expected = reference_authorize(access, facts_by_project)
    assert (decision.allowed, decision.step, decision.denied_columns, decision.trace[-1].rule) == (
        expected.allowed, expected.step, expected.denied_columns, expected.trace[-1].rule), (decision, expected)
    assert [step.step for step in decision.trace] == [step.step for step in expected.trace]
    return decision
