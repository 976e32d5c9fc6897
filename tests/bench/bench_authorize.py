"""``authorize`` on a large project, side by side with Cedar (cedarpy) and Casbin (pycasbin).

The project: 200 members and 100 custom roles made through the tenancy services, then, in
bulk through the ORM, 5,000 warehouse tables of 24 columns, 5,000 labelled columns and 200
table labels, 10,000 ACL grants (users and roles; whole tables and column lists; some
expiring, some already expired, a few with an IP or time condition; a few role grants on
every table), 1,000 policy statements (the project policy and 60 role policies: mostly
Allow, some Deny, some prefix-wildcard resources, some IP and time conditions), role
members, clearances and label grants, LabelSecurity on, and one ``security_version_bump``.
Everything is drawn from one seeded random generator.

Figures:

- ``snapshot_rebuild_ms``: median of a few ``security_facts(project)`` + ``compile_snapshot``,
  what a process does when the project's version moved.
- ``warden_median_us`` / ``warden_p99_us``: one ``authorize`` of a 20-column SELECT by a
  member, timed alone after a warm-up, over 2,000 requests (a mix of allowed and denied:
  ``allow_ratio``).
- ``cedar_median_us``: a 20-column request as Cedar decides it: one ``is_authorized_batch``
  call of 20 column requests against a ``PolicySet`` and an ``Entities`` handle parsed once
  (``cedar_preparsed`` 1); ``cedar_policies`` and ``cedar_entities`` say how large they are.
  Cedar evaluates every policy for every request (about 2 µs a policy here), so it decides a
  random sample of ``cedar_requests`` of the requests.
- ``casbin_median_us``: the same as Casbin decides it: one enforcer built once from an
  in-memory string adapter, 20 label ``enforce`` calls and 20 ACL/policy ``enforce`` calls.
  pycasbin evaluates its matcher in Python on every policy line for every call, so only the
  first ``casbin_requests`` of Cedar's sample are timed. Its ``FastEnforcer`` filters lines
  by exact field values, which cannot express role inheritance or wildcard resources
  without expanding them into per-table lines, so it is not used.
- ``agreement_cedar`` / ``agreement_casbin``: the share of its sample on which each peer
  reaches Warden's allow/deny (a Warden decision is allowed when all 20 columns are);
  ``sample_allow_ratio`` says how mixed the sample is.
- ``setup_s``, ``cedar_parse_s``, ``casbin_build_s``, ``facts``: for context.

How the rules translate (from the same ``security_facts``, so all three read one state):

- roles: Cedar ``User`` entities whose parents are the roles they hold; Casbin ``g`` lines.
- grants: ``permit(principal == User | in Role, action in [...], resource in Table)``
  with ``[..columns..].contains(resource.name)`` for a column grant, ``context.now < expiry``
  and the condition in ``when``; Casbin one ``p`` line each (subject, table, column list,
  actions, ``allow``, condition, expiry). Actions are expanded (``All``) the way
  ``actions_expand`` does.
- policy statements: ``permit``/``forbid`` (Casbin ``allow``/``deny`` lines, with the effect
  ``some(where (p.eft == allow)) && !some(where (p.eft == deny))``) per principal (the
  project policy's named users, ``*``, or the role of a role policy) and resource (a table,
  or a ``tables/<prefix>*`` wildcard: Cedar ``like``, Casbin ``keyMatch``). A policy Allow
  covers every column, as Warden's does.
- conditions: ``IpAddress``/``NotIpAddress`` on ``acs:SourceIp`` (Cedar ``ip().isInRange``,
  Casbin a custom matcher function), ``Date(Less|Greater)Than[Equals]`` on
  ``acs:CurrentTime`` (epoch seconds in the context). Other operators are refused by the
  translator rather than approximated; the generated state uses only these.
- labels: a column entity carries its resolved level (its label, else its table's, else 0)
  and a principal its clearance (the highest of its own and its roles'); Cedar forbids
  ``Select`` when ``resource.level > principal.clearance`` unless a label grant of the
  principal or one of its roles covers it (one forbid per table with label grants, one for
  all other tables); Casbin checks labels with a second matcher (``r2``/``p2``) on request
  attributes (the column's level and the principal's clearance) and the label-grant lines.

Where the translation is approximate: the effective clearance and the resolved column level
are precomputed into entity attributes (Cedar) or request attributes (Casbin), where Warden
resolves them in the engine; a label grant is read as "any unexpired grant of the subject
whose level reaches the column's level", while in Warden a subject's grants that list the
column override its whole-table grants (neither peer can say "only when there is none"
cheaply), so the generated state never gives one subject both kinds on one table; the steps
the requests never reach (IP whitelist, ProjectProtection, packages, the owner, creators,
Super_Administrator) are not translated.
"""

