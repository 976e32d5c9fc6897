"""MaxCompute policy documents (shared/reference/maxcompute-security.md §3 and §5): parsed,
validated and compiled once, so the decision engine only does set look-ups and, where a
document uses wildcards, one precompiled regex match per statement.

Choices the reference leaves open, made as a MaxCompute user would expect:

- keys (``Version``, ``Statement``, ``Effect``...), effects, actions and operator names are
  case-insensitive and come out canonically spelt; ``Statement``, ``Principal``, ``Action``
  and ``Resource`` may be one value or a list; the canonical form always has lists;
- names compare case-insensitively, as MaxCompute identifiers do: principals, projects and
  object names are lower-cased (``resource_path`` does the same to requests);
- every resource must lie in the policy's own project (a wildcard project must match it): a
  project's policies cannot speak for another project's objects;
- action wildcards (``odps:Create*``, ``odps:*``) are expanded against the finite list of
  actions in ``actions.py`` when the document is parsed, so ``exact_actions`` is always a set;
  a wildcard matching no action is refused, as is ``odps:All`` (write ``odps:*``);
- ``RAM$alice`` (the owner-less shorthand) means the RAM user ``alice`` of the project's own
  account: with ``tenant_name`` it becomes ``RAM$<tenant>:alice``, without it it matches
  ``alice`` under any account (only the project's own account's RAM users can be members);
- an exception policy only lets data out of a protected project, so a Deny statement in one
  is refused rather than silently meaning nothing;
- ``Condition: {}`` is no condition.

Requests are matched in canonical form: a principal as ``User.principal_name`` spells it, an
action as ``actions.py`` spells it (``Select``, without ``odps:``), a resource as
``resource_path`` builds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError

from apps.permissions.actions import ALL, EVERY_ACTION, ObjectType
from apps.permissions.conditions import Condition, condition_compile, wildcard_regex

SCOPES = ("project", "role", "exception")
VERSION = "1"
RESOURCE_PREFIX = "acs:odps:*:"
ACTION_PREFIX = "odps:"
EVERYONE = "*"
MAX_DOCUMENT_CHARS = 1_000_000

ALLOW = "Allow"
DENY = "Deny"
_EFFECTS = {"allow": ALLOW, "deny": DENY}

_RESOURCE_SEGMENTS = {
    ObjectType.TABLE: "tables",
    ObjectType.FUNCTION: "registration/functions",
    ObjectType.RESOURCE: "resources",
    ObjectType.INSTANCE: "instances",
    ObjectType.PACKAGE: "packages",
}
_RESOURCE_SHAPE = re.compile(
    r"projects/(?P<project>[^/]+)(?:/(?P<segment>tables|registration/functions|resources|instances|packages)"
    r"/(?P<name>[^/]+))?",
    re.IGNORECASE,
)
_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9_.$\-*?]+")
_PRINCIPAL_SHAPE = re.compile(r"(?P<kind>ALIYUN|RAM)\$(?P<body>.+)", re.IGNORECASE)
_PRINCIPAL_CHARACTERS = re.compile(r"[A-Za-z0-9_.@\-*?]+")
_RESOURCE_FORMS = ("acs:odps:*:projects/<p>, acs:odps:*:projects/<p>/tables/<t>, "
                   "acs:odps:*:projects/<p>/registration/functions/<f>, acs:odps:*:projects/<p>/resources/<r>, "
                   "acs:odps:*:projects/<p>/instances/<i> or acs:odps:*:projects/<p>/packages/<k>")


def resource_path(project: str, object_type: str = ObjectType.PROJECT, name: str | None = None) -> str:
    """The path a request names its object by: ``projects/p`` or ``projects/p/tables/t``..."""
    if object_type == ObjectType.PROJECT:
        return f"projects/{project.lower()}"
    return f"projects/{project.lower()}/{_RESOURCE_SEGMENTS[object_type]}/{name.lower()}"


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


class PatternMatcher:
    """Exact values in a set and wildcard patterns in one compiled regex, built once."""

    __slots__ = ("exact", "wildcard", "everything")

    def __init__(self, exact: frozenset[str], wildcard: re.Pattern | None = None, everything: bool = False):
        self.exact = exact
        self.wildcard = wildcard
        self.everything = everything

    def matches(self, value: str) -> bool:
        if self.everything or value in self.exact:
            return True
        return self.wildcard is not None and self.wildcard.fullmatch(value) is not None

    @property
    def exact_values(self) -> frozenset[str] | None:
        """All the values matched, when no wildcard is involved; None otherwise."""
        return None if self.everything or self.wildcard is not None else self.exact


class PolicyStatement:
    """One compiled statement. ``principal_matcher`` is None in a role policy: it applies to
    whoever holds the role, which the engine decides."""

    __slots__ = ("index", "effect", "principal_matcher", "action_matcher", "resource_matcher", "condition",
                 "document")

    def __init__(self, index: int, effect: str, principal_matcher: PatternMatcher | None,
                 action_matcher: PatternMatcher, resource_matcher: PatternMatcher, condition: Condition | None,
                 document: dict):
        self.index = index
        self.effect = effect
        self.principal_matcher = principal_matcher
        self.action_matcher = action_matcher
        self.resource_matcher = resource_matcher
        self.condition = condition
        self.document = document

    @property
    def is_deny(self) -> bool:
        return self.effect == DENY

    @property
    def exact_actions(self) -> frozenset[str]:
        return self.action_matcher.exact

    @property
    def exact_resources(self) -> frozenset[str] | None:
        return self.resource_matcher.exact_values

    @property
    def exact_principals(self) -> frozenset[str] | None:
        """None also for a role policy's statements, which name no principal."""
        return None if self.principal_matcher is None else self.principal_matcher.exact_values

    def applies_to(self, principal: str, action: str, resource_path: str) -> bool:
        """Whether principal, action and resource fall under this statement (its condition aside)."""
        if action not in self.action_matcher.exact or not self.resource_matcher.matches(resource_path):
            return False
        return self.principal_matcher is None or self.principal_matcher.matches(principal)

    def condition_holds(self, context: Mapping[str, object]) -> bool:
        return self.condition is None or self.condition.matches(context)

    def __repr__(self) -> str:
        return f"PolicyStatement({self.index}, {json.dumps(self.document)})"


