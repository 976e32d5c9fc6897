"""The access rules of Warden, and a slow, obviously correct evaluator written straight from them.

``reference_authorize(request, facts_by_project)`` decides from the facts
(``apps.permissions.facts``) with linear scans and no index; the fast engine
(``apps.permissions.engine``) must reach the same ``allowed``, ``step`` and
``denied_columns`` on every request, which the differential tests check. Where MaxCompute
(shared/reference/maxcompute-security.md) leaves a choice, the choice is written here.

Terms. The *owner* of a project is the principal of its ``project`` fact; an *active member*
has a ``member`` fact. The roles a principal *holds* in a project are those of its
``role_member`` facts, counted only while the principal is the owner or an active member (a
removed user keeps their rows but they do not apply). *Super_Administrator* is holding the
role ``super_administrator``. A time-limited rule is *unexpired* while its ``expires`` is null
or later than ``context.current_time``. A grant's *condition* holds when its compiled
condition (``conditions.condition_compile``) matches the request context. An action *is in*
a rule's actions when it is in ``actions_expand(object_type, actions)``. The request's
*columns* are the requested columns, lowercase and without repeats. The request *crosses
projects* when ``via_project`` is set and differs from ``project`` (package access). A
*package route* from ``project`` into a consumer project C is a package K of ``project``
(``package`` fact) that C has installed (``package_install`` with provider ``project``),
whose ``package_object`` lists the object with the action, and whose ``package_allowance``
for C is unexpired; its label cap is the allowance's ``label``.

Steps, in order; the first that denies ends the decision with deny, a step that allows ends
it with allow, otherwise the next step runs. The trace holds every step that ran.

1. ``authentication``: pass if the principal is the owner or an active member of
   ``project``, or, when the request crosses projects, of ``via_project``. Else deny ("not a
   member"). A project without facts denies here too.
2. ``ip_whitelist``: the ``ip_whitelist`` facts of ``project``, tenant scope first, then
   project scope. A list is *set* when it has entries. For each scope with a set list: the
   list for the request's ``network`` must be set (MaxCompute couples the two lists: setting
   only one network's list shuts the other network out) and must contain ``source_ip``;
   otherwise deny, also when the request has no source IP. Applies to the owner too.
3. ``project_protection``: runs when ProjectProtection is on and data leaves ``project``
   (``destination_project`` set and not ``project``, or the action is ``Download``);
   otherwise skip. Pass if the destination is a trusted project of ``project``; or a
   package route leads where the data goes, into the destination (or, for a ``Download``
   without one, into ``via_project``): packages win over protection, but only for the
   project they are installed in; or an Allow statement of the exception policy applies to the principal,
   the action and the object's resource path, and its condition holds. Else deny.
4. ``label_security``: runs when LabelSecurity is on and the object is a table; otherwise
   skip. The checked columns are the request's columns, or when it names none all columns
   of the table's ``object`` fact. A column's level is its ``label`` fact, else the table's
   label (null column), else 0 (of two labels for one column, the higher counts).
   Reads (``Select``, ``Download``): when the request crosses projects and package routes
   exist, a column passes if its level is at most the highest label cap of the routes
   (the cap replaces clearance and label grants). Otherwise the principal's clearance is the
   highest of their own ``clearance`` and those of the roles they hold (absent: 0); a
   column passes if its level is at most the clearance, or a label grant covers it: for
   each subject (the user, each role held) its unexpired label grants on the table that
   list the column decide for that subject, and only when it has none its unexpired
   whole-table label grants (empty columns) do; the column is covered when that
   subject's highest grant level is at least the column's level.
   Writes (``Update``): when NoWriteDown is on and ``read_level`` is given, a column passes
   if its level is at least ``read_level``; otherwise skip.
   Labels bind everyone, the owner included. Deny names the refused columns, in order.
5. ``policy``: runs when CheckPermissionUsingPolicy is on; the owner and Super_Administrator
   skip it. The statements are those of the project policy (``policy`` fact without role),
   whose Principal must match the principal, and of the role policies of the roles held.
   The resource is ``policy.resource_path(project, object_type, object_name)``. A statement
   *matches* when it applies to the principal, the action and the resource and its
   Condition holds (a statement whose condition does not hold is ignored). Any matching
   Deny denies (the first in fact order, then statement order, is the rule); else any
   matching Allow allows: policies are table-level, an Allow covers every column.
6. ``acl``: the owner is allowed ("project owner"), then Super_Administrator. When
   CheckPermissionUsingACL is off: skip. A principal who is no active member gets nothing
   here (skip). The candidate rules, in fact order: the user's grants and the grants of the
   roles held (object ``*`` matches any object), the ``privileges`` of the ``role`` facts of
   the roles held (name ``*`` or the object's), and the creator rule (when
   ObjectCreatorHasAccessPermission is on and the object's ``object`` fact names the
   principal as creator: every action, the whole object). A grant applies when its object
   type and object match, the action is in its actions, it is unexpired and its condition
   holds; grants on packages (``package`` set, or object type ``package``) never apply
   here. A rule with columns covers those columns; without, the whole object. No applying
   rule: pass. An applying whole-object rule allows (the first is the rule). Else, with
   requested columns, each must be covered by some applying rule: all covered allows
   (the rule lists, per column, the first rule covering it), some not covered denies with
   those as ``denied_columns``; with no requested columns only column rules apply: deny.
   When the request crosses projects these two cases pass instead, since a package may
   still grant the access (so adding a grant never turns an allow into a deny).
7. ``package``: runs when the request crosses projects; otherwise skip. With no package
   route into ``via_project``: skip. The owner of ``via_project`` is allowed by the route
   (installing is enough for them). Else the rules are the grants in ``via_project`` to
   the principal (an active member there) or to the roles they hold there, unexpired and
   with their condition holding: ``Read`` on object type ``package`` named
   ``<project>.<package>`` of a route covers the whole object; a grant whose ``package`` is
   a route's ``<project>.<package>``, with the object's type, the object (or ``*``) and the
   action covers its columns (or the whole object). Coverage as in ``acl``; when it is not
   complete the step skips rather than denies.
8. ``default``: deny ("no rule allows <action> on <object>").

A dropped table has no ``object`` fact and no grants (dropping removes them), so a request
on it is denied at ``default`` unless a policy, which may name objects that do not exist,
allows it.
"""