import gc
import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address, ip_network

SEED = 20261124
USERS = 200
ROLES = 100
ROLES_WITH_POLICY = 60
TABLES = 5_000
COLUMNS_PER_TABLE = 24
LABELLED_COLUMNS = 5_000
TABLE_LABELS = 200
GRANTS = 10_000
EVERY_TABLE_GRANTS = 8
PROJECT_POLICY_STATEMENTS = 400
ROLE_POLICY_STATEMENTS = 600
LABEL_GRANTS = 400
REQUESTS = 2_000
REQUEST_COLUMNS = 20
WARM_UP = 300
REBUILDS = 3
CEDAR_REQUESTS = 20
CASBIN_REQUESTS = 6
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

DOMAINS = ["sales", "finance", "hr", "marketing", "logistics", "support", "risk", "retail", "web", "crm"]
ENTITIES = ["customers", "orders", "payments", "invoices", "shipments", "products", "employees", "accounts",
            "suppliers", "refunds", "visitors", "sessions", "contracts", "claims", "devices", "tickets"]
COLUMN_NAMES = ["id", "full_name", "mobile", "email", "national_id", "bank_card", "salary", "home_address",
                "birthday", "client_ip", "passport_no", "amount", "currency", "status", "created_at", "updated_at",
                "region_code", "channel", "quantity", "discount_rate", "warehouse_code", "carrier", "tracking_no",
                "product_sku", "category_name", "loyalty_tier", "risk_score", "is_active", "notes", "batch_id",
                "source_system", "tax_amount", "invoice_no", "department"]
# (actions as granted, weight)
GRANT_ACTIONS = [(["Select"], 40), (["Select", "Describe"], 25), (["All"], 10), (["Describe"], 15),
                 (["Describe", "Alter"], 5), (["Update"], 5)]
POLICY_ACTIONS = [(["odps:Select"], 45), (["odps:Describe", "odps:Select"], 25), (["odps:*"], 10),
                  (["odps:Describe"], 10), (["odps:Update", "odps:Alter"], 10)]
CONDITIONS = [
    {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}},
    {"NotIpAddress": {"acs:SourceIp": ["192.168.0.0/16"]}},
    {"DateGreaterThan": {"acs:CurrentTime": ["2026-11-24T10:00:00Z"]}},
    {"DateLessThan": {"acs:CurrentTime": ["2026-11-24T15:00:00Z"]}},
]
# Weights of levels 1-9 on labelled columns and of clearances 0-9: most data and people sit low.
LEVEL_WEIGHTS = [20, 20, 18, 12, 10, 8, 5, 4, 3]
CLEARANCE_WEIGHTS = [5, 8, 15, 20, 18, 12, 10, 6, 4, 2]
SOURCE_IPS = ["10.12.3.4", "10.200.1.9", "192.168.7.20", "203.0.113.45", "198.51.100.7"]


def _weighted(rng: random.Random, choices: list[tuple[list[str], int]]) -> list[str]:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- the project --------------------------------------------------------------------------------