class PolicyDocument:
    """A validated document: its canonical JSON and its compiled statements."""

    __slots__ = ("scope", "project_name", "statements", "document")

    def __init__(self, scope: str, project_name: str, statements: tuple[PolicyStatement, ...], document: dict):
        self.scope = scope
        self.project_name = project_name
        self.statements = statements
        self.document = document

    def canonical_json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False)

    def as_dict(self) -> dict:
        return json.loads(json.dumps(self.document))

    def __eq__(self, other) -> bool:
        return (isinstance(other, PolicyDocument) and (self.scope, self.project_name, self.document)
                == (other.scope, other.project_name, other.document))

    def __hash__(self) -> int:
        return hash((self.scope, self.project_name, self.canonical_json()))

    def __repr__(self) -> str:
        return f"PolicyDocument({self.scope} of {self.project_name}, {len(self.statements)} statements)"


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys; in a policy that silently drops a rule.
    document: dict = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _json_load(text: str | bytes) -> object:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The policy is not UTF-8 text.") from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ValidationError(f"The policy has {len(text)} characters; the limit is {MAX_DOCUMENT_CHARS}.")
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ValidationError(f"The policy is not valid JSON: line {error.lineno}, column {error.colno}: "
                              f"{error.msg}.") from None
    except _DuplicateKey as error:
        raise ValidationError(f"The policy has the key {str(error)!r} twice in one object.") from None