from __future__ import annotations

from datetime import datetime

from apps.permissions.actions import ObjectType, actions_expand
from apps.permissions.conditions import condition_compile
from apps.permissions.decision import (READ_ACTIONS, WRITE_ACTIONS, AccessRequest, Decision, Outcome, Step,
                                       TraceStep)
from apps.permissions.facts import FLAG_DEFAULTS, time_parse
from apps.permissions.ipaddress_lists import IpList
from apps.permissions.policy import DENY, policy_document_parse, resource_path

SUPER_ADMINISTRATOR = "super_administrator"


class _Decided(Exception):
    """Raised by a step that ends the decision."""

    def __init__(self, trace_step: TraceStep, denied_columns: tuple[str, ...] = ()):
        super().__init__(trace_step.detail)
        self.trace_step = trace_step
        self.denied_columns = denied_columns


def _of_kind(facts: list[dict], kind: str) -> list[dict]:
    return [fact for fact in facts if fact["kind"] == kind]


def _project_fact(facts: list[dict]) -> dict:
    return next(fact for fact in _of_kind(facts, "project"))


def _flag(facts: list[dict], name: str) -> bool:
    for fact in _of_kind(facts, "setting"):
        if fact["name"] == name:
            return bool(fact["value"])
    return FLAG_DEFAULTS[name]


def _is_owner(facts: list[dict] | None, principal: str) -> bool:
    return facts is not None and _project_fact(facts)["owner"] == principal


def _is_member(facts: list[dict] | None, principal: str) -> bool:
    return facts is not None and any(fact["principal"] == principal for fact in _of_kind(facts, "member"))


def _roles_held(facts: list[dict], principal: str) -> set[str]:
    if not (_is_owner(facts, principal) or _is_member(facts, principal)):
        return set()
    return {fact["role"] for fact in _of_kind(facts, "role_member") if fact["principal"] == principal}


def _subjects(facts: list[dict], principal: str) -> list[dict]:
    return [{"user": principal}] + [{"role": role} for role in sorted(_roles_held(facts, principal))]


def _unexpired(expires: str | None, now: datetime) -> bool:
    return expires is None or now < time_parse(expires)


def _condition_holds(condition: dict | None, context) -> bool:
    return condition is None or condition_compile(condition).matches(context)


