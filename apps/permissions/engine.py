"""The decision engine: a project's facts compiled into an immutable, indexed ``Snapshot``, and
``authorize``, which applies the rules of ``apps.permissions.reference`` (the spec; read its
docstring) against snapshots.

What the snapshot indexes, so one decision costs a few dict look-ups however large the
project is: principal -> roles held, Super_Administrator and clearance; (object type, object)
-> subject -> applying-rule candidates (grants and role privileges, actions expanded once,
times and conditions parsed once); policy statements by (action, resource path) with a short
list per action for resource wildcards; labels by table -> column, with each table's highest
level so that a principal cleared for all of it passes without a per-column loop.

Nothing here is cached across decisions: every rule that expires or carries a condition is
checked against the request's context each time, so a snapshot stays correct for as long as
its ``version`` is the project's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apps.permissions.actions import ObjectType, actions_expand
from apps.permissions.conditions import Condition, condition_compile
from apps.permissions.decision import (READ_ACTIONS, WRITE_ACTIONS, AccessRequest, Decision, Outcome, Step,
                                       TraceStep)
from apps.permissions.facts import FLAG_DEFAULTS, time_parse
from apps.permissions.ipaddress_lists import IpList
from apps.permissions.policy import DENY, PolicyStatement, policy_document_parse, resource_path

SUPER_ADMINISTRATOR = "super_administrator"
_ANYONE = ("any", "")

_READ = "Read"
_EVERY_OBJECT = "*"

_OWNER_RULE = {"kind": "owner"}
_MEMBER_RULE = {"kind": "member"}
_SUPER_RULE = {"kind": "role", "role": SUPER_ADMINISTRATOR}

_AUTHENTICATED_OWNER = TraceStep(Step.AUTHENTICATION, Outcome.PASS, "project owner", _OWNER_RULE)
_AUTHENTICATED_MEMBER = TraceStep(Step.AUTHENTICATION, Outcome.PASS, "member", _MEMBER_RULE)
_NO_WHITELIST = TraceStep(Step.IP_WHITELIST, Outcome.SKIP, "no whitelist")
_NOT_LEAVING = TraceStep(Step.PROJECT_PROTECTION, Outcome.SKIP, "no protected data leaves the project")
_LABELS_OFF = TraceStep(Step.LABEL_SECURITY, Outcome.SKIP, "LabelSecurity does not apply")
_POLICY_OFF = TraceStep(Step.POLICY, Outcome.SKIP, "CheckPermissionUsingPolicy is off")
_POLICY_EXEMPT = TraceStep(Step.POLICY, Outcome.SKIP, "the owner and Super_Administrator are exempt from policies")
_NO_POLICY = TraceStep(Step.POLICY, Outcome.PASS, "no policy statement matches")
_ACL_OWNER = TraceStep(Step.ACL, Outcome.ALLOW, "project owner", _OWNER_RULE)
_ACL_SUPER = TraceStep(Step.ACL, Outcome.ALLOW, "Super_Administrator", _SUPER_RULE)
_ACL_OFF = TraceStep(Step.ACL, Outcome.SKIP, "CheckPermissionUsingACL is off")
_NOT_CROSSING = TraceStep(Step.PACKAGE, Outcome.SKIP, "not a cross-project request")


class _Rule:
    """A compiled ACL or package rule: a grant, a role privilege or the creator rule.
    ``columns`` None covers the whole object; ``ordinal`` is its place in the facts, which
    picks the rule a trace names when several apply."""

    __slots__ = ("ordinal", "rule", "object_type", "object", "actions", "columns", "expires", "condition",
                 "package")

    def __init__(self, ordinal: tuple[int, int], rule: dict, object_type: str, object_name: str,
                 actions: frozenset[str], columns: frozenset[str] | None = None, expires: datetime | None = None,
                 condition: Condition | None = None, package: str | None = None):
        self.ordinal = ordinal
        self.rule = rule
        self.object_type = object_type
        self.object = object_name
        self.actions = actions
        self.columns = columns
        self.expires = expires
        self.condition = condition
        self.package = package


class _PolicyEntry:
    __slots__ = ("ordinal", "role", "statement", "is_deny", "rule")

    def __init__(self, ordinal: tuple[int, int], role: str | None, statement: PolicyStatement):
        self.ordinal = ordinal
        self.role = role
        self.statement = statement
        self.is_deny = statement.effect == DENY
        self.rule = {"kind": "policy", "role": role, "statement": statement.index}


class _Principal:
    """Who a principal is in one project."""

    __slots__ = ("owner", "member", "roles", "subjects", "super_administrator", "clearance")

    def __init__(self, owner: bool, member: bool, roles: frozenset[str], subjects: tuple[tuple[str, str], ...],
                 clearance: int):
        self.owner = owner
        self.member = member
        self.roles = roles
        self.subjects = subjects
        self.super_administrator = SUPER_ADMINISTRATOR in roles
        self.clearance = clearance


class _EveryAction:
    """The creator's actions: every action, whichever object type."""

    def __contains__(self, action) -> bool:
        return True