def _build_project(rng: random.Random):
    """The project through the services (accounts, members, roles), the rest in bulk."""
    from django.db import transaction
    from django.test.utils import override_settings

    from apps.catalog.models import Column, Table
    from apps.catalog.services import warehouse_source_ensure
    from apps.permissions.models import Clearance, Grant, LabelGrant, Origin, Policy, ProjectSecurity, TableLabel
    from apps.tenancy import services as tenancy_services
    from apps.tenancy.models import RoleAssignment

    # Accounts are made through the real services; argon2 would spend minutes hashing them.
    # One transaction: the audit chain is sealed once on commit rather than after every call.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]), \
            transaction.atomic():
        owner = tenancy_services.tenant_signup(tenant_name="bench_authz", username="bench_authz_owner",
                                               password="bench-password-not-secret")
        project = tenancy_services.project_create(actor=owner, name="bench_authz")
        users = []
        for n in range(USERS):
            user = tenancy_services.subaccount_create(actor=owner, username=f"analyst_{n:04d}",
                                                      password="bench-password-not-secret")
            tenancy_services.member_add(actor=owner, project=project, user=user)
            users.append(user)
        roles = [tenancy_services.role_create(actor=owner, project=project, name=f"team_{n:03d}")
                 for n in range(ROLES)]

    with transaction.atomic():
        source = warehouse_source_ensure(project=project)
        table_names = [f"{DOMAINS[n % len(DOMAINS)]}_{ENTITIES[(n // len(DOMAINS)) % len(ENTITIES)]}_{n}"
                       for n in range(TABLES)]
        tables = Table.objects.bulk_create(
            [Table(data_source=source, schema=project.schema_name, name=name, first_seen_at=NOW, last_seen_at=NOW)
             for name in table_names], batch_size=1_000)
        columns = []
        for table in tables:
            for ordinal, name in enumerate(rng.sample(COLUMN_NAMES, COLUMNS_PER_TABLE)):
                columns.append(Column(table=table, name=name, ordinal=ordinal, data_type="text",
                                      first_seen_at=NOW, last_seen_at=NOW))
        for column in rng.sample(columns, LABELLED_COLUMNS):
            column.sensitivity_level = rng.choices(range(1, 10), weights=LEVEL_WEIGHTS)[0]
        Column.objects.bulk_create(columns, batch_size=5_000)
        TableLabel.objects.bulk_create([TableLabel(table=table, level=rng.randint(1, 4))
                                        for table in rng.sample(tables, TABLE_LABELS)])
        columns_of = {table.name: [column.name for column in columns[n * COLUMNS_PER_TABLE:(n + 1) * COLUMNS_PER_TABLE]]
                      for n, table in enumerate(tables)}

        held = {user.pk: rng.sample(roles, rng.choice([0, 1, 1, 2, 2, 3])) for user in users}
        RoleAssignment.objects.bulk_create([RoleAssignment(role=role, user_id=user_pk, granted_by=owner)
                                            for user_pk, user_roles in held.items() for role in user_roles])

        # Each subject works on a few "home" tables, so that requests hit grants as real ones do.
        home = {("user", user.pk): rng.sample(tables, 12) for user in users}
        home.update({("role", role.pk): rng.sample(tables, 40) for role in roles})
        grants = []
        for _ in range(GRANTS - EVERY_TABLE_GRANTS):
            subject = rng.choice([("user", rng.choice(users))] * 3 + [("role", rng.choice(roles))] * 2)
            table = rng.choice(home[(subject[0], subject[1].pk)])
            whole = rng.random() < 0.5
            expires = None
            if rng.random() < 0.15:
                expires = NOW + timedelta(days=rng.choice([-30, -1, 1, 30, 90]))
            grants.append(Grant(
                project=project, object_type="table", object_name=table.name, table=table,
                columns=[] if whole else rng.sample(columns_of[table.name], rng.randint(3, 16)),
                actions=_weighted(rng, GRANT_ACTIONS), expires_at=expires,
                condition=rng.choice(CONDITIONS) if rng.random() < 0.02 else None, origin=Origin.API, grantor=owner,
                **{subject[0]: subject[1]}))
        grants += [Grant(project=project, object_type="table", object_name="*", role=role, actions=["Describe"],
                         origin=Origin.API, grantor=owner) for role in rng.sample(roles, EVERY_TABLE_GRANTS - 2)]
        grants += [Grant(project=project, object_type="table", object_name="*", role=role, actions=["Select"],
                         columns=["id", "status"], origin=Origin.API, grantor=owner)
                   for role in rng.sample(roles, 2)]
        Grant.objects.bulk_create(grants, batch_size=2_000)

        principal_of = {user.pk: user.principal_name for user in users}

        def statement(effect_deny: float, principals: list[str] | None, subject_tables: list) -> dict:
            if rng.random() < 0.06:
                resources = [f"acs:odps:*:projects/{project.name}/tables/{rng.choice(DOMAINS)}_{rng.choice(ENTITIES)}*"]
            else:
                resources = [f"acs:odps:*:projects/{project.name}/tables/{table.name}"
                             for table in rng.sample(subject_tables, rng.randint(1, 3))]
            document = {"Effect": "Deny" if rng.random() < effect_deny else "Allow",
                        "Action": _weighted(rng, POLICY_ACTIONS), "Resource": resources}
            if principals is not None:
                document["Principal"] = principals
            if rng.random() < 0.2:
                document["Condition"] = rng.choice(CONDITIONS)
            return document

        project_statements = []
        for _ in range(PROJECT_POLICY_STATEMENTS):
            if rng.random() < 0.03:
                project_statements.append(statement(0.5, ["*"], rng.sample(tables, 3)))
            else:
                named = rng.sample(users, rng.randint(1, 3))
                project_statements.append(statement(
                    0.15, [principal_of[user.pk] for user in named], home[("user", named[0].pk)]))
        policies = [Policy(project=project, document=json.dumps({"Version": "1", "Statement": project_statements}),
                           updated_by=owner)]
        per_role, rest = divmod(ROLE_POLICY_STATEMENTS, ROLES_WITH_POLICY)
        for n, role in enumerate(rng.sample(roles, ROLES_WITH_POLICY)):
            role_statements = [statement(0.15, None, home[("role", role.pk)]) for _ in range(per_role + (n < rest))]
            policies.append(Policy(project=project, role=role, updated_by=owner,
                                   document=json.dumps({"Version": "1", "Statement": role_statements})))
        Policy.objects.bulk_create(policies)

        Clearance.objects.bulk_create(
            [Clearance(project=project, user=user, level=rng.choices(range(10), weights=CLEARANCE_WEIGHTS)[0])
             for user in users if rng.random() < 0.7]
            + [Clearance(project=project, role=role, level=rng.randint(2, 7)) for role in rng.sample(roles, 30)])
        label_grants, whole_of = [], {}
        while len(label_grants) < LABEL_GRANTS:
            subject = rng.choice([("user", rng.choice(users))] * 3 + [("role", rng.choice(roles))])
            table = rng.choice(home[(subject[0], subject[1].pk)])
            # One kind of label grant per subject and table (see the module docstring).
            whole = rng.random() < 0.4
            if whole_of.setdefault((subject[0], subject[1].pk, table.pk), whole) != whole:
                continue
            label_grants.append(LabelGrant(
                project=project, table=table,
                columns=[] if whole else rng.sample(columns_of[table.name], rng.randint(2, 8)),
                level=rng.randint(3, 9), expires_at=NOW + timedelta(days=rng.choice([-3, 7, 30, 180])),
                granted_by=owner, origin=Origin.API, **{subject[0]: subject[1]}))
        LabelGrant.objects.bulk_create(label_grants)
        ProjectSecurity.objects.update_or_create(project=project, defaults={"label_security": True})
        tenancy_services.security_version_bump(project, actor=owner, summary="bench_authorize bulk load")

    project.refresh_from_db()
    return project, users, held, home, columns_of