def _fields(value: Mapping, path: str, known: tuple[str, ...], errors: list[str]) -> dict[str, object]:
    """``value``'s entries under their canonical key names; unknown and repeated keys are errors."""
    canonical_of = {name.lower(): name for name in known}
    fields: dict[str, object] = {}
    for key, item in value.items():
        name = canonical_of.get(str(key).lower())
        where = f"{path}.{key}" if path else str(key)
        if name is None:
            errors.append(f"{where}: unknown key; use {', '.join(known)}.")
        elif name in fields:
            errors.append(f"{where}: {name} is given twice.")
        else:
            fields[name] = item
    return fields


def _as_list(value: object) -> list | None:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) else None


def _principals_compile(value: object, path: str, tenant_name: str | None,
                        errors: list[str]) -> tuple[PatternMatcher, list[str]] | None:
    principals = _as_list(value)
    if not principals:
        errors.append(f'{path}: give a principal, a list of them, or "*" for everyone.')
        return None
    canonical: list[str] = []
    for position, principal in enumerate(principals):
        where = f"{path}[{position}]" if isinstance(value, list) else path
        if not isinstance(principal, str):
            errors.append(f"{where}: a principal is a string such as ALIYUN$alice or RAM$tenant:bob.")
            continue
        spelling = _principal_canonical(principal.strip().strip("`"), tenant_name)
        if spelling is None:
            errors.append(f"{where}: {principal!r} is not a principal; write ALIYUN$<account>, "
                          f"RAM$[<account>:]<user>, RAM$<account>:role/<role>, or * for everyone "
                          f"(* and ? wildcards allowed in names).")
        elif spelling not in canonical:
            canonical.append(spelling)
    if len(canonical) == 0:
        return None
    if EVERYONE in canonical:
        return PatternMatcher(frozenset(), everything=True), canonical
    exact = frozenset(spelling for spelling in canonical if _is_exact_principal(spelling))
    sources = []
    for pattern in (spelling for spelling in canonical if spelling not in exact):
        kind, _, body = pattern.partition("$")
        if kind == "RAM" and ":" not in body:
            # The owner-less shorthand: this user of whichever account owns the project.
            sources.append(r"RAM\$[^:]*:" + wildcard_regex([body]).pattern)
        else:
            sources.append(wildcard_regex([pattern]).pattern)
    wildcard = re.compile("|".join(f"(?:{source})" for source in sources), re.DOTALL | re.IGNORECASE) \
        if sources else None
    return PatternMatcher(exact, wildcard), canonical


def _is_exact_principal(spelling: str) -> bool:
    return not _has_wildcard(spelling) and (spelling.startswith("ALIYUN$") or ":" in spelling)


def _principal_canonical(principal: str, tenant_name: str | None) -> str | None:
    if principal == EVERYONE:
        return EVERYONE
    match = _PRINCIPAL_SHAPE.fullmatch(principal)
    if match is None:
        return None
    kind, body = match["kind"].upper(), match["body"].lower()
    if kind == "ALIYUN":
        return f"ALIYUN${body}" if _PRINCIPAL_CHARACTERS.fullmatch(body) else None
    account, colon, user = body.rpartition(":") if ":" in body else ("", "", body)
    if colon and not (account and _PRINCIPAL_CHARACTERS.fullmatch(account)):
        return None
    role_name = user[len("role/"):] if user.startswith("role/") and colon else None
    if not _PRINCIPAL_CHARACTERS.fullmatch(role_name if role_name is not None else user):
        return None
    if not colon and tenant_name:
        return f"RAM${tenant_name.lower()}:{user}"
    return f"RAM${body}"