_EVERY_ACTION = _EveryAction()


def _subject_key(subject: dict) -> tuple[str, str]:
    return ("user", subject["user"]) if "user" in subject else ("role", subject["role"])


class Snapshot:
    """One project's security state, compiled. Immutable once built: share it between threads
    and decisions; build a new one when the project's ``security_version`` changes."""

    __slots__ = ("name", "version", "tenant", "owner", "flags", "members", "principals", "user_clearance",
                 "role_clearance", "ip_scopes", "trusted", "exception_statements", "table_columns", "column_levels",
                 "table_level", "table_max_level", "label_grants", "policy_exact", "policy_by_action", "grants",
                 "package_grants", "packages", "package_objects", "allowances", "installs", "_frozen")

    def __init__(self, facts: list[dict], version: int):
        project = next(fact for fact in facts if fact["kind"] == "project")
        self.name: str = project["name"]
        self.version = version
        self.tenant: str | None = project.get("tenant")
        self.owner: str = project["owner"]
        self.flags = dict(FLAG_DEFAULTS)
        members: set[str] = set()
        memberships: dict[str, set[str]] = {}
        self.user_clearance: dict[str, int] = {}
        self.role_clearance: dict[str, int] = {}
        ip_lists: dict[str, dict[str, list[str]]] = {"tenant": {}, "project": {}}
        trusted: set[str] = set()
        exception_statements: list[PolicyStatement] = []
        self.table_columns: dict[str, tuple[str, ...]] = {}
        created: list[tuple[int, dict]] = []
        self.column_levels: dict[str, dict[str, int]] = {}
        self.table_level: dict[str, int] = {}
        label_grants: dict[str, dict[tuple[str, str], tuple[list, list]]] = {}
        policy_exact: dict[tuple[str, str], list[_PolicyEntry]] = {}
        policy_by_action: dict[tuple[str, tuple[str, str]], list[_PolicyEntry]] = {}
        grants: dict[tuple[str, str], dict[tuple[str, str], list[_Rule]]] = {}
        package_grants: dict[tuple[str, str], list[_Rule]] = {}
        packages: set[str] = set()
        package_objects: dict[tuple[str, str, str], frozenset[str]] = {}
        allowances: dict[tuple[str, str], list[tuple[int, datetime | None]]] = {}
        installs: list[tuple[str, str]] = []

        def add_rule(subject: tuple[str, str], rule: _Rule):
            grants.setdefault((rule.object_type, rule.object), {}).setdefault(subject, []).append(rule)

        for position, fact in enumerate(facts):
            kind = fact["kind"]
            if kind == "setting":
                self.flags[fact["name"]] = bool(fact["value"])
            elif kind == "member":
                members.add(fact["principal"])
            elif kind == "role_member":
                memberships.setdefault(fact["principal"], set()).add(fact["role"])
            elif kind == "clearance":
                subject_type, subject = _subject_key(fact["subject"])
                levels = self.user_clearance if subject_type == "user" else self.role_clearance
                levels[subject] = max(levels.get(subject, 0), fact["level"])
            elif kind == "ip_whitelist":
                if fact["entries"]:
                    ip_lists[fact["scope"]].setdefault(fact["network"], []).extend(fact["entries"])
            elif kind == "trusted_project":
                trusted.add(fact["project"])
            elif kind == "protection_exception":
                document = policy_document_parse(fact["document"], scope="exception", project_name=self.name,
                                                 tenant_name=self.tenant)
                exception_statements.extend(statement for statement in document.statements
                                            if statement.effect != DENY)
            elif kind == "object":
                if fact["object_type"] == ObjectType.TABLE:
                    self.table_columns[fact["name"]] = tuple(fact["columns"])
                if fact.get("creator"):
                    created.append((position, fact))
            elif kind == "label":
                if fact["column"] is None:
                    levels, key = self.table_level, fact["table"]
                else:
                    levels, key = self.column_levels.setdefault(fact["table"], {}), fact["column"]
                levels[key] = max(levels.get(key, 0), fact["level"])
            elif kind == "label_grant":
                by_subject = label_grants.setdefault(fact["table"], {})
                column_grants, table_grants = by_subject.setdefault(_subject_key(fact["subject"]), ([], []))
                expires = time_parse(fact["expires"])
                if fact["columns"]:
                    column_grants.append((frozenset(fact["columns"]), fact["level"], expires))
                else:
                    table_grants.append((fact["level"], expires))
            elif kind == "policy":
                role = fact["role"]
                document = policy_document_parse(fact["document"], scope="project" if role is None else "role",
                                                 project_name=self.name, tenant_name=self.tenant)
                for statement in document.statements:
                    entry = _PolicyEntry((position, statement.index), role, statement)
                    resources = statement.exact_resources
                    # policy.py expands action wildcards, so a statement's actions are a finite set.
                    # Wildcard resources are looked up by action and by who the statement is
                    # for (a role, a named principal, or anyone), so a request scans only the
                    # statements that can apply to its principal.
                    principals = statement.exact_principals
                    if role is not None:
                        owners = [("role", role)]
                    elif principals is not None:
                        owners = [("user", principal) for principal in principals]
                    else:
                        owners = [_ANYONE]
                    for action in statement.exact_actions:
                        if resources is None:
                            for owner in owners:
                                policy_by_action.setdefault((action, owner), []).append(entry)
                        else:
                            for path in resources:
                                policy_exact.setdefault((action, path), []).append(entry)
            elif kind == "grant":
                # Package grants name the installed package: the whole one, or one of its objects.
                package_name = fact["object"] if fact["object_type"] == ObjectType.PACKAGE else fact["package"]
                described = {"kind": "grant", "id": fact["id"]}
                if package_name is not None:
                    described["package"] = package_name
                rule = _Rule((position, 0), described, fact["object_type"], fact["object"],
                             actions_expand(fact["object_type"], fact["actions"]),
                             frozenset(fact["columns"]) if fact["columns"] else None, time_parse(fact["expires"]),
                             condition_compile(fact["condition"]) if fact["condition"] else None, package_name)
                if package_name is None:
                    add_rule(_subject_key(fact["subject"]), rule)
                else:
                    package_grants.setdefault(_subject_key(fact["subject"]), []).append(rule)
            elif kind == "role":
                for index, privilege in enumerate(fact["privileges"]):
                    add_rule(("role", fact["name"]), _Rule(
                        (position, index), {"kind": "role_privilege", "role": fact["name"], "privilege": index},
                        privilege["object_type"], privilege["name"],
                        actions_expand(privilege["object_type"], privilege["actions"])))
            elif kind == "package":
                packages.add(fact["name"])
            elif kind == "package_object":
                key = (fact["package"], fact["object_type"], fact["object"])
                package_objects[key] = package_objects.get(key, frozenset()) | actions_expand(
                    fact["object_type"], fact["actions"])
            elif kind == "package_allowance":
                allowances.setdefault((fact["package"], fact["project"]), []).append(
                    (fact["label"], time_parse(fact["expires"])))
            elif kind == "package_install":
                installs.append((fact["provider"], fact["package"]))

        self.members = frozenset(members)
        self.principals: dict[str, _Principal] = {
            principal: self._principal_compile(principal, memberships.get(principal, set()))
            for principal in members | {self.owner}
        }
        self.ip_scopes = tuple((scope, {network: IpList.parse(entries) for network, entries in lists.items()})
                               for scope, lists in ip_lists.items() if lists)
        self.trusted = frozenset(trusted)
        self.exception_statements = tuple(exception_statements)
        self.table_max_level = {
            table: max([self.table_level.get(table, 0), *self.column_levels.get(table, {}).values()])
            for table in set(self.table_level) | set(self.column_levels)
        }
        self.label_grants = {table: {subject: (tuple(column_grants), tuple(table_grants))
                                     for subject, (column_grants, table_grants) in by_subject.items()}
                             for table, by_subject in label_grants.items()}
        self.policy_exact = {key: tuple(entries) for key, entries in policy_exact.items()}
        self.policy_by_action = {key: tuple(entries) for key, entries in policy_by_action.items()}
        # The creator rule sits beside the grants under the subject ("creator", principal), which
        # only the members' subject lists carry; it counts only while the flag is on.
        if self.flags["ObjectCreatorHasAccessPermission"]:
            for position, fact in created:
                add_rule(("creator", fact["creator"]), _Rule((position, 0), {"kind": "creator", "object": fact["name"]},
                                                             fact["object_type"], fact["name"], _EVERY_ACTION))
        self.grants = {key: {subject: tuple(rules) for subject, rules in by_subject.items()}
                       for key, by_subject in grants.items()}
        self.package_grants = {subject: tuple(rules) for subject, rules in package_grants.items()}
        self.packages = frozenset(packages)
        self.package_objects = package_objects
        self.allowances = {key: tuple(values) for key, values in allowances.items()}
        self.installs = tuple(installs)
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("A Snapshot is immutable; compile a new one.")
        object.__setattr__(self, name, value)

    def _principal_compile(self, principal: str, roles: set[str]) -> _Principal:
        ordered = tuple(sorted(roles))
        clearance = max([self.user_clearance.get(principal, 0), *(self.role_clearance.get(role, 0)
                                                                  for role in ordered)])
        subjects = (("user", principal), *(("role", role) for role in ordered), ("creator", principal))
        return _Principal(principal == self.owner, principal in self.members, frozenset(ordered), subjects, clearance)

    def principal(self, principal: str) -> _Principal:
        """The principal as this project knows them; outsiders hold no roles here."""
        known = self.principals.get(principal)
        if known is not None:
            return known
        return _Principal(False, False, frozenset(), (("user", principal),), self.user_clearance.get(principal, 0))

    def __repr__(self) -> str:
        return f"Snapshot({self.name} v{self.version})"