def _package_routes(facts_by_project: dict, provider: str, consumer: str | None, request: AccessRequest):
    """``[(package, label cap)]`` of the packages of ``provider`` carrying the request into
    ``consumer``, in install order."""
    provider_facts, consumer_facts = facts_by_project.get(provider), facts_by_project.get(consumer)
    if consumer is None or consumer == provider or provider_facts is None or consumer_facts is None:
        return []
    now = request.context.current_time
    routes = []
    for install in _of_kind(consumer_facts, "package_install"):
        package = install["package"]
        if install["provider"] != provider or not any(
                fact["name"] == package for fact in _of_kind(provider_facts, "package")):
            continue
        labels = [fact["label"] for fact in _of_kind(provider_facts, "package_allowance")
                  if fact["package"] == package and fact["project"] == consumer and _unexpired(fact["expires"], now)]
        carries = any(fact["package"] == package and fact["object_type"] == request.object_type
                      and fact["object"] == request.object_name
                      and request.action in actions_expand(fact["object_type"], fact["actions"])
                      for fact in _of_kind(provider_facts, "package_object"))
        if labels and carries:
            routes.append((package, max(labels)))
    return routes


def _authentication(request: AccessRequest, facts_by_project: dict) -> TraceStep:
    facts = facts_by_project.get(request.project)
    if facts is None:
        raise _Decided(TraceStep(Step.AUTHENTICATION, Outcome.DENY, f"unknown project {request.project}"))
    principal = request.principal
    if _is_owner(facts, principal):
        return TraceStep(Step.AUTHENTICATION, Outcome.PASS, "project owner", {"kind": "owner"})
    if _is_member(facts, principal):
        return TraceStep(Step.AUTHENTICATION, Outcome.PASS, "member", {"kind": "member"})
    if request.crosses_projects:
        via_facts = facts_by_project.get(request.via_project)
        if _is_owner(via_facts, principal) or _is_member(via_facts, principal):
            return TraceStep(Step.AUTHENTICATION, Outcome.PASS, f"member of {request.via_project}",
                             {"kind": "member", "project": request.via_project})
    raise _Decided(TraceStep(Step.AUTHENTICATION, Outcome.DENY, f"{principal} is not a member of {request.project}"))


def _ip_whitelist(request: AccessRequest, facts: list[dict]) -> TraceStep:
    applied = []
    for scope in ("tenant", "project"):
        lists: dict[str, list[str]] = {}
        for fact in _of_kind(facts, "ip_whitelist"):
            if fact["scope"] == scope and fact["entries"]:
                lists.setdefault(fact["network"], []).extend(fact["entries"])
        if not lists:
            continue
        rule = {"kind": "ip_whitelist", "scope": scope, "network": request.network}
        entries = lists.get(request.network)
        source_ip = request.context.source_ip
        if entries is None:
            raise _Decided(TraceStep(Step.IP_WHITELIST, Outcome.DENY,
                                     f"the {scope} whitelist admits no {request.network} network", rule))
        if source_ip is None or not IpList.parse(entries).contains(source_ip):
            raise _Decided(TraceStep(Step.IP_WHITELIST, Outcome.DENY,
                                     f"{source_ip or 'an unknown address'} is not in the {scope} "
                                     f"{request.network} whitelist", rule))
        applied.append(scope)
    if not applied:
        return TraceStep(Step.IP_WHITELIST, Outcome.SKIP, "no whitelist")
    return TraceStep(Step.IP_WHITELIST, Outcome.PASS, f"{request.context.source_ip} is whitelisted")


def _project_protection(request: AccessRequest, facts_by_project: dict) -> TraceStep:
    facts = facts_by_project[request.project]
    destination = request.destination_project
    leaves = (destination is not None and destination != request.project) or request.action == "Download"
    if not _flag(facts, "ProjectProtection") or not leaves:
        return TraceStep(Step.PROJECT_PROTECTION, Outcome.SKIP, "no protected data leaves the project")
    if destination is not None and any(fact["project"] == destination
                                       for fact in _of_kind(facts, "trusted_project")):
        return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, f"{destination} is a trusted project",
                         {"kind": "trusted_project", "project": destination})
    # A package lets the data go where the package goes: into the destination when the data
    # flows into another project, else (a Download) into the project the request runs in.
    consumer = destination if destination is not None and destination != request.project else request.via_project
    routes = _package_routes(facts_by_project, request.project, consumer, request)
    if routes:
        return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, f"shared with {consumer} by a package",
                         {"kind": "package", "provider": request.project, "package": routes[0][0],
                          "consumer": consumer})
    path = resource_path(request.project, request.object_type, request.object_name)
    tenant = _project_fact(facts)["tenant"]
    for fact in _of_kind(facts, "protection_exception"):
        document = policy_document_parse(fact["document"], scope="exception", project_name=request.project,
                                         tenant_name=tenant)
        for statement in document.statements:
            if (statement.effect != DENY and statement.applies_to(request.principal, request.action, path)
                    and statement.condition_holds(request.context)):
                return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, "allowed by the exception policy",
                                 {"kind": "protection_exception", "statement": statement.index})
    raise _Decided(TraceStep(Step.PROJECT_PROTECTION, Outcome.DENY,
                             f"ProjectProtection keeps data of {request.project} from leaving it"))