# --- the requests -------------------------------------------------------------------------------

def _requests(rng: random.Random, users, held, home, columns_of):
    """(principal, table, columns, source ip, time) of each request: mostly a table the
    principal or one of its roles works on, sometimes any table."""
    table_names = sorted(columns_of)
    requests = []
    for _ in range(REQUESTS):
        user = rng.choice(users)
        draw = rng.random()
        if draw < 0.5:
            table = rng.choice(home[("user", user.pk)]).name
        elif draw < 0.8 and held[user.pk]:
            table = rng.choice(home[("role", rng.choice(held[user.pk]).pk)]).name
        else:
            table = rng.choice(table_names)
        columns = tuple(rng.sample(columns_of[table], REQUEST_COLUMNS))
        moment = NOW + timedelta(minutes=rng.randint(0, 12 * 60))
        requests.append((user.principal_name, table, columns, rng.choice(SOURCE_IPS), moment))
    return requests


# --- translation helpers shared by the peers --------------------------------------------------

class _State:
    """What the peers need of the facts: members and roles held, resolved column levels,
    effective clearances, grants, policy statements and label grants."""

    def __init__(self, facts: list[dict], project_name: str, tenant_name: str):
        from apps.permissions.actions import actions_expand
        from apps.permissions.facts import time_parse
        from apps.permissions.policy import policy_document_parse

        self.members = {fact["principal"] for fact in facts if fact["kind"] == "member"}
        self.roles_of: dict[str, list[str]] = {}
        for fact in facts:
            if fact["kind"] == "role_member" and fact["principal"] in self.members:
                self.roles_of.setdefault(fact["principal"], []).append(fact["role"])
        self.roles = [fact["name"] for fact in facts if fact["kind"] == "role"]
        self.table_columns = {fact["name"]: fact["columns"] for fact in facts
                              if fact["kind"] == "object" and fact["object_type"] == "table"}
        table_level = {fact["table"]: fact["level"] for fact in facts
                       if fact["kind"] == "label" and fact["column"] is None}
        column_level = {(fact["table"], fact["column"]): fact["level"] for fact in facts
                        if fact["kind"] == "label" and fact["column"] is not None}
        self.levels = {(table, column): column_level.get((table, column), table_level.get(table, 0))
                       for table, columns in self.table_columns.items() for column in columns}
        user_clearance, role_clearance = {}, {}
        for fact in facts:
            if fact["kind"] == "clearance":
                subject = fact["subject"]
                if "user" in subject:
                    user_clearance[subject["user"]] = fact["level"]
                else:
                    role_clearance[subject["role"]] = fact["level"]
        self.clearance = {principal: max([user_clearance.get(principal, 0)]
                                         + [role_clearance.get(role, 0) for role in self.roles_of.get(principal, [])])
                          for principal in self.members}
        self.grants = []
        for fact in facts:
            if fact["kind"] != "grant":
                continue
            if fact["object_type"] != "table" or fact["package"] is not None:
                raise ValueError(f"no translation for grant {fact}")
            self.grants.append({
                "subject": fact["subject"], "table": fact["object"], "columns": fact["columns"],
                "actions": sorted(actions_expand("table", fact["actions"])),
                "expires": _epoch(time_parse(fact["expires"])) if fact["expires"] else None,
                "condition": fact["condition"]})
        self.statements = []
        for fact in facts:
            if fact["kind"] != "policy":
                continue
            document = policy_document_parse(fact["document"], scope="project" if fact["role"] is None else "role",
                                             project_name=project_name, tenant_name=tenant_name)
            for statement in document.statements:
                prefix = f"acs:odps:*:projects/{project_name}/tables/"
                resources = []
                for resource in statement.document["Resource"]:
                    name = resource.removeprefix(prefix)
                    if name == resource or "?" in name or ("*" in name and not name.endswith("*")) \
                            or name.count("*") > 1:
                        raise ValueError(f"no exact translation for the resource {resource}")
                    resources.append(name)
                principals = statement.document.get("Principal")
                if principals is not None and any(p != "*" and ("*" in p or "?" in p) for p in principals):
                    raise ValueError(f"no exact translation for the principals {principals}")
                self.statements.append({
                    "deny": statement.is_deny, "role": fact["role"], "principals": principals,
                    "actions": sorted(statement.exact_actions), "resources": resources,
                    "condition": statement.document.get("Condition")})
        self.label_grants = []
        for fact in facts:
            if fact["kind"] == "label_grant":
                self.label_grants.append({"subject": fact["subject"], "table": fact["table"],
                                          "columns": fact["columns"], "level": fact["level"],
                                          "expires": _epoch(time_parse(fact["expires"]))})