def compile_snapshot(facts: list[dict], version: int = 0) -> Snapshot:
    """Compile one project's facts (``apps.permissions.facts``) into its snapshot."""
    return Snapshot(facts, version)


SnapshotSource = Callable[[str], Snapshot | None]


class _Decided(Exception):
    __slots__ = ("trace_step", "denied_columns")

    def __init__(self, trace_step: TraceStep, denied_columns: tuple[str, ...] = ()):
        self.trace_step = trace_step
        self.denied_columns = denied_columns


def _live(rule: _Rule, now: datetime, context) -> bool:
    return (rule.expires is None or now < rule.expires) and (rule.condition is None or rule.condition.matches(context))


def _authentication(request: AccessRequest, snapshot: Snapshot | None, snapshots: SnapshotSource) -> TraceStep:
    if snapshot is None:
        raise _Decided(TraceStep(Step.AUTHENTICATION, Outcome.DENY, f"unknown project {request.project}"))
    principal = request.principal
    if principal == snapshot.owner:
        return _AUTHENTICATED_OWNER
    if principal in snapshot.members:
        return _AUTHENTICATED_MEMBER
    if request.via_project is not None:
        via = snapshots(request.via_project)
        if via is not None and (principal == via.owner or principal in via.members):
            return TraceStep(Step.AUTHENTICATION, Outcome.PASS, f"member of {request.via_project}",
                             {"kind": "member", "project": request.via_project})
    raise _Decided(TraceStep(Step.AUTHENTICATION, Outcome.DENY,
                             f"{principal} is not a member of {request.project}"))