def _column_level(facts: list[dict], table: str, column: str) -> int:
    labels = [fact for fact in _of_kind(facts, "label") if fact["table"] == table]
    own = [fact["level"] for fact in labels if fact["column"] == column]
    tables = [fact["level"] for fact in labels if fact["column"] is None]
    return max(own or tables or [0])


def _table_columns(facts: list[dict], request: AccessRequest) -> tuple[str, ...]:
    if request.columns:
        return request.columns
    for fact in _of_kind(facts, "object"):
        if fact["object_type"] == ObjectType.TABLE and fact["name"] == request.object_name:
            return tuple(fact["columns"])
    return ()


def _label_granted(facts: list[dict], request: AccessRequest, column: str, level: int) -> bool:
    now = request.context.current_time
    for subject in _subjects(facts, request.principal):
        grants = [fact for fact in _of_kind(facts, "label_grant")
                  if fact["subject"] == subject and fact["table"] == request.object_name
                  and _unexpired(fact["expires"], now)]
        for_column = [grant["level"] for grant in grants if column in grant["columns"]]
        whole_table = [grant["level"] for grant in grants if not grant["columns"]]
        deciding = for_column or whole_table
        if deciding and max(deciding) >= level:
            return True
    return False


def _label_security(request: AccessRequest, facts_by_project: dict) -> TraceStep:
    facts = facts_by_project[request.project]
    if not _flag(facts, "LabelSecurity") or request.object_type != ObjectType.TABLE:
        return TraceStep(Step.LABEL_SECURITY, Outcome.SKIP, "LabelSecurity does not apply")
    columns = _table_columns(facts, request)
    levels = {column: _column_level(facts, request.object_name, column) for column in columns}
    if request.action in READ_ACTIONS:
        routes = _package_routes(facts_by_project, request.project, request.via_project, request) \
            if request.crosses_projects else []
        if routes:
            cap = max(label for _package, label in routes)
            denied = tuple(column for column in columns if levels[column] > cap)
            rule = {"kind": "label", "table": request.object_name, "package_label": cap,
                    "levels": {column: levels[column] for column in denied}}
            return _label_outcome(denied, rule, f"the package allows labels up to {cap}")
        clearance = max([fact["level"] for fact in _of_kind(facts, "clearance")
                         if fact["subject"] in _subjects(facts, request.principal)], default=0)
        denied = tuple(column for column in columns if levels[column] > clearance
                       and not _label_granted(facts, request, column, levels[column]))
        rule = {"kind": "label", "table": request.object_name, "clearance": clearance,
                "levels": {column: levels[column] for column in denied}}
        return _label_outcome(denied, rule, f"clearance {clearance}")
    if request.action in WRITE_ACTIONS and _flag(facts, "NoWriteDown") and request.read_level is not None:
        denied = tuple(column for column in columns if levels[column] < request.read_level)
        rule = {"kind": "label", "table": request.object_name, "read_level": request.read_level,
                "levels": {column: levels[column] for column in denied}}
        if denied:
            raise _Decided(TraceStep(Step.LABEL_SECURITY, Outcome.DENY,
                                     f"No-WriteDown: data read at level {request.read_level} may not be written "
                                     f"into {', '.join(denied)}", rule), denied)
        return TraceStep(Step.LABEL_SECURITY, Outcome.PASS, f"no column below level {request.read_level}", rule)
    return TraceStep(Step.LABEL_SECURITY, Outcome.SKIP, f"LabelSecurity does not check {request.action}")