def _actions_compile(value: object, path: str, errors: list[str]) -> tuple[PatternMatcher, list[str]] | None:
    actions = _as_list(value)
    if not actions:
        errors.append(f'{path}: give a list of actions such as ["odps:Select"], or ["odps:*"].')
        return None
    errors_before = len(errors)
    matched: set[str] = set()
    canonical: list[str] = []
    for position, action in enumerate(actions):
        where = f"{path}[{position}]" if isinstance(value, list) else path
        if not isinstance(action, str) or not action.strip().lower().startswith(ACTION_PREFIX):
            errors.append(f"{where}: {action!r} is not an action; write odps:<Action> (e.g. odps:Select) or odps:*.")
            continue
        name = action.strip()[len(ACTION_PREFIX):]
        if _has_wildcard(name):
            pattern = wildcard_regex([name], ignore_case=True)
            covered = {known for known in EVERY_ACTION.values() if pattern.fullmatch(known)}
            if not covered:
                errors.append(f"{where}: {action!r} matches no MaxCompute action.")
                continue
            matched |= covered
            spelling = ACTION_PREFIX + name
        elif name.lower() == ALL.lower():
            errors.append(f"{where}: policies write all actions as odps:*.")
            continue
        elif name.lower() in EVERY_ACTION:
            matched.add(EVERY_ACTION[name.lower()])
            spelling = ACTION_PREFIX + EVERY_ACTION[name.lower()]
        else:
            errors.append(f"{where}: {name!r} is no MaxCompute action; use one of: "
                          f"{', '.join(sorted(set(EVERY_ACTION.values())))}, or a * wildcard.")
            continue
        if spelling not in canonical:
            canonical.append(spelling)
    if len(errors) > errors_before:
        return None
    return PatternMatcher(frozenset(matched)), canonical


def _resources_compile(value: object, path: str, project_name: str,
                       errors: list[str]) -> tuple[PatternMatcher, list[str]] | None:
    resources = _as_list(value)
    if not resources:
        errors.append(f'{path}: give a list of resources such as ["acs:odps:*:projects/{project_name}/tables/t"].')
        return None
    errors_before = len(errors)
    paths: list[str] = []
    for position, resource in enumerate(resources):
        where = f"{path}[{position}]" if isinstance(value, list) else path
        if not isinstance(resource, str):
            errors.append(f"{where}: a resource is a string such as {RESOURCE_PREFIX}projects/{project_name}.")
            continue
        text = resource.strip()
        if not text.lower().startswith(RESOURCE_PREFIX):
            errors.append(f"{where}: {resource!r} does not start with {RESOURCE_PREFIX}; write {_RESOURCE_FORMS}.")
            continue
        shape = _RESOURCE_SHAPE.fullmatch(text[len(RESOURCE_PREFIX):])
        if shape is None:
            errors.append(f"{where}: {resource!r} is not a MaxCompute resource; write {_RESOURCE_FORMS}.")
            continue
        project, segment, name = shape["project"].lower(), (shape["segment"] or "").lower(), shape["name"]
        bad_name = next((part for part in (project, name) if part is not None
                         and not _NAME_CHARACTERS.fullmatch(part)), None)
        if bad_name is not None:
            errors.append(f"{where}: {bad_name!r} is not a name: use letters, digits, '_', '.', '-', '$' "
                          f"and the wildcards * and ?.")
            continue
        if not (wildcard_regex([project], within_segment=True).fullmatch(project_name.lower())
                if _has_wildcard(project) else project == project_name.lower()):
            errors.append(f"{where}: names project {project!r}, but this policy belongs to project "
                          f"{project_name!r}.")
            continue
        resource_path_text = f"projects/{project}" + (f"/{segment}/{name.lower()}" if segment else "")
        if resource_path_text not in paths:
            paths.append(resource_path_text)
    if len(errors) > errors_before:
        return None
    exact = frozenset(path_text for path_text in paths if not _has_wildcard(path_text))
    patterns = [path_text for path_text in paths if _has_wildcard(path_text)]
    # Paths are lower-cased on both sides, so the regex can skip IGNORECASE.
    wildcard = wildcard_regex(patterns, within_segment=True) if patterns else None
    return PatternMatcher(exact, wildcard), [RESOURCE_PREFIX + path_text for path_text in paths]