def _ip_whitelist(request: AccessRequest, snapshot: Snapshot) -> TraceStep:
    if not snapshot.ip_scopes:
        return _NO_WHITELIST
    network = request.network
    source_ip = request.context.source_ip
    for scope, lists in snapshot.ip_scopes:
        rule = {"kind": "ip_whitelist", "scope": scope, "network": network}
        addresses = lists.get(network)
        if addresses is None:
            raise _Decided(TraceStep(Step.IP_WHITELIST, Outcome.DENY,
                                     f"the {scope} whitelist admits no {network} network", rule))
        if source_ip is None or not addresses.contains(source_ip):
            raise _Decided(TraceStep(Step.IP_WHITELIST, Outcome.DENY,
                                     f"{source_ip or 'an unknown address'} is not in the {scope} {network} "
                                     f"whitelist", rule))
    return TraceStep(Step.IP_WHITELIST, Outcome.PASS, f"{source_ip} is whitelisted")


def _package_routes(provider: Snapshot, consumer_name: str | None, request: AccessRequest,
                    snapshots: SnapshotSource) -> list[tuple[str, int]]:
    if consumer_name is None or consumer_name == provider.name:
        return []
    consumer = snapshots(consumer_name)
    if consumer is None or not consumer.installs:
        return []
    now = request.context.current_time
    routes = []
    for provider_name, package in consumer.installs:
        if provider_name != provider.name or package not in provider.packages:
            continue
        actions = provider.package_objects.get((package, request.object_type, request.object_name))
        if actions is None or request.action not in actions:
            continue
        labels = [label for label, expires in provider.allowances.get((package, consumer_name), ())
                  if expires is None or now < expires]
        if labels:
            routes.append((package, max(labels)))
    return routes