def _label_outcome(denied: tuple[str, ...], rule: dict, why: str) -> TraceStep:
    if denied:
        raise _Decided(TraceStep(Step.LABEL_SECURITY, Outcome.DENY,
                                 f"labels above {why}: {', '.join(denied)}", rule), denied)
    return TraceStep(Step.LABEL_SECURITY, Outcome.PASS, f"every column within {why}", rule)


def _policy(request: AccessRequest, facts: list[dict]) -> TraceStep:
    principal = request.principal
    if not _flag(facts, "CheckPermissionUsingPolicy"):
        return TraceStep(Step.POLICY, Outcome.SKIP, "CheckPermissionUsingPolicy is off")
    roles = _roles_held(facts, principal)
    if _is_owner(facts, principal) or SUPER_ADMINISTRATOR in roles:
        return TraceStep(Step.POLICY, Outcome.SKIP, "the owner and Super_Administrator are exempt from policies")
    path = resource_path(request.project, request.object_type, request.object_name)
    tenant = _project_fact(facts)["tenant"]
    deny = allow = None
    for fact in _of_kind(facts, "policy"):
        if fact["role"] is not None and fact["role"] not in roles:
            continue
        document = policy_document_parse(fact["document"], scope="project" if fact["role"] is None else "role",
                                         project_name=request.project, tenant_name=tenant)
        for statement in document.statements:
            if statement.applies_to(principal, request.action, path) and statement.condition_holds(request.context):
                rule = {"kind": "policy", "role": fact["role"], "statement": statement.index}
                if statement.effect == DENY:
                    deny = deny or rule
                else:
                    allow = allow or rule
    if deny is not None:
        raise _Decided(TraceStep(Step.POLICY, Outcome.DENY, f"explicitly denied by policy: {_policy_name(deny)}",
                                 deny))
    if allow is not None:
        raise _Decided(TraceStep(Step.POLICY, Outcome.ALLOW, f"allowed by policy: {_policy_name(allow)}", allow))
    return TraceStep(Step.POLICY, Outcome.PASS, "no policy statement matches")


def _policy_name(rule: dict) -> str:
    owner = "the project policy" if rule["role"] is None else f"the policy of role {rule['role']}"
    return f"statement {rule['statement']} of {owner}"


def _grant_applies(grant: dict, request: AccessRequest, object_type: str, object_name: str, action: str) -> bool:
    return (grant["object_type"] == object_type and grant["object"] in (object_name, "*")
            and action in actions_expand(object_type, grant["actions"])
            and _unexpired(grant["expires"], request.context.current_time)
            and _condition_holds(grant["condition"], request.context))


def _coverage(rules: list[tuple[dict, frozenset | None]], request: AccessRequest):
    """``(rule, denied_columns)`` of a list of applying rules in fact order."""
    whole = next((rule for rule, columns in rules if columns is None), None)
    if whole is not None:
        return whole, ()
    if not request.columns:
        return None, ()
    chosen: list[dict] = []
    denied: list[str] = []
    for column in request.columns:
        covering = next((rule for rule, columns in rules if column in columns), None)
        if covering is None:
            denied.append(column)
        elif covering not in chosen:
            chosen.append(covering)
    if denied:
        return None, tuple(denied)
    return (chosen[0] if len(chosen) == 1 else {"kind": "columns", "rules": chosen}), ()