def _condition_checks(condition: dict | None) -> list[tuple[str, list]]:
    """A condition as (kind, values) checks: ("ip_in" | "ip_not_in", networks) or
    ("lt" | "le" | "gt" | "ge", epoch seconds), for the operators the bench generates."""
    from apps.permissions.conditions import datetime_parse

    checks = []
    for operator, block in (condition or {}).items():
        for key, values in block.items():
            if key == "acs:SourceIp" and operator in ("IpAddress", "NotIpAddress"):
                checks.append(("ip_in" if operator == "IpAddress" else "ip_not_in", list(values)))
            elif key == "acs:CurrentTime" and operator in ("DateLessThan", "DateLessThanEquals", "DateGreaterThan",
                                                           "DateGreaterThanEquals"):
                kind = {"DateLessThan": "lt", "DateLessThanEquals": "le", "DateGreaterThan": "gt",
                        "DateGreaterThanEquals": "ge"}[operator]
                checks.append((kind, [_epoch(datetime_parse(value)) for value in values]))
            else:
                raise ValueError(f"no translation for the condition {operator} {key}")
    return checks


# --- Cedar --------------------------------------------------------------------------------------

def _cedar_text(text: str) -> str:
    return json.dumps(text)


def _cedar_principal(subject: dict) -> str:
    if "user" in subject:
        return f"principal == User::{_cedar_text(subject['user'])}"
    return f"principal in Role::{_cedar_text(subject['role'])}"


def _cedar_condition(condition: dict | None) -> list[str]:
    clauses = []
    for kind, values in _condition_checks(condition):
        if kind in ("ip_in", "ip_not_in"):
            any_of = " || ".join(f"ip(context.ip).isInRange(ip({_cedar_text(value)}))" for value in values)
            clauses.append(f"({any_of})" if kind == "ip_in" else f"!({any_of})")
        else:
            operator = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[kind]
            clauses.append("(" + " || ".join(f"context.now {operator} {value}" for value in values) + ")")
    return clauses


def _cedar_actions(actions: list[str]) -> str:
    return "[" + ", ".join(f"Action::{_cedar_text(action)}" for action in actions) + "]"