def _project_protection(request: AccessRequest, snapshot: Snapshot, snapshots: SnapshotSource) -> TraceStep:
    destination = request.destination_project
    if not snapshot.flags["ProjectProtection"] or not (
            (destination is not None and destination != request.project) or request.action == "Download"):
        return _NOT_LEAVING
    if destination is not None and destination in snapshot.trusted:
        return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, f"{destination} is a trusted project",
                         {"kind": "trusted_project", "project": destination})
    # A package lets the data go where the package goes: into the destination when the data
    # flows into another project, else (a Download) into the project the request runs in.
    consumer = destination if destination is not None and destination != request.project else request.via_project
    routes = _package_routes(snapshot, consumer, request, snapshots)
    if routes:
        return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, f"shared with {consumer} by a package",
                         {"kind": "package", "provider": request.project, "package": routes[0][0],
                          "consumer": consumer})
    if snapshot.exception_statements:
        path = resource_path(request.project, request.object_type, request.object_name)
        for statement in snapshot.exception_statements:
            if (statement.applies_to(request.principal, request.action, path)
                    and statement.condition_holds(request.context)):
                return TraceStep(Step.PROJECT_PROTECTION, Outcome.PASS, "allowed by the exception policy",
                                 {"kind": "protection_exception", "statement": statement.index})
    raise _Decided(TraceStep(Step.PROJECT_PROTECTION, Outcome.DENY,
                             f"ProjectProtection keeps data of {request.project} from leaving it"))


def _label_granted(by_subject: dict | None, subjects, column: str, level: int, now: datetime) -> bool:
    if by_subject is None:
        return False
    for subject in subjects:
        grants = by_subject.get(subject)
        if grants is None:
            continue
        column_grants, table_grants = grants
        best = -1
        for columns, granted, expires in column_grants:
            if column in columns and granted > best and (expires is None or now < expires):
                best = granted
        if best < 0:
            for granted, expires in table_grants:
                if granted > best and (expires is None or now < expires):
                    best = granted
        if best >= level:
            return True
    return False


def _label_security(request: AccessRequest, snapshot: Snapshot, principal: _Principal,
                    snapshots: SnapshotSource) -> TraceStep:
    if not snapshot.flags["LabelSecurity"] or request.object_type != ObjectType.TABLE:
        return _LABELS_OFF
    table = request.object_name
    action = request.action
    columns = request.columns or snapshot.table_columns.get(table, ())
    levels = snapshot.column_levels.get(table, {})
    table_level = snapshot.table_level.get(table, 0)
    if action in READ_ACTIONS:
        routes = _package_routes(snapshot, request.via_project, request, snapshots) \
            if request.via_project is not None else None
        if routes:
            cap = max(label for _package, label in routes)
            denied = tuple(column for column in columns if levels.get(column, table_level) > cap)
            return _label_outcome(denied, levels, table_level, {"kind": "label", "table": table, "package_label": cap},
                                  f"the package allows labels up to {cap}")
        clearance = principal.clearance
        rule = {"kind": "label", "table": table, "clearance": clearance}
        if snapshot.table_max_level.get(table, 0) <= clearance:
            rule["levels"] = {}
            return TraceStep(Step.LABEL_SECURITY, Outcome.PASS, f"every column within clearance {clearance}", rule)
        by_subject = snapshot.label_grants.get(table)
        now = request.context.current_time
        denied = tuple(column for column in columns
                       if (level := levels.get(column, table_level)) > clearance
                       and not _label_granted(by_subject, principal.subjects, column, level, now))
        return _label_outcome(denied, levels, table_level, rule, f"clearance {clearance}")
    read_level = request.read_level
    if action in WRITE_ACTIONS and read_level is not None and snapshot.flags["NoWriteDown"]:
        denied = tuple(column for column in columns if levels.get(column, table_level) < read_level)
        rule = {"kind": "label", "table": table, "read_level": read_level,
                "levels": {column: levels.get(column, table_level) for column in denied}}
        if denied:
            raise _Decided(TraceStep(Step.LABEL_SECURITY, Outcome.DENY,
                                     f"No-WriteDown: data read at level {read_level} may not be written "
                                     f"into {', '.join(denied)}", rule), denied)
        return TraceStep(Step.LABEL_SECURITY, Outcome.PASS, f"no column below level {read_level}", rule)
    return TraceStep(Step.LABEL_SECURITY, Outcome.SKIP, f"LabelSecurity does not check {action}")


