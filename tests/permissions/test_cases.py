"""Decision cases as data: ``tests/permissions/cases/*.json``, one small world per case.

Each file is a list of cases::

    {"name": "column-grant-covers-only-its-columns",       unique across all files
     "why": "one sentence: the rule the case pins down",
     "tenants": {"acme": {"owner": "alice", "users": ["bob", "carol"]}},
     "projects": {"wonderland": {"tenant": "acme", "environment": "prod",      environment optional
                                 "tables": {"customers": ["id", "mobile"],
                                            "orders": {"columns": ["id"], "creator": "bob"}}}},
     "setup": [{"project": "wonderland", "as": "alice", "statement": "add user RAM$acme:bob"},
               {"drop_table": "wonderland.customers"},
               {"revive_table": "wonderland.customers"},
               {"tenant_whitelist": "acme", "as": "alice", "network": "ip", "entries": ["10.0.0.0/8"]}],
     "requests": [{"principal": "RAM$acme:bob", "project": "wonderland", "action": "Select",
                   "object_type": "table", "object": "customers", "columns": ["id"],
                   "source_ip": "10.0.0.1", "network": "ip", "time": "2026-11-23T10:00:00Z",
                   "task_type": null, "destination_project": null, "via_project": null,
                   "read_level": null,
                   "expect": {"allowed": true, "step": "acl", "denied_columns": []}}]}

The world is built with the real services: tenants by ``tenant_signup`` (the owner is the
primary account, ``ALIYUN$<owner>``), users by ``subaccount_create`` (``RAM$<tenant>:<user>``),
projects by ``project_create`` as their tenant's owner, tables as catalog rows of the
project's warehouse source (``creator`` is the catalog owner of the table, for
ObjectCreatorHasAccessPermission). Every setup statement runs through
``console.statement_run`` as the user named by ``as`` and must succeed. The few setup steps
no statement expresses: ``drop_table`` marks a table and its columns dropped and calls the
catalog's ``objects_dropped`` hooks, as a harvest that no longer finds it does;
``revive_table`` brings it back, as a harvest that finds it again does; ``tenant_whitelist``
sets a tenant's IP whitelist.

In a request ``object_type`` defaults to ``table``, ``columns`` to none, ``network`` to
``ip``. ``time`` is an ISO 8601 instant, or ``+40d`` / ``-2h`` / ``+0d`` relative to the
moment the request is checked: grants made with ``"expires"="30"`` or ``with exp 30`` expire
relative to when the setup ran, so expiry is checked at relative times; without ``time`` the
request is made now. ``expect.denied_columns`` is checked when given.

Each request is decided by ``runtime.decide``, as the portal decides; a failure lists every
request of the case that went otherwise, with the decision's trace.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.catalog import hooks as catalog_hooks
from apps.catalog.models import Table
from apps.catalog.services import warehouse_source_ensure
from apps.permissions import runtime
from apps.permissions.conditions import RequestContext
from apps.permissions.console import statement_run
from apps.permissions.decision import AccessRequest, Step
from apps.permissions.services import tenant_ip_whitelist_set
from apps.tenancy.models import Project, Tenant
from apps.tenancy.services import project_create, security_version_bump, subaccount_create, tenant_signup
from tests.factories import PASSWORD

CASES_DIR = Path(__file__).parent / "cases"
MINIMUM_CASES = 80
_RELATIVE_TIME = re.compile(r"(?P<sign>[+-])(?P<amount>\d+)(?P<unit>[dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _load_cases() -> list[tuple[str, int, dict]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.json")):
        for index, case in enumerate(json.loads(path.read_text())):
            cases.append((path.name, index, case))
    return cases


CASES = _load_cases()


def _case_id(file_name: str, index: int, case: dict) -> str:
    return f"{file_name.removesuffix('.json')}-{index}-{case['name']}"


def _moment(text: str | None, now: datetime) -> datetime:
    if text is None:
        return now
    relative = _RELATIVE_TIME.fullmatch(text)
    if relative:
        offset = timedelta(**{_UNITS[relative["unit"]]: int(relative["amount"])})
        return now + offset if relative["sign"] == "+" else now - offset
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _table(qualified: str) -> Table:
    project_name, _dot, table_name = qualified.partition(".")
    return Table.objects.get(data_source__project__name=project_name, name=table_name)


def _table_drop(qualified: str) -> None:
    table = _table(qualified)
    now = timezone.now()
    columns = list(table.columns.filter(is_dropped=False))
    table.is_dropped, table.dropped_at = True, now
    table.save(update_fields=["is_dropped", "dropped_at"])
    for column in columns:
        column.is_dropped, column.dropped_at = True, now
        column.save(update_fields=["is_dropped", "dropped_at"])
    catalog_hooks.objects_dropped(data_source=table.data_source, tables=[table], columns=columns)
    security_version_bump(table.data_source.project, summary=f"harvest: {qualified} dropped")


def _table_revive(qualified: str) -> None:
    table = _table(qualified)
    table.is_dropped, table.dropped_at = False, None
    table.save(update_fields=["is_dropped", "dropped_at"])
    table.columns.update(is_dropped=False, dropped_at=None)
    security_version_bump(table.data_source.project, summary=f"harvest: {qualified} found again")


def _world_build(case: dict) -> dict[str, object]:
    """The accounts of the case by username."""
    users = {}
    for tenant_name, tenant in case["tenants"].items():
        owner = tenant_signup(tenant_name=tenant_name, username=tenant["owner"], password=PASSWORD)
        users[owner.username] = owner
        for username in tenant.get("users", []):
            users[username] = subaccount_create(actor=owner, username=username, password=PASSWORD)
    now = timezone.now()
    for project_name, spec in case["projects"].items():
        owner = users[case["tenants"][spec["tenant"]]["owner"]]
        project = project_create(actor=owner, name=project_name, environment=spec.get("environment", "prod"))
        source = warehouse_source_ensure(project=project)
        for table_name, table_spec in spec.get("tables", {}).items():
            if isinstance(table_spec, list):
                table_spec = {"columns": table_spec}
            creator = users[table_spec["creator"]] if "creator" in table_spec else None
            table = Table.objects.create(data_source=source, schema=project.schema_name, name=table_name,
                                         owner=creator, first_seen_at=now, last_seen_at=now)
            for ordinal, column in enumerate(table_spec["columns"], start=1):
                table.columns.create(name=column, ordinal=ordinal, data_type="text", first_seen_at=now,
                                     last_seen_at=now)
        security_version_bump(project, actor=owner, summary="the case's tables")
    return users


def _setup_run(case: dict, users: dict) -> None:
    for number, step in enumerate(case.get("setup", [])):
        if "statement" in step:
            project = Project.objects.get(name=step["project"])
            result = statement_run(actor=users[step["as"]], project=project, text=step["statement"])
            assert result.ok, f"setup step {number} ({step['statement']!r} as {step['as']}): {result.error}"
        elif "drop_table" in step:
            _table_drop(step["drop_table"])
        elif "revive_table" in step:
            _table_revive(step["revive_table"])
        elif "tenant_whitelist" in step:
            tenant_ip_whitelist_set(actor=users[step["as"]], tenant=Tenant.objects.get(name=step["tenant_whitelist"]),
                                    network=step["network"], entries=step["entries"])
        else:
            raise AssertionError(f"setup step {number} is of no known kind: {step}")


def _access_request(spec: dict, now: datetime) -> AccessRequest:
    context = RequestContext(current_time=_moment(spec.get("time"), now), source_ip=spec.get("source_ip"),
                             task_type=spec.get("task_type"))
    return AccessRequest(
        principal=spec["principal"], project=spec["project"], action=spec["action"],
        object_type=spec.get("object_type", "table"), object_name=spec["object"], context=context,
        columns=tuple(spec.get("columns", ())), network=spec.get("network", "ip"),
        destination_project=spec.get("destination_project"), via_project=spec.get("via_project"),
        read_level=spec.get("read_level"))


def _mismatch(decision, expect: dict) -> str | None:
    got = {"allowed": decision.allowed, "step": str(decision.step), "denied_columns": list(decision.denied_columns)}
    wanted = {key: expect[key] for key in ("allowed", "step", "denied_columns") if key in expect}
    if all(got[key] == value for key, value in wanted.items()):
        return None
    trace = "; ".join(f"{step.step}={step.outcome} ({step.detail})" for step in decision.trace)
    return f"expected {wanted}, got {got}. Trace: {trace}"


@pytest.mark.django_db(databases=["default", "warehouse"])
@pytest.mark.parametrize("file_name, index, case", CASES, ids=[_case_id(*entry) for entry in CASES])
def test_decision_case(file_name, index, case):
    users = _world_build(case)
    _setup_run(case, users)
    # Nothing changes between a case's requests, so one set of compiled snapshots serves them all.
    snapshots = runtime.SnapshotsOfOneDecision()
    failures = []
    for number, spec in enumerate(case["requests"]):
        request = _access_request(spec, timezone.now())
        mismatch = _mismatch(runtime.decide(request, snapshots), spec["expect"])
        if mismatch:
            failures.append(f"request {number} ({spec['principal']} {spec['action']} {spec['project']}."
                            f"{spec['object']}): {mismatch}")
    assert not failures, f"{file_name} #{index} {case['name']}: {case['why']}\n" + "\n".join(failures)


def test_there_are_enough_cases_and_every_step_decides_one():
    names = [case["name"] for _file, _index, case in CASES]
    assert len(names) >= MINIMUM_CASES
    assert len(set(names)) == len(names), "case names repeat"
    assert all(case.get("why") and case.get("requests") for _file, _index, case in CASES)
    deciding = {spec["expect"]["step"] for _file, _index, case in CASES for spec in case["requests"]}
    assert {str(step) for step in Step} <= deciding