def _acl(request: AccessRequest, facts: list[dict]) -> TraceStep:
    principal = request.principal
    if _is_owner(facts, principal):
        raise _Decided(TraceStep(Step.ACL, Outcome.ALLOW, "project owner", {"kind": "owner"}))
    roles = _roles_held(facts, principal)
    if SUPER_ADMINISTRATOR in roles:
        raise _Decided(TraceStep(Step.ACL, Outcome.ALLOW, "Super_Administrator",
                                 {"kind": "role", "role": SUPER_ADMINISTRATOR}))
    if not _flag(facts, "CheckPermissionUsingACL"):
        return TraceStep(Step.ACL, Outcome.SKIP, "CheckPermissionUsingACL is off")
    if not _is_member(facts, principal):
        return TraceStep(Step.ACL, Outcome.SKIP, f"{principal} holds no grants in {request.project}")
    subjects = _subjects(facts, principal)
    creator_counts = _flag(facts, "ObjectCreatorHasAccessPermission")
    rules: list[tuple[dict, frozenset | None]] = []
    for fact in facts:
        if fact["kind"] == "grant":
            if (fact["subject"] in subjects and fact["package"] is None and fact["object_type"] != ObjectType.PACKAGE
                    and _grant_applies(fact, request, request.object_type, request.object_name, request.action)):
                rules.append(({"kind": "grant", "id": fact["id"]},
                              frozenset(fact["columns"]) if fact["columns"] else None))
        elif fact["kind"] == "role" and fact["name"] in roles:
            for index, privilege in enumerate(fact["privileges"]):
                if (privilege["object_type"] == request.object_type
                        and privilege["name"] in ("*", request.object_name)
                        and request.action in actions_expand(privilege["object_type"], privilege["actions"])):
                    rules.append(({"kind": "role_privilege", "role": fact["name"], "privilege": index}, None))
        elif (fact["kind"] == "object" and creator_counts and fact["object_type"] == request.object_type
              and fact["name"] == request.object_name and fact["creator"] == principal):
            rules.append(({"kind": "creator", "object": fact["name"]}, None))
    if not rules:
        return TraceStep(Step.ACL, Outcome.PASS, f"no grant gives {request.action} on {request.object_label}")
    rule, denied = _coverage(rules, request)
    if rule is not None:
        raise _Decided(TraceStep(Step.ACL, Outcome.ALLOW, f"granted {request.action} on {request.object_label}",
                                 rule))
    why = (f"no grant covers the columns {', '.join(denied)}" if denied
           else "only some columns are granted; name the columns to read")
    if request.crosses_projects:
        return TraceStep(Step.ACL, Outcome.PASS, why)
    raise _Decided(TraceStep(Step.ACL, Outcome.DENY, why), denied)


def _package(request: AccessRequest, facts_by_project: dict) -> TraceStep:
    if not request.crosses_projects:
        return TraceStep(Step.PACKAGE, Outcome.SKIP, "not a cross-project request")
    routes = _package_routes(facts_by_project, request.project, request.via_project, request)
    if not routes:
        return TraceStep(Step.PACKAGE, Outcome.SKIP, f"no package installed in {request.via_project} carries it")
    consumer = facts_by_project[request.via_project]
    principal = request.principal
    if _is_owner(consumer, principal):
        raise _Decided(TraceStep(Step.PACKAGE, Outcome.ALLOW, f"owner of {request.via_project}, which installed it",
                                 {"kind": "package", "provider": request.project, "package": routes[0][0]}))
    subjects = _subjects(consumer, principal) if _is_member(consumer, principal) else []
    full_names = {f"{request.project}.{package}" for package, _label in routes}
    rules: list[tuple[dict, frozenset | None]] = []
    for fact in _of_kind(consumer, "grant"):
        if fact["subject"] not in subjects:
            continue
        if fact["object_type"] == ObjectType.PACKAGE:
            if fact["object"] in full_names and _grant_applies(fact, request, ObjectType.PACKAGE, fact["object"],
                                                               "Read"):
                rules.append(({"kind": "grant", "id": fact["id"], "package": fact["object"]}, None))
        elif fact["package"] in full_names and _grant_applies(fact, request, request.object_type,
                                                               request.object_name, request.action):
            rules.append(({"kind": "grant", "id": fact["id"], "package": fact["package"]},
                          frozenset(fact["columns"]) if fact["columns"] else None))
    rule, _denied = _coverage(rules, request)
    if rule is None:
        return TraceStep(Step.PACKAGE, Outcome.SKIP, f"no grant in {request.via_project} covers it")
    raise _Decided(TraceStep(Step.PACKAGE, Outcome.ALLOW, "granted through an installed package", rule))


def reference_authorize(request: AccessRequest, facts_by_project: dict[str, list[dict]]) -> Decision:
    trace: list[TraceStep] = []
    try:
        trace.append(_authentication(request, facts_by_project))
        facts = facts_by_project[request.project]
        trace.append(_ip_whitelist(request, facts))
        trace.append(_project_protection(request, facts_by_project))
        trace.append(_label_security(request, facts_by_project))
        trace.append(_policy(request, facts))
        trace.append(_acl(request, facts))
        trace.append(_package(request, facts_by_project))
    except _Decided as decided:
        trace.append(decided.trace_step)
        step = decided.trace_step
        return Decision(step.outcome == Outcome.ALLOW, step.step, step.detail, tuple(trace), decided.denied_columns)
    reason = f"no rule allows {request.action} on {request.object_label}"
    trace.append(TraceStep(Step.DEFAULT, Outcome.DENY, reason))
    return Decision(False, Step.DEFAULT, reason, tuple(trace))