def _label_outcome(denied: tuple[str, ...], levels: dict, table_level: int, rule: dict, why: str) -> TraceStep:
    rule["levels"] = {column: levels.get(column, table_level) for column in denied}
    if denied:
        raise _Decided(TraceStep(Step.LABEL_SECURITY, Outcome.DENY, f"labels above {why}: {', '.join(denied)}", rule),
                       denied)
    return TraceStep(Step.LABEL_SECURITY, Outcome.PASS, f"every column within {why}", rule)


def _policy(request: AccessRequest, snapshot: Snapshot, principal: _Principal) -> TraceStep:
    if not snapshot.flags["CheckPermissionUsingPolicy"]:
        return _POLICY_OFF
    if principal.owner or principal.super_administrator:
        return _POLICY_EXEMPT
    action = request.action
    path = resource_path(request.project, request.object_type, request.object_name)
    roles = principal.roles
    name = request.principal
    by_action = snapshot.policy_by_action
    candidates = [snapshot.policy_exact.get((action, path)), by_action.get((action, _ANYONE)),
                  by_action.get((action, ("user", name)))]
    candidates.extend(by_action.get((action, ("role", role))) for role in roles)
    context = request.context
    deny = allow = None
    for entries in candidates:
        if entries is None:
            continue
        for entry in entries:
            if entry.role is not None and entry.role not in roles:
                continue
            best = deny if entry.is_deny else allow
            if best is not None and best.ordinal < entry.ordinal:
                continue
            statement = entry.statement
            if statement.applies_to(name, action, path) and statement.condition_holds(context):
                if entry.is_deny:
                    deny = entry
                else:
                    allow = entry
    if deny is not None:
        raise _Decided(TraceStep(Step.POLICY, Outcome.DENY,
                                 f"explicitly denied by policy: {_policy_name(deny.rule)}", deny.rule))
    if allow is not None:
        raise _Decided(TraceStep(Step.POLICY, Outcome.ALLOW, f"allowed by policy: {_policy_name(allow.rule)}",
                                 allow.rule))
    return _NO_POLICY


def _policy_name(rule: dict) -> str:
    owner = "the project policy" if rule["role"] is None else f"the policy of role {rule['role']}"
    return f"statement {rule['statement']} of {owner}"


def _coverage(whole: _Rule | None, column_rules: list[_Rule], columns: tuple[str, ...]):
    """``(rule, denied_columns)`` as in the reference: the first whole-object rule, else the
    first rule covering each column."""
    if whole is not None:
        return whole.rule, ()
    if not columns:
        return None, ()
    column_rules.sort(key=_ordinal)
    chosen: list[dict] = []
    denied: list[str] = []
    for column in columns:
        for rule in column_rules:
            if column in rule.columns:
                if rule.rule not in chosen:
                    chosen.append(rule.rule)
                break
        else:
            denied.append(column)
    if denied:
        return None, tuple(denied)
    return (chosen[0] if len(chosen) == 1 else {"kind": "columns", "rules": chosen}), ()


def _ordinal(rule: _Rule) -> tuple[int, int]:
    return rule.ordinal