def _cedar_policies(state: _State) -> str:
    policies = []
    for grant in state.grants:
        clauses = []
        if grant["columns"]:
            clauses.append(f"{json.dumps(grant['columns'])}.contains(resource.name)")
        if grant["expires"] is not None:
            clauses.append(f"context.now < {grant['expires']}")
        clauses += _cedar_condition(grant["condition"])
        resource = ("resource is Column" if grant["table"] == "*"
                    else f"resource in Table::{_cedar_text(grant['table'])}")
        when = f" when {{ {' && '.join(clauses)} }}" if clauses else ""
        policies.append(f"permit ({_cedar_principal(grant['subject'])}, action in {_cedar_actions(grant['actions'])}, "
                        f"{resource}){when};")
    for statement in state.statements:
        effect = "forbid" if statement["deny"] else "permit"
        if statement["role"] is not None:
            principals = [f"principal in Role::{_cedar_text(statement['role'])}"]
        elif "*" in statement["principals"]:
            principals = ["principal"]
        else:
            principals = [f"principal == User::{_cedar_text(name)}" for name in statement["principals"]]
        exact = [name for name in statement["resources"] if "*" not in name]
        patterns = [name for name in statement["resources"] if "*" in name]
        matches = ([f"{json.dumps(exact)}.contains(resource.table)"] if exact else []) \
            + [f"resource.table like {_cedar_text(pattern)}" for pattern in patterns]
        clauses = [f"({' || '.join(matches)})"] + _cedar_condition(statement["condition"])
        for principal in principals:
            policies.append(f"{effect} ({principal}, action in {_cedar_actions(statement['actions'])}, "
                            f"resource is Column) when {{ {' && '.join(clauses)} }};")
    # No-ReadUp: a column above the principal's clearance needs a label grant.
    read_actions = _cedar_actions(["Select", "Download"])
    policies.append(f"forbid (principal, action in {read_actions}, resource is Column) "
                    f"when {{ resource.level > principal.clearance && !resource.label_grants }};")
    by_table: dict[str, list[str]] = {}
    for grant in state.label_grants:
        clauses = [_cedar_principal(grant["subject"]), f"context.now < {grant['expires']}",
                   f"resource.level <= {grant['level']}"]
        if grant["columns"]:
            clauses.append(f"{json.dumps(grant['columns'])}.contains(resource.name)")
        by_table.setdefault(grant["table"], []).append("(" + " && ".join(clauses) + ")")
    for table, covers in by_table.items():
        policies.append(f"forbid (principal, action in {read_actions}, resource in Table::{_cedar_text(table)}) "
                        f"when {{ resource.level > principal.clearance }} unless {{ {' || '.join(covers)} }};")
    return "\n".join(policies)