def _statement_compile(index: int, value: object, path: str, scope: str, project_name: str,
                       tenant_name: str | None, errors: list[str]) -> PolicyStatement | None:
    if not isinstance(value, Mapping):
        errors.append(f"{path}: a statement is an object with Effect, Action, Resource"
                      f"{'' if scope == 'role' else ', Principal'} and optionally Condition.")
        return None
    errors_before = len(errors)
    fields = _fields(value, path, ("Effect", "Principal", "Action", "Resource", "Condition"), errors)
    effect = _EFFECTS.get(fields["Effect"].strip().lower()) if isinstance(fields.get("Effect"), str) else None
    if "Effect" not in fields:
        errors.append(f"{path}.Effect: Effect (Allow or Deny) is required.")
    elif effect is None:
        errors.append(f"{path}.Effect: {fields['Effect']!r} is neither Allow nor Deny.")
    elif effect == DENY and scope == "exception":
        errors.append(f"{path}.Effect: an exception policy only lets data out of a protected project; "
                      f"it has Allow statements only.")

    principals = None
    if scope == "role":
        if "Principal" in fields:
            errors.append(f"{path}.Principal: a role policy applies to the role's members and names no Principal.")
    elif "Principal" not in fields:
        article = "an" if scope == "exception" else "a"
        errors.append(f"{path}.Principal: {article} {scope} policy must name a Principal (\"*\" for everyone).")
    else:
        principals = _principals_compile(fields["Principal"], f"{path}.Principal", tenant_name, errors)

    actions = _actions_compile(fields["Action"], f"{path}.Action", errors) if "Action" in fields else None
    if "Action" not in fields:
        errors.append(f"{path}.Action: Action is required.")
    resources = _resources_compile(fields["Resource"], f"{path}.Resource", project_name, errors) \
        if "Resource" in fields else None
    if "Resource" not in fields:
        errors.append(f"{path}.Resource: Resource is required.")

    condition = None
    if fields.get("Condition"):
        try:
            condition = condition_compile(fields["Condition"], path=f"{path}.Condition")
        except ValidationError as error:
            errors.extend(error.messages)
    elif "Condition" in fields and fields["Condition"] != {}:
        errors.append(f"{path}.Condition: a condition is an object of operators.")

    if len(errors) > errors_before:
        return None
    document: dict = {"Effect": effect}
    if principals is not None:
        document["Principal"] = principals[1]
    document["Action"] = actions[1]
    document["Resource"] = resources[1]
    if condition is not None and condition.checks:
        document["Condition"] = condition.as_dict()
    return PolicyStatement(index, effect, principals[0] if principals else None, actions[0], resources[0],
                           condition if condition is not None and condition.checks else None, document)


def policy_document_parse(text_or_dict: str | bytes | Mapping, *, scope: str, project_name: str,
                          tenant_name: str | None = None) -> PolicyDocument:
    """Validate and compile a policy document of ``scope`` ("project", "role" or "exception")
    belonging to ``project_name``. Every problem is reported at once, each message starting
    with the JSON path of the bad part (``Statement[2].Resource[0]: ...``)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    raw = text_or_dict if isinstance(text_or_dict, Mapping) else _json_load(text_or_dict)
    if not isinstance(raw, Mapping):
        raise ValidationError('A policy is a JSON object: {"Version": "1", "Statement": [...]}.')
    errors: list[str] = []
    fields = _fields(raw, "", ("Version", "Statement"), errors)
    if "Version" not in fields:
        errors.append('Version: Version "1" is required.')
    elif str(fields["Version"]).strip() != VERSION:
        errors.append(f'Version: {fields["Version"]!r} is not a policy version; use "1".')
    if "Statement" not in fields:
        errors.append("Statement: Statement (a list of statements) is required.")
    statements_raw = fields.get("Statement", [])
    single = isinstance(statements_raw, Mapping)
    if not single and not isinstance(statements_raw, list):
        errors.append("Statement: give a list of statements.")
        statements_raw = []
    statements = []
    for index, statement_raw in enumerate([statements_raw] if single else statements_raw):
        statement = _statement_compile(index, statement_raw, "Statement" if single else f"Statement[{index}]",
                                       scope, project_name, tenant_name, errors)
        if statement is not None:
            statements.append(statement)
    if errors:
        raise ValidationError(errors)
    document = {"Version": VERSION, "Statement": [statement.document for statement in statements]}
    return PolicyDocument(scope, project_name, tuple(statements), document)