def _acl(request: AccessRequest, snapshot: Snapshot, principal: _Principal) -> TraceStep:
    if principal.owner:
        raise _Decided(_ACL_OWNER)
    if principal.super_administrator:
        raise _Decided(_ACL_SUPER)
    if not snapshot.flags["CheckPermissionUsingACL"]:
        return _ACL_OFF
    if not principal.member:
        return TraceStep(Step.ACL, Outcome.SKIP, f"{request.principal} holds no grants in {request.project}")
    grants = snapshot.grants
    object_type = request.object_type
    action = request.action
    context = request.context
    now = context.current_time
    whole = None
    column_rules: list[_Rule] = []
    for by_subject in (grants.get((object_type, request.object_name)), grants.get((object_type, _EVERY_OBJECT))):
        if by_subject is None:
            continue
        for subject in principal.subjects:
            rules = by_subject.get(subject)
            if rules is None:
                continue
            for rule in rules:
                if action not in rule.actions or not _live(rule, now, context):
                    continue
                if rule.columns is None:
                    if whole is None or rule.ordinal < whole.ordinal:
                        whole = rule
                else:
                    column_rules.append(rule)
    if whole is None and not column_rules:
        return TraceStep(Step.ACL, Outcome.PASS, f"no grant gives {action} on {request.object_label}")
    rule, denied = _coverage(whole, column_rules, request.columns)
    if rule is not None:
        raise _Decided(TraceStep(Step.ACL, Outcome.ALLOW, f"granted {action} on {request.object_label}", rule))
    why = (f"no grant covers the columns {', '.join(denied)}" if denied
           else "only some columns are granted; name the columns to read")
    if request.via_project is not None:
        # A package may still grant it: adding a grant must never turn an allow into a deny.
        return TraceStep(Step.ACL, Outcome.PASS, why)
    raise _Decided(TraceStep(Step.ACL, Outcome.DENY, why), denied)


def _package(request: AccessRequest, snapshot: Snapshot, snapshots: SnapshotSource) -> TraceStep:
    via = request.via_project
    if via is None:
        return _NOT_CROSSING
    routes = _package_routes(snapshot, via, request, snapshots)
    if not routes:
        return TraceStep(Step.PACKAGE, Outcome.SKIP, f"no package installed in {via} carries it")
    consumer = snapshots(via)
    name = request.principal
    if name == consumer.owner:
        raise _Decided(TraceStep(Step.PACKAGE, Outcome.ALLOW, f"owner of {via}, which installed it",
                                 {"kind": "package", "provider": request.project, "package": routes[0][0]}))
    principal = consumer.principal(name)
    full_names = {f"{request.project}.{package}" for package, _label in routes}
    context = request.context
    now = context.current_time
    whole = None
    column_rules: list[_Rule] = []
    if principal.member:
        for subject in principal.subjects:
            for rule in consumer.package_grants.get(subject, ()):
                if rule.package not in full_names or not _live(rule, now, context):
                    continue
                if rule.object_type == ObjectType.PACKAGE:
                    if _READ not in rule.actions:
                        continue
                elif (rule.object_type != request.object_type or rule.object not in (request.object_name, "*")
                      or request.action not in rule.actions):
                    continue
                if rule.columns is None or rule.object_type == ObjectType.PACKAGE:
                    if whole is None or rule.ordinal < whole.ordinal:
                        whole = rule
                else:
                    column_rules.append(rule)
    rule, _denied = _coverage(whole, column_rules, request.columns)
    if rule is None:
        return TraceStep(Step.PACKAGE, Outcome.SKIP, f"no grant in {via} covers it")
    raise _Decided(TraceStep(Step.PACKAGE, Outcome.ALLOW, "granted through an installed package", rule))


def authorize(request: AccessRequest, snapshots: SnapshotSource) -> Decision:
    """Decide ``request``. ``snapshots(project_name)`` gives the current snapshot of any project
    (None: no such project): packages and trusted projects reach across projects."""
    snapshot = snapshots(request.project)
    trace: list[TraceStep] = []
    try:
        trace.append(_authentication(request, snapshot, snapshots))
        principal = snapshot.principal(request.principal)
        trace.append(_ip_whitelist(request, snapshot))
        trace.append(_project_protection(request, snapshot, snapshots))
        trace.append(_label_security(request, snapshot, principal, snapshots))
        trace.append(_policy(request, snapshot, principal))
        trace.append(_acl(request, snapshot, principal))
        trace.append(_package(request, snapshot, snapshots))
    except _Decided as decided:
        step = decided.trace_step
        trace.append(step)
        return Decision(step.outcome == Outcome.ALLOW, step.step, step.detail, tuple(trace), decided.denied_columns)
    reason = f"no rule allows {request.action} on {request.object_label}"
    trace.append(TraceStep(Step.DEFAULT, Outcome.DENY, reason))
    return Decision(False, Step.DEFAULT, reason, tuple(trace))