def _cedar_entities(state: _State) -> list[dict]:
    labelled_tables = {grant["table"] for grant in state.label_grants}
    entities = [{"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []} for role in state.roles]
    entities += [{"uid": {"type": "User", "id": principal}, "attrs": {"clearance": state.clearance[principal]},
                  "parents": [{"type": "Role", "id": role} for role in state.roles_of.get(principal, [])]}
                 for principal in state.members]
    for table, columns in state.table_columns.items():
        entities.append({"uid": {"type": "Table", "id": table}, "attrs": {}, "parents": []})
        entities += [{"uid": {"type": "Column", "id": f"{table}/{column}"},
                      "attrs": {"table": table, "name": column, "level": state.levels[(table, column)],
                                "label_grants": table in labelled_tables},
                      "parents": [{"type": "Table", "id": table}]} for column in columns]
    return entities


def _cedar_requests(request) -> list[dict]:
    principal, table, columns, source_ip, moment = request
    context = json.dumps({"ip": source_ip, "now": _epoch(moment)})
    return [{"principal": {"type": "User", "id": principal}, "action": {"type": "Action", "id": "Select"},
             "resource": {"type": "Column", "id": f"{table}/{column}"}, "context": context} for column in columns]


# --- Casbin -------------------------------------------------------------------------------------

CASBIN_MODEL = """
[request_definition]
r = sub, tbl, col, act, ip, now
r2 = sub, tbl, col, lvl, clr, now

[policy_definition]
p = sub, tbl, pat, cols, act, eft, cond, exp
p2 = sub, tbl, cols, lvl, exp

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
e2 = some(where (p.eft == allow))

[matchers]
m = (r.tbl == p.tbl || p.pat != "" && keyMatch(r.tbl, p.pat)) && r.act in p.act && (p.sub == "*" || g(r.sub, p.sub)) \
&& (p.cols == "" || r.col in p.cols) && r.now < p.exp && (p.cond == "" || conditionHolds(p.cond, r.ip, r.now))
m2 = r2.lvl <= r2.clr || r2.tbl == p2.tbl && g(r2.sub, p2.sub) && (p2.cols == "" || r2.col in p2.cols) \
&& r2.lvl <= p2.lvl && r2.now < p2.exp
"""
# Expiry and time compare as fixed-width digit strings: policy fields are strings.
NEVER = "9" * 12


def _casbin_time(epoch: int | None) -> str:
    return NEVER if epoch is None else f"{epoch:012d}"


def _casbin_subject(subject: dict) -> str:
    return f"user:{subject['user']}" if "user" in subject else f"role:{subject['role']}"


def _casbin_enforcer(state: _State):
    import casbin
    from casbin.persist.adapters.string_adapter import StringAdapter

    conditions: dict[str, list] = {}

    def condition_key(condition: dict | None) -> str:
        if not condition:
            return ""
        key = f"c{len(conditions)}"
        conditions[key] = _condition_checks(condition)
        return key

    lines = [f"g, user:{principal}, role:{role}" for principal, roles in state.roles_of.items() for role in roles]
    for grant in state.grants:
        table, pattern = (grant["table"], "") if grant["table"] != "*" else ("", "*")
        columns = "|" + "|".join(grant["columns"]) + "|" if grant["columns"] else ""
        lines.append(", ".join(["p", _casbin_subject(grant["subject"]), table, pattern, columns,
                                "|" + "|".join(grant["actions"]) + "|", "allow", condition_key(grant["condition"]),
                                _casbin_time(grant["expires"])]))
    for statement in state.statements:
        subjects = [f"role:{statement['role']}"] if statement["role"] is not None else [
            "*" if name == "*" else f"user:{name}" for name in statement["principals"]]
        condition = condition_key(statement["condition"])
        for subject in subjects:
            for resource in statement["resources"]:
                table, pattern = ("", resource) if "*" in resource else (resource, "")
                lines.append(", ".join(["p", subject, table, pattern, "", "|" + "|".join(statement["actions"]) + "|",
                                        "deny" if statement["deny"] else "allow", condition, NEVER]))
    for grant in state.label_grants:
        columns = "|" + "|".join(grant["columns"]) + "|" if grant["columns"] else ""
        lines.append(", ".join(["p2", _casbin_subject(grant["subject"]), grant["table"], columns, str(grant["level"]),
                                _casbin_time(grant["expires"])]))

    def condition_holds(key: str, source_ip: str, now: str) -> bool:
        moment = int(now)
        for kind, values in conditions[key]:
            if kind in ("ip_in", "ip_not_in"):
                inside = any(ip_address(source_ip) in ip_network(value) for value in values)
                if inside != (kind == "ip_in"):
                    return False
            elif not any({"lt": moment < value, "le": moment <= value, "gt": moment > value,
                          "ge": moment >= value}[kind] for value in values):
                return False
        return True

    model = casbin.Enforcer.new_model(text=CASBIN_MODEL)
    enforcer = casbin.Enforcer(model, StringAdapter("\n".join(lines)))
    enforcer.add_function("conditionHolds", condition_holds)
    return enforcer, len(lines)


def _casbin_allowed(enforcer, label_context, state: _State, request) -> bool:
    principal, table, columns, source_ip, moment = request
    subject = f"user:{principal}"
    now = _casbin_time(_epoch(moment))
    clearance = str(state.clearance[principal])
    labels_pass = [enforcer.enforce(label_context, subject, table, f"|{column}|", str(state.levels[(table, column)]),
                                    clearance, now) for column in columns]
    granted = [enforcer.enforce(subject, table, f"|{column}|", "|Select|", source_ip, now) for column in columns]
    return all(labels_pass) and all(granted)


# --- the run ------------------------------------------------------------------------------------

def run() -> dict[str, float]:
    import cedarpy

    from apps.permissions.conditions import RequestContext
    from apps.permissions.decision import AccessRequest
    from apps.permissions.engine import authorize, compile_snapshot
    from apps.permissions.selectors import security_facts

    rng = random.Random(SEED)
    started = time.perf_counter()
    project, users, held, home, columns_of = _build_project(rng)
    setup_s = time.perf_counter() - started
    project_with_relations = type(project).objects.select_related("tenant", "owner__tenant").get(pk=project.pk)

    rebuilds = []
    for _ in range(REBUILDS):
        started = time.perf_counter()
        facts = security_facts(project_with_relations)
        snapshot = compile_snapshot(facts, version=project.security_version)
        rebuilds.append((time.perf_counter() - started) * 1000)
    snapshots = {snapshot.name: snapshot}.get

    requests = _requests(rng, users, held, home, columns_of)
    access_requests = [AccessRequest(principal=principal, project=project.name, action="Select", object_type="table",
                                     object_name=table, columns=columns,
                                     context=RequestContext(source_ip=source_ip, current_time=moment))
                       for principal, table, columns, source_ip, moment in requests]
    for access_request in access_requests[:WARM_UP]:
        authorize(access_request, snapshots)
    # The build left a large heap behind; collect it now rather than inside a timed decision.
    gc.collect()
    warden_us, warden_allowed = [], []
    clock = time.perf_counter_ns
    for access_request in access_requests:
        started = clock()
        decision = authorize(access_request, snapshots)
        warden_us.append((clock() - started) / 1000)
        warden_allowed.append(decision.allowed)

    state = _State(facts, project.name, project_with_relations.tenant.name)
    # The peers are too slow for all the requests: each decides the same random sample.
    sample = rng.sample(range(REQUESTS), CEDAR_REQUESTS)

    started = time.perf_counter()
    policy_set = cedarpy.PolicySet.from_str(_cedar_policies(state))
    entities = cedarpy.Entities.from_json_str(json.dumps(_cedar_entities(state)))
    cedar_parse_s = time.perf_counter() - started
    cedarpy.is_authorized_batch(_cedar_requests(requests[0]), policy_set, entities)
    cedar_us, cedar_agrees = [], []
    for index in sample:
        batch = _cedar_requests(requests[index])
        started = clock()
        results = cedarpy.is_authorized_batch(batch, policy_set, entities)
        cedar_us.append((clock() - started) / 1000)
        errors = [error for result in results for error in result.diagnostics.errors]
        if errors:
            raise RuntimeError(f"Cedar evaluation errors: {errors[:3]}")
        cedar_agrees.append(all(result.allowed for result in results) == warden_allowed[index])

    casbin_logger = logging.getLogger("casbin")
    casbin_level = casbin_logger.level
    # pycasbin logs every policy line it loads and every denied request; that is not what is measured.
    casbin_logger.setLevel(logging.ERROR)
    try:
        started = time.perf_counter()
        enforcer, casbin_lines = _casbin_enforcer(state)
        casbin_build_s = time.perf_counter() - started
        label_context = enforcer.new_enforce_context("2")
        _casbin_allowed(enforcer, label_context, state, requests[0])
        casbin_us, casbin_agrees = [], []
        for index in sample[:CASBIN_REQUESTS]:
            started = clock()
            allowed = _casbin_allowed(enforcer, label_context, state, requests[index])
            casbin_us.append((clock() - started) / 1000)
            casbin_agrees.append(allowed == warden_allowed[index])
    finally:
        casbin_logger.setLevel(casbin_level)

    for peer, agrees in (("Cedar", cedar_agrees), ("Casbin", casbin_agrees)):
        if not all(agrees):
            index = sample[agrees.index(False)]
            print(f"  {peer} disagrees on {agrees.count(False)} requests, e.g. {requests[index]}: "
                  f"Warden {authorize(access_requests[index], snapshots).as_dict()}")

    warden_median = statistics.median(warden_us)
    cedar_median = statistics.median(cedar_us)
    casbin_median = statistics.median(casbin_us)
    return {
        "warden_median_us": warden_median,
        "warden_p99_us": statistics.quantiles(warden_us, n=100, method="inclusive")[98],
        "cedar_median_us": cedar_median,
        "casbin_median_us": casbin_median,
        "ratio_vs_cedar": cedar_median / warden_median,
        "ratio_vs_casbin": casbin_median / warden_median,
        "snapshot_rebuild_ms": statistics.median(rebuilds),
        "allow_ratio": sum(warden_allowed) / REQUESTS,
        "sample_allow_ratio": sum(warden_allowed[index] for index in sample) / len(sample),
        "agreement_cedar": sum(cedar_agrees) / len(cedar_agrees),
        "agreement_casbin": sum(casbin_agrees) / len(casbin_agrees),
        "cedar_preparsed": 1.0,
        "cedar_policies": float(len(policy_set)),
        "cedar_entities": float(len(entities)),
        "cedar_parse_s": cedar_parse_s,
        "cedar_requests": float(len(cedar_us)),
        "casbin_requests": float(len(casbin_us)),
        "casbin_policy_lines": float(casbin_lines),
        "casbin_build_s": casbin_build_s,
        "requests": float(REQUESTS),
        "facts": float(len(facts)),
        "setup_s": setup_s,
    }
