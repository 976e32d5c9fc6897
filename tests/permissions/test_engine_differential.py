"""Hypothesis builds small random projects (a provider sharing a package with a consumer) and
random requests: the fast engine must decide exactly as the reference evaluator, and both must
keep the properties every access model promises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.permissions.engine import authorize, compile_snapshot
from apps.permissions.reference import reference_authorize
from tests.permissions.security_facts import (FUTURE, OWNER, PAST, clearance, grant, ip_whitelist, label,
                                              label_grant, member, package, package_allowance, package_install,
                                              package_object, project, protection_exception, request, role,
                                              role_member, setting, statement, table, trusted_project)

PROVIDER, CONSUMER, ELSEWHERE = "prov", "cons", "elsewhere"
CONSUMER_OWNER = "ALIYUN$consowner"
USERS = ("RAM$acme:u1", "RAM$acme:u2", "RAM$acme:u3")
PRINCIPALS = (OWNER, CONSUMER_OWNER, *USERS)
ROLES = ("r1", "r2")
TABLES = ("t1", "t2", "t3")  # t3 is never created: a dropped table
COLUMNS = ("c1", "c2", "c3")
TABLE_ACTIONS = ("Describe", "Select", "Alter", "Update", "Drop", "ShowHistory", "Download")
ADDRESSES = ("10.0.0.5", "192.168.1.9", "8.8.8.8")
FLAGS = ("CheckPermissionUsingACL", "CheckPermissionUsingPolicy", "ObjectCreatorHasAccessPermission",
         "LabelSecurity", "NoWriteDown", "ProjectProtection")

# Hypothesis favours the first value of a sampled_from and False; these put the likely case first.
usually = st.sampled_from((True, True, True, False))
sometimes = st.sampled_from((False, True))

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The properties draw from the same worlds as the comparison with the reference; fewer of them keep the suite quick.
PROPERTY_SETTINGS = settings(SETTINGS, max_examples=100)

subjects = st.one_of(st.sampled_from(USERS).map(lambda principal: {"user": principal}),
                     st.sampled_from(ROLES).map(lambda name: {"role": name}))
expiries = st.sampled_from((None, PAST, FUTURE))
conditions = st.sampled_from((None, None, {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}},
                              {"StringEquals": {"odps:TaskType": ["SQL"]}}))
column_lists = st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True)
granted_actions = st.one_of(st.just(["Select"]), st.lists(st.sampled_from(TABLE_ACTIONS + ("All",)), min_size=1,
                                                          max_size=3, unique=True))
granted_columns = st.one_of(st.just([]), column_lists)


@st.composite
def grants(draw, ids, in_consumer: bool = False, aim=None):
    """A random grant; with ``aim`` (a request) it is often one that nearly fits that request,
    so that expiry, conditions and columns decide rather than a different table or action."""
    aimed = aim is not None and draw(usually)
    subject = draw(st.one_of(st.just({"user": aim.principal}), subjects)) if aimed else draw(subjects)
    package_name = f"{PROVIDER}.{draw(st.sampled_from(('pk', 'pk', 'other')))}" if in_consumer else None
    if in_consumer and draw(st.booleans()):
        return grant(next(ids), subject, package_name, ("Read",), object_type="package", expires=draw(expiries),
                     condition=draw(conditions))
    if aimed and aim.object_type == "table":
        obj = aim.object_name
        actions = draw(st.one_of(st.just([aim.action]), granted_actions))
        columns = draw(st.one_of(st.just([]), st.lists(st.sampled_from(COLUMNS), max_size=3, unique=True)))
    else:
        obj = draw(st.sampled_from(TABLES[:2] + ("*",))) if "role" in subject else draw(st.sampled_from(TABLES[:2]))
        actions, columns = draw(granted_actions), draw(granted_columns)
    return grant(next(ids), subject, obj, actions, columns=columns, expires=draw(expiries),
                 condition=draw(conditions), package=package_name)


@st.composite
def statements(draw, with_principal: bool, effects=("Allow", "Deny")):
    resource = draw(st.sampled_from((f"projects/{PROVIDER}/tables/t1", f"projects/{PROVIDER}/tables/t*",
                                     f"projects/{PROVIDER}/tables/t3", f"projects/{PROVIDER}")))
    principal = draw(st.sampled_from(PRINCIPALS + ("*", "RAM$u*"))) if with_principal else None
    return statement(draw(st.sampled_from(effects)), draw(st.sampled_from((["Select"], ["*"], ["Select", "Update"],
                                                                          ["Download"], ["CreateTable"]))),
                     [resource], principal=principal, condition=draw(conditions))


def _counter():
    number = 0
    while True:
        number += 1
        yield number


@st.composite
def worlds(draw, aim=None):
    """``{project: facts}``: the provider, a consumer that may have installed its package."""
    ids = _counter()
    provider = [project(PROVIDER)]
    provider += [setting(flag, draw(sometimes)) for flag in FLAGS if flag != "LabelSecurity" and draw(sometimes)]
    provider.append(setting("LabelSecurity", draw(st.booleans())))
    # Most users are members, so that most requests get past authentication.
    provider += [member(principal) for principal in USERS if draw(usually)]
    provider += [role(name, draw(st.lists(st.fixed_dictionaries({
        "object_type": st.just("table"), "name": st.sampled_from(("t1", "*")),
        "actions": st.lists(st.sampled_from(TABLE_ACTIONS), min_size=1, max_size=2, unique=True)}), max_size=1)))
        for name in (*ROLES, "super_administrator")]
    provider += [role_member(name, principal) for name, principal in draw(st.lists(
        st.tuples(st.sampled_from(ROLES), st.sampled_from(USERS)), max_size=4, unique=True))]
    if not draw(usually):
        provider.append(role_member("super_administrator", draw(st.sampled_from(USERS))))
    provider += [table(name, COLUMNS, creator=draw(st.sampled_from((None, *USERS)))) for name in TABLES[:2]]
    provider += draw(st.lists(grants(ids, aim=aim), max_size=8))
    if draw(sometimes):
        provider.append({"kind": "policy", "role": None, "document": json.dumps(
            {"Version": "1", "Statement": draw(st.lists(statements(True), min_size=1, max_size=3))})})
    for name in draw(st.lists(st.sampled_from(ROLES), unique=True)):
        provider.append({"kind": "policy", "role": name, "document": json.dumps(
            {"Version": "1", "Statement": draw(st.lists(statements(False), min_size=1, max_size=2))})})
    provider += [label(name, draw(st.integers(0, 4)), column) for name, column in draw(st.lists(
        st.tuples(st.sampled_from(TABLES[:2]), st.sampled_from((None,) + COLUMNS)), max_size=4, unique=True))]
    provider += [clearance(subject, draw(st.integers(0, 4))) for subject in draw(st.lists(
        subjects, max_size=3, unique_by=lambda subject: json.dumps(subject)))]
    provider += [label_grant(next(ids), draw(subjects), draw(st.sampled_from(TABLES[:2])), draw(st.integers(0, 4)),
                             draw(column_lists), expires=draw(st.sampled_from((PAST, FUTURE))))
                 for _ in range(draw(st.integers(0, 3)))]
    if aim is not None and aim.object_type == "table":
        provider += [label(aim.object_name, draw(st.integers(0, 4)), column)
                     for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=3, unique=True))]
        provider += [label_grant(next(ids), draw(st.one_of(st.just({"user": aim.principal}), subjects)),
                                 aim.object_name, draw(st.integers(0, 4)), draw(column_lists),
                                 expires=draw(st.sampled_from((FUTURE, PAST))))
                     for _ in range(draw(st.integers(0, 3)))]
    if not draw(usually):
        provider += [ip_whitelist(draw(st.lists(st.sampled_from(("10.0.0.0/8", "192.168.1.0/24", "*")),
                                                max_size=2)), scope=scope, network=network)
                     for scope, network in draw(st.lists(st.sampled_from(
                         (("project", "ip"), ("project", "vpc"), ("tenant", "ip"))), max_size=2, unique=True))]
    if draw(sometimes):
        provider.append(trusted_project(draw(st.sampled_from((CONSUMER, ELSEWHERE)))))
    if draw(sometimes):
        provider.append(protection_exception(draw(st.lists(statements(True, ("Allow",)), min_size=1, max_size=2))))
    if draw(usually):
        provider += [package("pk"), package_allowance("pk", CONSUMER, draw(st.integers(0, 4)),
                                                                draw(st.sampled_from((None, FUTURE, PAST))))]
        provider += [package_object("pk", name, draw(granted_actions))
                     for name in TABLES[:2] if draw(usually)]
    consumer = [project(CONSUMER, owner=CONSUMER_OWNER)]
    consumer += [member(principal) for principal in USERS if draw(usually)]
    consumer += [role_member(name, principal) for name, principal in draw(st.lists(
        st.tuples(st.sampled_from(ROLES), st.sampled_from(USERS)), max_size=2, unique=True))]
    if draw(usually):
        consumer.append(package_install(PROVIDER, "pk"))
    consumer += draw(st.lists(grants(ids, in_consumer=True, aim=aim), min_size=1, max_size=6))
    return {PROVIDER: provider, CONSUMER: consumer}


@st.composite
def requests(draw):
    object_type = draw(st.sampled_from(("table", "table", "table", "project")))
    if object_type == "project":
        action, obj, columns = draw(st.sampled_from(("CreateTable", "List"))), PROVIDER, ()
    else:
        action = draw(st.one_of(st.just("Select"), st.sampled_from(TABLE_ACTIONS)))
        obj, columns = draw(st.sampled_from(TABLES)), draw(column_lists)
    principal = draw(st.sampled_from(USERS * 3 + (OWNER, CONSUMER_OWNER)))
    return request(principal, action, obj, project_name=PROVIDER, object_type=object_type, columns=columns,
                   source_ip=draw(st.sampled_from(ADDRESSES + (None,))), task_type=draw(st.sampled_from(("SQL", "DT"))),
                   network=draw(st.sampled_from(("ip", "vpc"))),
                   destination_project=draw(st.sampled_from((None, PROVIDER, CONSUMER, ELSEWHERE))),
                   via_project=draw(st.sampled_from((None, CONSUMER))),
                   read_level=draw(st.sampled_from((None, 0, 2, 4))))


@st.composite
def cases(draw):
    """A request and a world built around it."""
    access = draw(requests())
    return draw(worlds(aim=access)), access


def engine_decide(world, access):
    snapshots = {name: compile_snapshot(facts, version=1) for name, facts in world.items()}
    return authorize(access, snapshots.get)


def _holds_super_administrator(world, principal) -> bool:
    return principal == world[PROVIDER][0]["owner"] or (
        {"kind": "role_member", "role": "super_administrator", "principal": principal} in world[PROVIDER]
        and {"kind": "member", "principal": principal} in world[PROVIDER])


@SETTINGS
@given(cases())
def test_engine_decides_as_the_reference(case):
    world, access = case
    decision = engine_decide(world, access)
    expected = reference_authorize(access, world)
    assert (decision.allowed, decision.step, decision.denied_columns) == (
        expected.allowed, expected.step, expected.denied_columns)
    assert decision.trace[-1].rule == expected.trace[-1].rule
    assert [step.step for step in decision.trace] == [step.step for step in expected.trace]


@PROPERTY_SETTINGS
@given(cases())
def test_an_explicit_deny_always_wins(case):
    world, access = case
    provider = [fact for fact in world[PROVIDER]
                if not (fact["kind"] == "setting" and fact["name"] == "CheckPermissionUsingPolicy")]
    deny = statement("Deny", [access.action], [f"projects/{PROVIDER}" + (
        f"/tables/{access.object_name}" if access.object_type == "table" else "")], principal=access.principal)
    project_policy = next((fact for fact in provider if fact["kind"] == "policy" and fact["role"] is None), None)
    if project_policy is None:
        provider.append({"kind": "policy", "role": None, "document": json.dumps({"Version": "1", "Statement": [deny]})})
    else:
        document = json.loads(project_policy["document"])
        provider[provider.index(project_policy)] = dict(project_policy, document=json.dumps(
            dict(document, Statement=document["Statement"] + [deny])))
    world = dict(world, **{PROVIDER: provider})
    decision = engine_decide(world, access)
    if not _holds_super_administrator(world, access.principal):
        assert not decision.allowed, decision
        assert reference_authorize(access, world).allowed is False


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_adding_an_allow_grant_never_turns_an_allow_into_a_deny(case, data):
    world, access = case
    before = engine_decide(world, access)
    into = data.draw(st.sampled_from((PROVIDER, CONSUMER)))
    added = data.draw(grants(iter(range(1000, 1100)), in_consumer=into == CONSUMER, aim=access))
    after = engine_decide(dict(world, **{into: world[into] + [added]}), access)
    if before.allowed:
        assert after.allowed, (before, after)


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_adding_a_deny_never_turns_a_deny_into_an_allow(case, data):
    world, access = case
    before = engine_decide(world, access)
    deny = data.draw(statements(True, ("Deny",)))
    document = {"Version": "1", "Statement": [deny]}
    provider = list(world[PROVIDER])
    for position, fact in enumerate(provider):
        if fact["kind"] == "policy" and fact["role"] is None:
            existing = json.loads(fact["document"])
            document = dict(existing, Statement=existing["Statement"] + [deny])
            del provider[position]
            break
    provider.append({"kind": "policy", "role": None, "document": json.dumps(document)})
    after = engine_decide(dict(world, **{PROVIDER: provider}), access)
    if not before.allowed:
        assert not after.allowed, (before, after)


@st.composite
def label_cases(draw):
    """Label Security on its own: one table everyone may select, random levels, clearances and
    label grants (the part of the space the general worlds rarely reach)."""
    ids = _counter()
    facts = [project(PROVIDER), setting("LabelSecurity", True), table("t1", COLUMNS),
             *(member(principal) for principal in USERS), grant(next(ids), {"role": "r1"}, "t1", ("All",))]
    facts += [role_member("r1", principal) for principal in USERS]
    facts += [role_member("r2", principal) for principal in USERS if draw(st.booleans())]
    facts += [label("t1", draw(st.integers(0, 4)), column) for column in (None,) + COLUMNS if draw(st.booleans())]
    facts += [clearance(subject, draw(st.integers(0, 4))) for subject in draw(st.lists(
        subjects, max_size=3, unique_by=lambda subject: json.dumps(subject)))]
    principal = draw(st.sampled_from(USERS))
    facts += [label_grant(next(ids), draw(st.one_of(st.just({"user": principal}), subjects)), "t1",
                          draw(st.integers(0, 4)), draw(st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True)),
                          expires=draw(st.sampled_from((FUTURE, PAST))))
              for _ in range(draw(st.integers(0, 5)))]
    access = request(principal, "Select", "t1", project_name=PROVIDER,
                     columns=draw(st.lists(st.sampled_from(COLUMNS), max_size=3, unique=True)))
    return {PROVIDER: facts}, access


@SETTINGS
@given(label_cases())
def test_label_decisions_match_the_reference(case):
    world, access = case
    decision = engine_decide(world, access)
    expected = reference_authorize(access, world)
    assert (decision.allowed, decision.step, decision.denied_columns) == (
        expected.allowed, expected.step, expected.denied_columns)


_ALLOWING_KINDS = {"grant", "policy", "package_install"}


@PROPERTY_SETTINGS
@given(cases())
def test_nothing_is_allowed_without_a_rule_that_allows_it(case):
    world, access = case
    bare = {}
    for name, facts in world.items():
        kept = []
        for fact in facts:
            if fact["kind"] in _ALLOWING_KINDS or (fact["kind"] == "role_member"
                                                   and fact["role"] == "super_administrator"):
                continue
            if fact["kind"] == "role":
                fact = dict(fact, privileges=[])
            elif fact["kind"] == "object":
                fact = dict(fact, creator=None)
            kept.append(fact)
        bare[name] = kept
    decision = engine_decide(bare, access)
    if access.principal != OWNER:
        assert not decision.allowed, decision
        assert not reference_authorize(access, bare).allowed
