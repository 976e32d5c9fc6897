"""The security console: one MaxCompute statement (shared/reference/maxcompute-security.md
§0-§7) run as the caller, through the same services as the portal and the API.

``statement_run`` parses the text, resolves the names it holds (principals to accounts of the
project's tenant, roles to roles of the project, tables and packages through the services),
calls one service or reads the state, and says what happened: a write answers "OK" and the
changes it made (the summaries of the security versions it recorded), a read answers in
MaxCompute's own output formats. A statement that does not parse, is refused or is invalid
changes nothing. Every run, whatever its outcome, leaves one ``permissions.statement`` audit
event beside the events of the services it called; the console's history is those events.
Higher apps add statements of their own (``hooks.statement_extensions``, such as the masking
app's row filters); those run, fail and are recorded the same way.

Choices beyond the reference:

- A principal is ``ALIYUN$<account>`` (a tenant's primary account; other tenants' primary
  accounts may be added to a project), ``RAM$[<tenant>:]<user>`` (a sub-account of the
  project's tenant; without the tenant, the project's) or a bare user name of the project's
  tenant. RAM roles (```RAM$t:role/r```) are not accounts in Warden: grant to a project role.
- A ``project.`` prefix must name this project, except where a statement names another
  project by design: the provider of a package (``install``, ``grant Read on package p.k``,
  ``describe package p.k``, ``show acl for p.k on type package``) and the projects of
  ``allow project`` and ``trustedproject``.
- Reading someone else's grants, label grants, a role's permissions, the policies, the
  security configuration, trusted projects or package allowances takes what ``check access``
  asks for others: managing the project's members or security, or auditing it. Anyone who
  sees the project reads their own grants and its members, roles and tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps import audit
from apps.audit.models import Decision as AuditDecision
from apps.audit.models import Event
from apps.audit.selectors import event_list
from apps.catalog.models import Column
from apps.core.web import readable
from apps.permissions import services
from apps.permissions.access import CHECK_OTHERS
from apps.permissions.actions import ObjectType
from apps.permissions.facts import FLAG_DEFAULTS, time_text
from apps.permissions.hooks import statement_extension
from apps.permissions.models import (
    Clearance,
    Grant,
    Origin,
    Package,
    PackageInstall,
    Policy,
    SecurityVersion,
    TableLabel,
    TrustedProject,
)
from apps.permissions.policy import RESOURCE_PREFIX, policy_document_parse, resource_path
from apps.permissions.selectors import (
    FLAG_FIELDS,
    grant_list,
    label_grant_list,
    package_install_list,
    package_list,
    project_security,
    warehouse_tables,
)
from apps.permissions.statements import StatementError, ast, parse
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import Membership, Project, Role, RoleAssignment
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, role_list

User = get_user_model()

STATEMENT_EVENT = "permissions.statement"
MAX_AUDITED_TEXT = 2000
EMPTY_POLICY = {"Version": "1", "Statement": []}


@dataclass(frozen=True)
class StatementResult:
    """What a statement did. ``position`` is set for syntax errors only; ``refused`` tells a
    refusal (HTTP 403) from invalid input (400)."""

    ok: bool
    output: str = ""
    error: str = ""
    position: int | None = None
    statement_kind: str = ""
    refused: bool = False


@dataclass
class _Run:
    actor: object
    project: Project
    request: object = None
    capabilities: frozenset = field(default_factory=frozenset)


# --- running --------------------------------------------------------------------------------

def statement_run(*, actor, project: Project, text: str, request=None) -> StatementResult:
    """Run one statement in ``project`` as ``actor``, who must see the project (callers find
    it among the projects the actor may see). Changes roll back on any failure; the audit
    event of the run stays."""
    text = text or ""
    extension = statement_extension(text)
    if extension is not None:
        return _guarded(actor, project, text, request, extension.kind(text),
                        lambda: extension.run(actor=actor, project=project, text=text, request=request))
    try:
        statement = parse(text)
    except StatementError as error:
        result = StatementResult(ok=False, error=error.message, position=error.position)
        _record(actor, project, text, result, request)
        return result
    return _execute(actor, project, statement, text, request)


class StatementFailed(Exception):
    def __init__(self, result: StatementResult):
        super().__init__(result.error)
        self.result = result


def statement_preview(*, actor, project: Project, text: str):
    """The impact of running ``text`` (``impact.impact_preview``): who would gain and who
    would lose access to what. Nothing is changed or recorded; a statement that would fail
    raises ``StatementFailed`` with its result."""
    from apps.permissions.impact import impact_preview

    extension = statement_extension(text or "")
    if extension is not None:
        # The preview compares grants, labels and policies, which an extension's statements do not touch.
        raise StatementFailed(StatementResult(
            ok=False, statement_kind=extension.kind(text),
            error="This statement has no impact preview: it changes no grant, label or policy. Run it instead."))

    def change():
        result = statement_run(actor=actor, project=project, text=text)
        if not result.ok:
            raise StatementFailed(result)

    return impact_preview(actor=actor, project=project, change=change)


def _execute(actor, project: Project, statement: ast.Statement, text: str, request) -> StatementResult:
    run = _Run(actor=actor, project=project, request=request, capabilities=project_capabilities(actor, project))
    last_version = SecurityVersion.objects.filter(project=project).order_by("-pk").values_list("pk", flat=True).first()

    def handle() -> str:
        output = _HANDLERS[type(statement)](run, statement)
        return output if statement.reads_only else _confirmation(project, last_version, output)

    return _guarded(actor, project, text, request, statement.kind, handle)


def _guarded(actor, project: Project, text: str, request, kind: str, handle: Callable[[], str]) -> StatementResult:
    """Runs ``handle`` in a transaction that any failure rolls back, and records the run."""
    try:
        with transaction.atomic():
            result = StatementResult(ok=True, output=handle(), statement_kind=kind)
            _record(actor, project, text, result, request)
            return result
    except StatementError as error:
        # Extensions parse their own statements as they run them.
        result = StatementResult(ok=False, error=error.message, position=error.position, statement_kind=kind)
    except PermissionDenied as error:
        result = StatementResult(ok=False, error=str(error) or "You may not run this statement here.",
                                 statement_kind=kind, refused=True)
    except ValidationError as error:
        result = StatementResult(ok=False, error=readable(error), statement_kind=kind)
    # Recorded after the rollback: the attempt stays in the log, its changes do not.
    _record(actor, project, text, result, request)
    return result


def _confirmation(project: Project, last_version: int | None, detail: str) -> str:
    """"OK" and what changed in this project: the summaries of the versions the statement made."""
    versions = SecurityVersion.objects.filter(project=project)
    if last_version is not None:
        versions = versions.filter(pk__gt=last_version)
    changes = list(versions.order_by("pk").values_list("summary", flat=True))
    lines = ["OK"] + changes
    if detail:
        lines.append(detail)
    if not changes and not detail:
        lines.append("Nothing changed: it was already so.")
    return "\n".join(lines)


def _record(actor, project: Project, text: str, result: StatementResult, request) -> None:
    audit.record(actor, STATEMENT_EVENT, project, project=project, request=request,
                 decision=AuditDecision.DENY if result.refused else None,
                 details={"statement": text.strip()[:MAX_AUDITED_TEXT], "kind": result.statement_kind,
                          "ok": result.ok, "error": result.error, "position": result.position})


def console_history(*, user, project: Project, limit: int = 50) -> QuerySet[Event]:
    """``user``'s latest statements in ``project``, newest first (``details``: statement,
    kind, ok, error, position)."""
    return event_list(user=user).filter(action=STATEMENT_EVENT, project=project, actor=user)[:limit]


def error_pointer(text: str, position: int) -> tuple[str, str]:
    """The line of ``text`` holding ``position`` and a caret line pointing at it."""
    position = max(0, min(position, len(text)))
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:] if end == -1 else text[start:end]
    # Tabs would shift the caret by a browser's idea of a tab stop.
    return line.replace("\t", " "), " " * (position - start) + "^"


# --- names ----------------------------------------------------------------------------------

def _user(run: _Run, principal: str):
    """The account ``principal`` names, among those a statement in this project may name."""
    tenant = run.project.tenant
    kind, dollar, body = principal.partition("$")
    accounts = User.objects.select_related("tenant")
    user = None
    if not dollar:
        user = accounts.filter(tenant=tenant, username__iexact=principal).first()
    elif kind == "ALIYUN":
        user = accounts.filter(is_primary=True, username__iexact=body).first()
    else:
        owner, colon, name = body.rpartition(":")
        if name.lower().startswith("role/"):
            raise ValidationError(f"{principal} is a RAM role; Warden grants to accounts and to project roles "
                                  f"(ROLE <name>).")
        if not colon or owner.lower() == tenant.name.lower():
            user = accounts.filter(tenant=tenant, is_primary=False, username__iexact=name).first()
    if user is None:
        raise ValidationError(f"Unknown user {principal}: name an account of tenant {tenant.name} "
                              f"(RAM${tenant.name}:<user> or just <user>) or a primary account (ALIYUN$<account>).")
    return user


def statement_user(project: Project, principal: str):
    """The account ``principal`` names in a statement run in ``project`` (for extensions,
    which name users as the console's own statements do); ValidationError if none."""
    return _user(_Run(actor=None, project=project), principal)


def _role(run: _Run, name: str) -> Role:
    role = Role.objects.filter(project=run.project, name__iexact=name).first()
    if role is None:
        raise ValidationError(f"No role named {name} in project {run.project.name}.")
    return role


def _subject(run: _Run, kind: str, name: str) -> dict:
    if kind == "role":
        return {"subject_user": None, "subject_role": _role(run, name)}
    return {"subject_user": _user(run, name), "subject_role": None}


def _this_project(run: _Run, named: str | None, what: str) -> None:
    if named is not None and named.lower() != run.project.name.lower():
        raise ValidationError(f"This statement runs in project {run.project.name}: write {what} without "
                              f"'{named}.', or run it in project {named}.")


def _package(run: _Run, name: str) -> Package:
    package = package_list(user=run.actor, project=run.project).filter(name__iexact=name).first()
    if package is None:
        raise ValidationError(f"No package named {name} in project {run.project.name}.")
    return package


def _installed(run: _Run, provider: str, package: str) -> PackageInstall:
    install = package_install_list(user=run.actor, project=run.project).filter(
        package__project__name__iexact=provider, package__name__iexact=package).first()
    if install is None:
        raise ValidationError(f"No package {provider}.{package} is installed in {run.project.name}.")
    return install


def _table(run: _Run, name: str):
    table = warehouse_tables(run.project).select_related("owner__tenant").filter(name__iexact=name).first()
    if table is None:
        raise ValidationError(f"No table named {name} in project {run.project.name}.")
    return table


def _require_reader(run: _Run, what: str) -> None:
    if not CHECK_OTHERS & run.capabilities:
        raise PermissionDenied(f"You may not {what} in project {run.project.name}: that takes managing its members "
                               f"or security, or auditing it.")


def _require_viewer(run: _Run) -> None:
    if Capability.VIEW not in run.capabilities:
        raise PermissionDenied(f"Only members of {run.project.name} read its security state.")


def _properties(statement) -> dict[str, str]:
    return dict(statement.properties)


def _days_from_now(days: int):
    try:
        return timezone.now() + timedelta(days=days)
    except OverflowError:
        return services.FOREVER


# --- users and roles ------------------------------------------------------------------------

def _add_user(run: _Run, statement: ast.AddUser) -> str:
    tenancy_services.member_add(actor=run.actor, project=run.project, user=_user(run, statement.principal),
                                request=run.request)
    return ""


def _remove_user(run: _Run, statement: ast.RemoveUser) -> str:
    user = _user(run, statement.principal)
    membership = Membership.objects.filter(project=run.project, user=user).select_related("project", "user").first()
    if membership is None:
        raise ValidationError(f"{statement.principal} is not a member of {run.project.name}.")
    tenancy_services.member_remove(actor=run.actor, membership=membership, request=run.request)
    return ""


def _list_users(run: _Run, statement: ast.ListUsers) -> str:
    _require_viewer(run)
    return "\n".join(membership.user.principal_name for membership in member_list(user=run.actor,
                                                                                  project=run.project))


def _create_role(run: _Run, statement: ast.CreateRole) -> str:
    tenancy_services.role_create(actor=run.actor, project=run.project, name=statement.name,
                                 role_type=statement.role_type, request=run.request)
    return ""


def _drop_role(run: _Run, statement: ast.DropRole) -> str:
    tenancy_services.role_drop(actor=run.actor, role=_role(run, statement.name), request=run.request)
    return ""


def _list_roles(run: _Run, statement: ast.ListRoles) -> str:
    _require_viewer(run)
    return "\n".join(role.name for role in role_list(user=run.actor, project=run.project).order_by("name"))


def _grant_role(run: _Run, statement: ast.GrantRole) -> str:
    tenancy_services.role_assign(actor=run.actor, role=_role(run, statement.role),
                                 user=_user(run, statement.principal), request=run.request)
    return ""


def _revoke_role(run: _Run, statement: ast.RevokeRole) -> str:
    role, user = _role(run, statement.role), _user(run, statement.principal)
    assignment = RoleAssignment.objects.filter(role=role, user=user).select_related("role__project", "user").first()
    if assignment is None:
        raise ValidationError(f"{statement.principal} does not hold role {role.name}.")
    tenancy_services.role_unassign(actor=run.actor, assignment=assignment, request=run.request)
    return ""


def _purge_privs(run: _Run, statement: ast.PurgePrivs) -> str:
    counts = services.privileges_purge(actor=run.actor, project=run.project, user=_user(run, statement.principal),
                                       request=run.request)
    return (f"Removed {counts['grants']} grants, {counts['label_grants']} label grants and "
            f"{counts['clearances']} clearances.")


def _whoami(run: _Run, statement: ast.WhoAmI) -> str:
    roles = RoleAssignment.objects.filter(role__project=run.project, user=run.actor).order_by("role__name")
    lines = [f"Name: {run.actor.principal_name}", f"Project: {run.project.name}",
             f"Tenant: {run.project.tenant.name}"]
    if run.project.owner_id == run.actor.pk:
        lines.append("Owner of the project")
    lines.append("Roles: " + (", ".join(roles.values_list("role__name", flat=True)) or "none"))
    return "\n".join(lines)


# --- grants as MaxCompute shows them ---------------------------------------------------------

def _grant_path(grant: Grant, project: Project) -> str:
    install = grant.package_install
    if grant.object_type == ObjectType.PACKAGE:
        provider, _, package = grant.object_name.partition(".")
        return resource_path(provider, ObjectType.PACKAGE, package)
    if install is not None:
        provider = install.package.project.name
        inner = resource_path(provider, grant.object_type, grant.object_name).split("/", 2)[2]
        return f"{resource_path(provider, ObjectType.PACKAGE, install.package.name)}/{inner}"
    if grant.object_type == ObjectType.PROJECT:
        return resource_path(grant.object_name)
    path = resource_path(project.name, grant.object_type, grant.object_name)
    return path + (f"({', '.join(grant.columns)})" if grant.columns else "")


def _grant_line(grant: Grant, project: Project) -> str:
    flags = "A" + ("C" if grant.condition else "")
    line = f"{flags}\t{_grant_path(grant, project)}: {' | '.join(grant.actions)}"
    return line + (f"\tExpires:{time_text(grant.expires_at)}" if grant.expires_at else "")


def _privilege_lines(project: Project, role: Role) -> list[str]:
    """What a built-in or workspace role carries by definition, as ACL lines."""
    lines = []
    for privilege in role.privileges or ():
        object_type = privilege["object_type"]
        path = resource_path(project.name) if object_type == ObjectType.PROJECT else \
            resource_path(project.name, object_type, privilege.get("name", "*"))
        lines.append(f"A\t{path}: {' | '.join(privilege['actions'])}")
    return lines


def _policy_lines(document: str, principal: str | None = None, project: Project | None = None) -> list[str]:
    """The statements of a policy as lines; of a project policy, those naming ``principal``."""
    data = json.loads(document)
    if principal is not None:
        parsed = policy_document_parse(data, scope="project", project_name=project.name,
                                       tenant_name=project.tenant.name)
        wanted = {statement.index for statement in parsed.statements
                  if statement.principal_matcher is not None and statement.principal_matcher.matches(principal)}
        statements = [statement for index, statement in enumerate(data["Statement"]) if index in wanted]
    else:
        statements = data["Statement"]
    lines = []
    for statement in statements:
        flags = ("A" if statement["Effect"] == "Allow" else "D") + ("C" if statement.get("Condition") else "")
        actions = " | ".join(action.removeprefix("odps:") for action in statement["Action"])
        for resource in statement["Resource"]:
            lines.append(f"{flags}\t{resource.removeprefix(RESOURCE_PREFIX)}: {actions}")
    return lines


def _section(title: str, blocks: list[tuple[str, list[str]]]) -> list[str]:
    blocks = [(header, lines) for header, lines in blocks if lines]
    if not blocks:
        return []
    out = [f"Authorization Type: {title}"]
    for header, lines in blocks:
        out += ([header] if header else []) + lines
    return out


def _grants_filter(run: _Run, grants: QuerySet[Grant], statement: ast.ShowGrants) -> QuerySet[Grant]:
    if statement.object_type is None:
        return grants
    properties = _properties(statement)
    grants = grants.filter(object_type=statement.object_type)
    if statement.object_type == ObjectType.PACKAGE:
        if statement.object_project is None:
            raise ValidationError(f"Name the package as <provider project>.{statement.object_name}.")
        return grants.filter(object_name__iexact=f"{statement.object_project}.{statement.object_name}")
    if properties.get("refobject") == "true":
        install = _installed(run, properties.get("refproject", ""), properties.get("package", ""))
        return grants.filter(package_install=install, object_name__iexact=statement.object_name)
    _this_project(run, statement.object_project, statement.object_name)
    return grants.filter(package_install=None, object_name__iexact=statement.object_name)


def _role_blocks(run: _Run, roles, grants: QuerySet[Grant]) -> tuple[list, list]:
    acl, policy = [], []
    policies = {policy.role_id: policy for policy in Policy.objects.filter(project=run.project, role__in=roles)}
    for role in roles:
        lines = _privilege_lines(run.project, role) + [
            _grant_line(grant, run.project) for grant in grants if grant.role_id == role.pk]
        acl.append((f"[role/{role.name}]", lines))
        if role.pk in policies:
            policy.append((f"[role/{role.name}]", _policy_lines(policies[role.pk].document)))
    return acl, policy


def _show_grants(run: _Run, statement: ast.ShowGrants) -> str:
    if statement.role is not None:
        _require_reader(run, "read a role's permissions")
        role = _role(run, statement.role)
        grants = _grants_filter(run, grant_list(user=run.actor, project=run.project, subject_role=role), statement)
        acl, policy = _role_blocks(run, [role], grants)
        lines = _section("ACL", acl) + _section("Policy", policy)
        return "\n".join(lines) or f"Role {role.name} holds no permissions."
    user = run.actor if statement.principal is None else _user(run, statement.principal)
    if user.pk != run.actor.pk:
        _require_reader(run, "read someone else's permissions")
    else:
        _require_viewer(run)
    roles = [assignment.role for assignment in RoleAssignment.objects.filter(
        role__project=run.project, user=user).select_related("role").order_by("role__name")]
    grants = _grants_filter(run, grant_list(user=run.actor, project=run.project).filter(
        Q(user=user) | Q(role__in=roles)), statement)
    role_acl, role_policy = _role_blocks(run, roles, grants)
    principal = user.principal_name
    own = [_grant_line(grant, run.project) for grant in grants if grant.user_id == user.pk]
    project_policy = Policy.objects.filter(project=run.project, role=None).first()
    policy_blocks = role_policy + ([("[project]", _policy_lines(project_policy.document, principal, run.project))]
                                   if project_policy else [])
    lines = ["[roles]"] + [role.name for role in roles] + [""]
    if run.project.owner_id == user.pk:
        lines += ["Authorization Type: Owner", f"A\t{resource_path(run.project.name)}: All"]
    lines += _section("ACL", [(f"[user/{principal}]", own)] + role_acl) + _section("Policy", policy_blocks)
    lines += _section("ObjectCreator", [("", _creator_lines(run, user, statement))])
    return "\n".join(lines).rstrip()


def _creator_lines(run: _Run, user, statement: ast.ShowGrants) -> list[str]:
    security = project_security(run.project)
    if not security.object_creator_has_access_permission or statement.object_type not in (None, ObjectType.TABLE):
        return []
    tables = warehouse_tables(run.project).filter(owner=user).order_by("name")
    if statement.object_name is not None:
        tables = tables.filter(name__iexact=statement.object_name)
    flags = "AG" if security.object_creator_has_grant_permission else "A"
    return [f"{flags}\t{resource_path(run.project.name, ObjectType.TABLE, table.name)}: All" for table in tables]


def _show_acl(run: _Run, statement: ast.ShowAcl) -> str:
    _require_reader(run, "read who holds permissions on an object")
    object_type = statement.object_type or ObjectType.TABLE
    grants = grant_list(user=run.actor, project=run.project, object_type=object_type)
    if object_type == ObjectType.PACKAGE:
        if statement.object_project is None:
            raise ValidationError(f"Name the package as <provider project>.{statement.object_name}.")
        grants = grants.filter(object_name__iexact=f"{statement.object_project}.{statement.object_name}")
    else:
        _this_project(run, statement.object_project, statement.object_name)
        grants = grants.filter(object_name__iexact=statement.object_name, package_install=None)
    blocks: dict[str, list[str]] = {}
    for grant in grants:
        header = f"[user/{grant.user.principal_name}]" if grant.user_id else f"[role/{grant.role.name}]"
        blocks.setdefault(header, []).append(_grant_line(grant, run.project))
    lines = _section("ACL", sorted(blocks.items()))
    return "\n".join(lines) or f"No grants on {object_type} {statement.object_name}."


def _describe_role(run: _Run, statement: ast.DescribeRole) -> str:
    _require_reader(run, "describe a role")
    role = _role(run, statement.name)
    holders = RoleAssignment.objects.filter(role=role).select_related("user__tenant").order_by("user__username")
    grants = grant_list(user=run.actor, project=run.project, subject_role=role)
    acl, policy = _role_blocks(run, [role], grants)
    lines = [f"[Type]\t{role.get_role_type_display()}", "[users]"]
    lines += [assignment.user.principal_name for assignment in holders] + [""]
    lines += _section("ACL", acl) + _section("Policy", policy)
    return "\n".join(lines).rstrip()


# --- ACL and policy grants ------------------------------------------------------------------

def _policy_effect(properties: dict[str, str]) -> str:
    denied = properties.get("allow") == "false" or properties.get("deny") == "true"
    return "Deny" if denied else "Allow"


def _grant_target(run: _Run, statement: ast.Grant | ast.Revoke) -> dict:
    """The object arguments of grant_create / grant_revoke for an ACL statement."""
    properties = _properties(statement)
    if properties.get("refobject") == "true":
        provider, package = properties.get("refproject"), properties.get("package")
        if not provider or not package:
            raise ValidationError('A grant on an installed package\'s object names it: "refobject"="true", '
                                  '"refproject"="<provider project>", "package"="<package>".')
        if statement.object_project is not None and statement.object_project.lower() != provider.lower():
            raise ValidationError(f"{statement.object_project}.{statement.object_name} is not in package "
                                  f"{provider}.{package}.")
        return {"object_name": statement.object_name, "package_install": _installed(run, provider, package)}
    if statement.object_type == ObjectType.PACKAGE:
        if statement.object_project is None:
            raise ValidationError(f"Name the package as <provider project>.{statement.object_name}.")
        return {"object_name": f"{statement.object_project}.{statement.object_name}"}
    _this_project(run, statement.object_project, statement.object_name)
    return {"object_name": statement.object_name}


def _grant(run: _Run, statement: ast.Grant) -> str:
    properties = _properties(statement)
    expires = properties.get("expires")
    if properties.get("policy") == "true":
        if statement.subject_kind != "role":
            raise ValidationError("A policy grant is made to a role: TO ROLE <name>.")
        if statement.columns:
            raise ValidationError("A policy entry covers whole objects; drop the column names.")
        _this_project(run, statement.object_project, statement.object_name)
        services.policy_statement_add(
            actor=run.actor, project=run.project, role=_role(run, statement.subject),
            effect=_policy_effect(properties), actions=list(statement.actions), object_type=statement.object_type,
            object_name=statement.object_name, condition=properties.get("conditions"),
            expires_days=int(expires) if expires is not None else None, request=run.request)
        return ""
    services.grant_create(
        actor=run.actor, project=run.project, **_subject(run, statement.subject_kind, statement.subject),
        object_type=statement.object_type, actions=list(statement.actions), columns=list(statement.columns),
        expires_at=_days_from_now(int(expires)) if expires is not None else None,
        condition=properties.get("conditions"), origin=Origin.STATEMENT, request=run.request,
        **_grant_target(run, statement))
    return ""


def _revoke(run: _Run, statement: ast.Revoke) -> str:
    properties = _properties(statement)
    if properties.get("policy") == "true":
        if statement.subject_kind != "role":
            raise ValidationError("A policy entry belongs to a role: FROM ROLE <name>.")
        _this_project(run, statement.object_project, statement.object_name)
        services.policy_statement_remove(
            actor=run.actor, project=run.project, role=_role(run, statement.subject),
            effect=_policy_effect(properties), actions=list(statement.actions), object_type=statement.object_type,
            object_name=statement.object_name, request=run.request)
        return ""
    services.grant_revoke(
        actor=run.actor, project=run.project, **_subject(run, statement.subject_kind, statement.subject),
        object_type=statement.object_type, actions=list(statement.actions), columns=list(statement.columns),
        request=run.request, **_grant_target(run, statement))
    return ""


def _get_policy(run: _Run, statement: ast.GetPolicy) -> str:
    _require_reader(run, "read the policies")
    role = _role(run, statement.role) if statement.role is not None else None
    policy = Policy.objects.filter(project=run.project, role=role).first()
    return policy.document if policy else json.dumps(EMPTY_POLICY, indent=2)


def _put_policy(run: _Run, statement: ast.PutPolicy) -> str:
    role = _role(run, statement.role) if statement.role is not None else None
    services.policy_put(actor=run.actor, project=run.project, role=role, document=statement.document_text,
                        request=run.request)
    return ""


# --- switches, protection, trusted projects, whitelists -------------------------------------

def _show_security_configuration(run: _Run, statement: ast.ShowSecurityConfiguration) -> str:
    _require_reader(run, "read the security configuration")
    security = project_security(run.project)
    lines = [f"{name}={'true' if getattr(security, FLAG_FIELDS[name]) else 'false'}"
             for name in sorted(FLAG_DEFAULTS)]
    if security.protection_exception:
        lines += ["Exception policy:", security.protection_exception]
    return "\n".join(lines)


def _set_flag(run: _Run, statement: ast.SetFlag) -> str:
    services.security_flag_set(actor=run.actor, project=run.project, name=statement.name, value=statement.value,
                               request=run.request)
    return ""


def _set_project_protection(run: _Run, statement: ast.SetProjectProtection) -> str:
    services.project_protection_set(actor=run.actor, project=run.project, enabled=statement.enabled,
                                    exception_policy=statement.exception_policy_text, request=run.request)
    return ""


def _add_trusted_project(run: _Run, statement: ast.AddTrustedProject) -> str:
    services.trusted_project_add(actor=run.actor, project=run.project, trusted_name=statement.project,
                                 request=run.request)
    return ""


def _remove_trusted_project(run: _Run, statement: ast.RemoveTrustedProject) -> str:
    services.trusted_project_remove(actor=run.actor, project=run.project, trusted_name=statement.project,
                                    request=run.request)
    return ""


def _list_trusted_projects(run: _Run, statement: ast.ListTrustedProjects) -> str:
    _require_reader(run, "list the trusted projects")
    return "\n".join(TrustedProject.objects.filter(project=run.project).order_by("trusted__name")
                     .values_list("trusted__name", flat=True))


def _set_ip_whitelist(run: _Run, statement: ast.SetIpWhitelist) -> str:
    services.ip_whitelist_set(actor=run.actor, project=run.project, network=statement.network,
                              entries=list(statement.entries), request=run.request)
    return ""


def _show_project_properties(run: _Run, statement: ast.ShowProjectProperties) -> str:
    _require_reader(run, "read the project's properties")
    security = project_security(run.project)
    return "\n".join([f"odps.security.ip.whitelist={','.join(security.ip_whitelist)}",
                      f"odps.security.vpc.whitelist={','.join(security.vpc_whitelist)}"])


# --- LabelSecurity --------------------------------------------------------------------------

def _set_label(run: _Run, statement: ast.SetLabel) -> str:
    if statement.target_kind == "table":
        services.table_label_set(actor=run.actor, project=run.project, table_name=statement.name,
                                 level=statement.level, columns=list(statement.columns), request=run.request)
    else:
        services.clearance_set(actor=run.actor, project=run.project, level=statement.level,
                               **_subject(run, statement.target_kind, statement.name), request=run.request)
    return ""


def _grant_label(run: _Run, statement: ast.GrantLabel) -> str:
    days = services.LABEL_GRANT_DEFAULT_DAYS if statement.days is None else statement.days
    services.label_grant_create(actor=run.actor, project=run.project, table_name=statement.table,
                                columns=list(statement.columns), level=statement.level, days=days,
                                origin=Origin.STATEMENT, request=run.request,
                                **_subject(run, statement.subject_kind, statement.subject))
    return ""


def _revoke_label(run: _Run, statement: ast.RevokeLabel) -> str:
    services.label_grant_revoke(actor=run.actor, project=run.project, table_name=statement.table,
                                columns=list(statement.columns), request=run.request,
                                **_subject(run, statement.subject_kind, statement.subject))
    return ""


def _clear_expired_grants(run: _Run, statement: ast.ClearExpiredGrants) -> str:
    services.label_grants_clear_expired(actor=run.actor, project=run.project, request=run.request)
    return ""


def _show_label_grants(run: _Run, statement: ast.ShowLabelGrants) -> str:
    if _properties(statement).get("refobject") == "true":
        raise ValidationError("Label grants are on this project's own tables; an installed package's tables are "
                              "read up to the label its provider allowed (allow project ... using label n).")
    user = _user(run, statement.principal) if statement.principal is not None else None
    if user is None and statement.table is None:
        user = run.actor
    if user is None or user.pk != run.actor.pk:
        _require_reader(run, "read someone else's label grants")
    else:
        _require_viewer(run)
    table = _table(run, statement.table) if statement.table is not None else None
    grants = label_grant_list(user=run.actor, project=run.project, table=table)
    if user is not None:
        roles = Role.objects.filter(project=run.project, assignments__user=user)
        grants = grants.filter(Q(user=user) | Q(role__in=roles))
    if statement.level is not None:
        grants = grants.filter(level=statement.level)
    lines = []
    if user is not None:
        clearance = Clearance.objects.filter(project=run.project, user=user).first()
        lines.append(f"User Label: {clearance.level if clearance else 0}")
    blocks: dict[str, list[str]] = {}
    for grant in grants:
        header = f"[user/{grant.user.principal_name}]" if grant.user_id else f"[role/{grant.role.name}]"
        columns = f"({', '.join(grant.columns)})" if grant.columns else ""
        path = resource_path(run.project.name, ObjectType.TABLE, grant.table.name)
        blocks.setdefault(header, []).append(f"{path}{columns}: Label {grant.level}\t"
                                             f"Expires:{time_text(grant.expires_at)}")
    for header, grant_lines in sorted(blocks.items()):
        lines += [header] + grant_lines
    if not blocks:
        lines.append("No label grants.")
    return "\n".join(lines)


def _describe_table(run: _Run, statement: ast.DescribeTable) -> str:
    _require_viewer(run)
    _this_project(run, statement.project, statement.name)
    table = _table(run, statement.name)
    label = TableLabel.objects.filter(table=table).values_list("level", flat=True).first() or 0
    lines = [f"Table: {run.project.name}.{table.name}",
             f"Owner: {table.owner.principal_name if table.owner_id else '-'}",
             f"Label: {label}", "Columns:"]
    for column in Column.objects.live().filter(table=table).order_by("ordinal", "name"):
        level = label if column.sensitivity_level is None else column.sensitivity_level
        lines.append(f"{column.name}\t{column.data_type}\tLabel {level}")
    return "\n".join(lines)


# --- packages -------------------------------------------------------------------------------

def _create_package(run: _Run, statement: ast.CreatePackage) -> str:
    services.package_create(actor=run.actor, project=run.project, name=statement.name, request=run.request)
    return ""


def _add_to_package(run: _Run, statement: ast.AddToPackage) -> str:
    services.package_object_add(actor=run.actor, package=_package(run, statement.package),
                                object_type=statement.object_type, object_name=statement.name,
                                actions=list(statement.actions), request=run.request)
    return ""


def _remove_from_package(run: _Run, statement: ast.RemoveFromPackage) -> str:
    services.package_object_remove(actor=run.actor, package=_package(run, statement.package),
                                   object_type=statement.object_type, object_name=statement.name,
                                   request=run.request)
    return ""


def _allow_install(run: _Run, statement: ast.AllowInstall) -> str:
    services.package_allow(actor=run.actor, package=_package(run, statement.package), consumer_name=statement.project,
                           label=statement.label if statement.label is not None else 0,
                           expires_at=_days_from_now(statement.days) if statement.days is not None else None,
                           request=run.request)
    return ""


def _disallow_install(run: _Run, statement: ast.DisallowInstall) -> str:
    services.package_disallow(actor=run.actor, package=_package(run, statement.package),
                              consumer_name=statement.project, request=run.request)
    return ""


def _drop_package(run: _Run, statement: ast.DropPackage) -> str:
    services.package_drop(actor=run.actor, package=_package(run, statement.name), request=run.request)
    return ""


def _install_package(run: _Run, statement: ast.InstallPackage) -> str:
    services.package_install(actor=run.actor, consumer=run.project, provider_name=statement.project,
                             package_name=statement.package, request=run.request)
    return ""


def _uninstall_package(run: _Run, statement: ast.UninstallPackage) -> str:
    services.package_uninstall(actor=run.actor, consumer=run.project, provider_name=statement.project,
                               package_name=statement.package, request=run.request)
    return ""


def _show_packages(run: _Run, statement: ast.ShowPackages) -> str:
    _require_viewer(run)
    lines = ["Created packages:"]
    lines += [f"{package.name}\t{time_text(package.created_at)}"
              for package in package_list(user=run.actor, project=run.project)] or ["(none)"]
    lines.append("Installed packages:")
    lines += [f"{install.package}\t{time_text(install.installed_at)}"
              for install in package_install_list(user=run.actor, project=run.project)] or ["(none)"]
    return "\n".join(lines)


def _object_lines(objects) -> list[str]:
    return [f"{item.object_type} {item.object_name}: {' | '.join(item.actions)}" for item in objects] or ["(none)"]


def _describe_package(run: _Run, statement: ast.DescribePackage) -> str:
    _require_viewer(run)
    if statement.project is not None and statement.project.lower() != run.project.name.lower():
        install = _installed(run, statement.project, statement.name)
        package = install.package
        return "\n".join([f"Package: {package}", f"Installed: {time_text(install.installed_at)}", "Objects:"]
                         + _object_lines(package.objects_in.order_by("object_type", "object_name")))
    package = _package(run, statement.name)
    lines = [f"Package: {package}", "Objects:"] + _object_lines(package.objects_in.all())
    if not CHECK_OTHERS & run.capabilities:
        return "\n".join(lines)
    lines.append("Allowed projects:")
    lines += [f"{allowance.consumer.name}\tLabel {allowance.label_limit}"
              + (f"\tExpires:{time_text(allowance.expires_at)}" if allowance.expires_at else "")
              for allowance in package.allowances.all()] or ["(none)"]
    lines.append("Installed in:")
    lines += [install.consumer.name for install in package.installs.all()] or ["(none)"]
    return "\n".join(lines)


_HANDLERS: dict[type, Callable[[_Run, ast.Statement], str]] = {
    ast.AddUser: _add_user, ast.RemoveUser: _remove_user, ast.ListUsers: _list_users,
    ast.CreateRole: _create_role, ast.DropRole: _drop_role, ast.ListRoles: _list_roles,
    ast.GrantRole: _grant_role, ast.RevokeRole: _revoke_role, ast.DescribeRole: _describe_role,
    ast.ShowGrants: _show_grants, ast.ShowAcl: _show_acl, ast.WhoAmI: _whoami, ast.PurgePrivs: _purge_privs,
    ast.Grant: _grant, ast.Revoke: _revoke, ast.GetPolicy: _get_policy, ast.PutPolicy: _put_policy,
    ast.ShowSecurityConfiguration: _show_security_configuration, ast.SetFlag: _set_flag,
    ast.SetProjectProtection: _set_project_protection, ast.SetLabel: _set_label, ast.GrantLabel: _grant_label,
    ast.RevokeLabel: _revoke_label, ast.ClearExpiredGrants: _clear_expired_grants,
    ast.ShowLabelGrants: _show_label_grants, ast.DescribeTable: _describe_table,
    ast.CreatePackage: _create_package, ast.AddToPackage: _add_to_package,
    ast.RemoveFromPackage: _remove_from_package, ast.AllowInstall: _allow_install,
    ast.DisallowInstall: _disallow_install, ast.DropPackage: _drop_package, ast.ShowPackages: _show_packages,
    ast.DescribePackage: _describe_package, ast.InstallPackage: _install_package,
    ast.UninstallPackage: _uninstall_package, ast.AddTrustedProject: _add_trusted_project,
    ast.RemoveTrustedProject: _remove_trusted_project, ast.ListTrustedProjects: _list_trusted_projects,
    ast.SetIpWhitelist: _set_ip_whitelist, ast.ShowProjectProperties: _show_project_properties,
}
