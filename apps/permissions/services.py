"""Every change to the MaxCompute security model (shared/reference/maxcompute-security.md
§0-§7): ACL grants, policies, LabelSecurity, packages, the project's switches and
ProjectProtection, trusted projects and IP whitelists.

Each service is atomic, checks who may act before anything else, validates its input into
field-level ``ValidationError``s, writes, bumps the security version of every project whose
state it changed (``security_version_bump``, with the change as a MaxCompute statement line)
and records its audit event, all in one transaction; a refusal changes nothing. A call that
would change nothing (granting what is already granted, setting a switch to its value)
returns without a version or an event.

Who may act (``require_manager``), after MaxCompute's management table:

- ACL grants and revokes: the project's owner, Super_Administrator and Admin
  (``MANAGE_MEMBERS``), its security administrators (``MANAGE_SECURITY``), and the creator
  of a table on that table while ObjectCreatorHasGrantPermission is on;
- labels, clearances and label grants: ``MANAGE_MEMBERS`` or ``MANAGE_SECURITY``;
- policies, switches, ProjectProtection, trusted projects, IP whitelists, the provider side
  of packages and ``purge privs``: ``MANAGE_SECURITY`` (Admin may not change the project's
  security configuration);
- installing and uninstalling a package: ``MANAGE_MEMBERS`` or ``MANAGE_SECURITY`` in the
  consumer project;
- the tenant's IP whitelists: the tenant's owner and administrators.

Choices the reference leaves open:

- ACL grants to the project owner are refused: the owner is not subject to ACL, so the grant
  would mean nothing. Labels bind the owner too, so clearances and label grants to the owner
  are accepted.
- A new grant, clearance or label grant needs the user to be an active member (the grantee
  must exist); revokes and purges also reach removed users, whose rows MaxCompute keeps.
- ``revoke`` without a column list takes the actions off every grant the subject holds on
  the object, column grants included; with a column list only column grants are touched.
- Granting a label again on the same table and columns replaces the level and the expiry.
- ``set ProjectProtection=true`` without ``with exception`` removes an earlier exception
  policy, and turning protection off removes it too: the statement sets both at once.
- A trusted project may be any existing project, another tenant's included: trust is
  one-way and grants nothing by itself (everyone still needs permissions in each project).
- ``drop package`` works while the package is installed, as in MaxCompute: the installs go
  with it, and so do the consumers' grants on it. Removing an object from a package also
  removes the consumers' grants on that object of the package.
- ``disallow project`` keeps an existing install; the install stops carrying data because
  the engine only follows packages whose allowance is in force.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from apps import audit
from apps.catalog.models import Column, Table
from apps.catalog.search import search_documents_refresh
from apps.permissions.actions import (
    ACTIONS,
    ALL,
    NOT_GRANTABLE,
    PACKAGE_DEFAULT_ACTIONS,
    ObjectType,
    action_canonical,
    actions_expand,
    object_type_canonical,
)
from apps.permissions.conditions import ConditionKey, condition_compile, inline_condition_compile
from apps.permissions.facts import FLAG_DEFAULTS, time_text
from apps.permissions.ipaddress_lists import IpList
from apps.permissions.models import (
    MAX_LEVEL,
    Clearance,
    Grant,
    LabelGrant,
    Network,
    Origin,
    Package,
    PackageAllowance,
    PackageInstall,
    PackageObject,
    Policy,
    ProjectSecurity,
    TableLabel,
    TenantSecurity,
    TrustedProject,
)
from apps.permissions.policy import ALLOW, DENY, RESOURCE_PREFIX, policy_document_parse, resource_path
from apps.permissions.selectors import FLAG_FIELDS, project_security, warehouse_tables
from apps.tenancy.models import Membership, Project, Role, Tenant
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities, tenant_roles_of
from apps.tenancy.services import security_version_bump

EVERY_OBJECT = "*"
# MaxCompute's limits on packages (§6).
MAX_OBJECTS_PER_PACKAGE = 1000
MAX_INSTALLS_FROM_ONE_PROVIDER = 100
MAX_PACKAGES_PER_PROJECT = 100_000
LABEL_GRANT_DEFAULT_DAYS = 180
MAX_EXPIRY_DAYS = 2**63 - 1
# Where "with exp 2^63-1" ends up: the last instant Python and PostgreSQL both represent.
FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Functions, resources and instances have no catalog yet: a name is all there is to check.
OBJECT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$\-]{0,254}$")
PACKAGE_OBJECT_TYPES = tuple(PACKAGE_DEFAULT_ACTIONS)


# --- who may act ------------------------------------------------------------------------------

class Management:
    """What a service manages, for ``require_manager``."""

    GRANTS = "grants"
    LABELS = "labels"
    SECURITY = "security"
    INSTALLS = "installs"


_MANAGERS = {
    Management.GRANTS: (frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY}),
                        "grant and revoke permissions"),
    Management.LABELS: (frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY}),
                        "set labels, clearances and label grants"),
    Management.SECURITY: (frozenset({Capability.MANAGE_SECURITY}), "change the security configuration"),
    Management.INSTALLS: (frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY}),
                          "install and uninstall packages"),
}


def require_manager(actor, project: Project, management: str, *, table: Table | None = None) -> None:
    """Refuse with PermissionDenied unless ``actor`` may manage ``management`` in ``project``;
    for grants on ``table``, its creator may too while ObjectCreatorHasGrantPermission is on."""
    capabilities, what = _MANAGERS[management]
    held = project_capabilities(actor, project) if actor is not None and actor.is_authenticated else frozenset()
    if held & capabilities:
        return
    if (management == Management.GRANTS and table is not None and held and table.owner_id == actor.pk
            and Capability.VIEW in held and project_security(project).object_creator_has_grant_permission):
        return
    suffix = f" (or the creator of {table.name} on it)" if management == Management.GRANTS and table else ""
    raise PermissionDenied(f"You may not {what} in project {project.name}: that takes its owner or an "
                           f"administrator{suffix}.")


def require_tenant_manager(actor, tenant: Tenant) -> None:
    if actor is None or not actor.is_authenticated or actor.tenant_id != tenant.pk or not tenant_roles_of(actor):
        raise PermissionDenied("Only the tenant's owner and administrators change its IP whitelists.")


# --- input ------------------------------------------------------------------------------------

def _level(value, field: str = "level") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEVEL:
        raise ValidationError({field: f"Use a whole number from 0 to {MAX_LEVEL}."})
    return value


def _days(value, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_EXPIRY_DAYS:
        raise ValidationError({field: f"Use a whole number of days from {minimum} to {MAX_EXPIRY_DAYS}."})
    return value


def _days_from_now(days: int) -> datetime:
    now = timezone.now()
    try:
        return min(now + timedelta(days=days), FOREVER)
    except OverflowError:
        return FOREVER


def _future(moment, field: str) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime) or timezone.is_naive(moment):
        raise ValidationError({field: "Give a date and time with a time zone."})
    if moment <= timezone.now():
        raise ValidationError({field: "That time has passed; give a time in the future."})
    return moment


def _names(values, field: str, noun: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values or ():
        name = value.strip() if isinstance(value, str) else ""
        if not name:
            raise ValidationError({field: f"Name each {noun}."})
        if name.lower() not in (known.lower() for known in names):
            names.append(name)
    return names


def _condition(condition, field: str = "condition") -> dict | None:
    """The stored JSON form of an inline condition text or a condition document."""
    if condition is None or condition == "" or condition == {}:
        return None
    try:
        if isinstance(condition, str):
            compiled = inline_condition_compile(condition, path=field)
        elif isinstance(condition, Mapping):
            compiled = condition_compile(condition, path=field)
        else:
            raise ValidationError(f"{field}: give the condition as text or as a condition document.")
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error
    return compiled.as_dict() or None


def _policy(document, *, scope: str, project: Project, field: str = "document"):
    try:
        return policy_document_parse(document, scope=scope, project_name=project.name,
                                     tenant_name=project.tenant.name)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error


def _table(project: Project, name, field: str = "table_name") -> Table:
    """A live table of the project's warehouse, by name (case-insensitive)."""
    name = name.strip() if isinstance(name, str) else ""
    table = warehouse_tables(project).filter(name__iexact=name).first() if name else None
    if table is None:
        raise ValidationError({field: f"No table named {name!r} in project {project.name}."})
    return table


def _columns(table: Table, names, field: str = "columns") -> list[str]:
    """The catalog's spelling of ``names``, each a live column of ``table``."""
    names = _names(names, field, "column")
    live = {column.lower(): column for column in Column.objects.live().filter(table=table)
            .values_list("name", flat=True)}
    missing = [name for name in names if name.lower() not in live]
    if missing:
        raise ValidationError({field: f"{table.name} has no column {', '.join(missing)}."})
    return [live[name.lower()] for name in names]


def _subject(project: Project, user, role: Role | None, *, new: bool, field: str = "subject") -> dict:
    """``{"user": user, "role": None}`` or the reverse, for the model's subject fields. A new
    grant needs an active member; a revoke also reaches users who were removed."""
    if (user is None) == (role is None):
        raise ValidationError({field: "Name either a user or a role."})
    if role is not None:
        if role.project_id != project.pk:
            raise ValidationError({"subject_role": f"No role named {role.name} in project {project.name}."})
        return {"user": None, "role": role}
    if new and not Membership.objects.filter(project=project, user=user, is_active=True).exists():
        raise ValidationError({"subject_user": f"{user.username} is not a member of {project.name}; add them first."})
    return {"user": user, "role": None}


def _subject_text(subject: dict) -> str:
    return f"user {subject['user'].principal_name}" if subject["user"] else f"role {subject['role'].name}"


def _subject_detail(subject: dict) -> dict:
    return {"user": subject["user"].principal_name} if subject["user"] else {"role": subject["role"].name.lower()}


def _columns_text(columns: Iterable[str]) -> str:
    columns = list(columns)
    return f"({', '.join(columns)})" if columns else ""


def _canonical_actions(object_type: str, actions, field: str = "actions") -> list[str]:
    if isinstance(actions, str):
        actions = [actions]
    canonical: list[str] = []
    for action in actions or ():
        spelling = action_canonical(object_type, action, field)
        if spelling not in canonical:
            canonical.append(spelling)
    if not canonical:
        raise ValidationError({field: "Name at least one action."})
    return canonical


def _grantable_actions(object_type: str, actions) -> list[str]:
    """Canonical actions; ``All`` on a type with actions only its owner holds (project
    Write) stands for the others, and naming such an action is refused."""
    actions = _canonical_actions(object_type, actions)
    owners_only = NOT_GRANTABLE.get(object_type, set())
    refused = set(actions) & owners_only
    if refused:
        raise ValidationError({"actions": f"{', '.join(sorted(refused))} on a {object_type} belongs to its owner "
                                          f"and cannot be granted."})
    if ALL in actions and owners_only:
        everything = [action for action in ACTIONS[object_type] if action not in owners_only]
        actions = list(dict.fromkeys(everything + [action for action in actions if action != ALL]))
    return actions


def _security_for_update(project: Project) -> ProjectSecurity:
    ProjectSecurity.objects.get_or_create(project=project)
    return ProjectSecurity.objects.select_for_update().get(project=project)


# --- ACL grants -------------------------------------------------------------------------------

def _installed_package(project: Project, full_name, field: str = "object_name") -> PackageInstall:
    provider, dot, name = (full_name or "").strip().partition(".")
    install = PackageInstall.objects.select_related("package__project").filter(
        consumer=project, package__project__name__iexact=provider, package__name__iexact=name).first() if dot else None
    if install is None:
        raise ValidationError({field: f"No package {full_name!r} is installed in {project.name}; name it as "
                                      f"<provider project>.<package>."})
    return install


def _grant_object(project: Project, object_type: str, object_name: str, columns, subject: dict,
                  package_install: PackageInstall | None) -> tuple[str, Table | None, list[str], frozenset[str] | None]:
    """``(object name as stored, catalog table, columns, actions the object allows or None)``."""
    object_name = (object_name or "").strip()
    if not object_name:
        raise ValidationError({"object_name": "Name the object."})
    if object_name == EVERY_OBJECT:
        if subject["user"] is not None:
            raise ValidationError({"object_name": "* (every object) may only be granted to a role."})
        if object_type in (ObjectType.PROJECT, ObjectType.PACKAGE):
            raise ValidationError({"object_name": f"Name the {object_type}; * stands for objects inside it."})
        if columns:
            raise ValidationError({"columns": "Columns belong to one table, not to *."})
        if package_install is not None and not package_install.package.objects_in.filter(
                object_type=object_type).exists():
            raise ValidationError({"object_name": f"Package {package_install.package} holds no {object_type}."})
        return EVERY_OBJECT, None, [], None
    if columns and object_type != ObjectType.TABLE:
        raise ValidationError({"columns": "Only table grants have columns."})

    if package_install is not None:
        item = package_install.package.objects_in.filter(object_type=object_type,
                                                         object_name__iexact=object_name).first()
        if item is None:
            raise ValidationError({"object_name": f"Package {package_install.package} holds no {object_type} "
                                                  f"{object_name}."})
        if item.table_id is not None and item.table.is_dropped:
            raise ValidationError({"object_name": f"{item.object_name} was dropped from {item.package.project.name}."})
        table_columns = _columns(item.table, columns) if columns else []
        return item.object_name, item.table, table_columns, actions_expand(object_type, item.actions)

    if object_type == ObjectType.TABLE:
        table = _table(project, object_name, "object_name")
        return table.name, table, _columns(table, columns) if columns else [], None
    if object_type == ObjectType.PROJECT:
        if object_name.lower() != project.name.lower():
            raise ValidationError({"object_name": f"A project grant in {project.name} is on project {project.name}."})
        return project.name, None, [], None
    if object_type == ObjectType.PACKAGE:
        install = _installed_package(project, object_name)
        return f"{install.package.project.name}.{install.package.name}", None, [], None
    if not OBJECT_NAME.match(object_name):
        raise ValidationError({"object_name": f"{object_name!r} is not a {object_type} name: use letters, digits, "
                                              f"'_', '.', '-' and '$'."})
    return object_name, None, [], None


@transaction.atomic
def grant_create(*, actor, project: Project, subject_user=None, subject_role: Role | None = None,
                 object_type: str, object_name: str, actions, columns=(), expires_at: datetime | None = None,
                 condition=None, origin: str = Origin.API, package_install: PackageInstall | None = None,
                 request=None) -> Grant:
    """``grant <actions> on <object_type> <object_name>[(columns)] to user|role x``.

    The object must exist: a table of the project's warehouse, the project itself, or a
    package installed in it (``provider.package``). Functions, resources and instances have
    no catalog in Warden yet, so any valid name is accepted for them. With
    ``package_install`` the grant is on an object of that installed package (MaxCompute's
    ``refobject``) and may give at most the actions the package shares; a grant of Read on
    the whole package is also tied to its install, so both go when it is uninstalled.

    A grant with the same subject, object, columns, expiry, condition and install as an
    existing one adds its actions to that grant rather than making another.
    """
    table_for_creator = None
    if (object_type or "").strip().lower() == ObjectType.TABLE and package_install is None:
        table_for_creator = warehouse_tables(project).filter(name__iexact=(object_name or "").strip()).first()
    require_manager(actor, project, Management.GRANTS, table=table_for_creator)

    object_type = object_type_canonical(object_type)
    subject = _subject(project, subject_user, subject_role, new=True)
    if subject["user"] is not None and subject["user"].pk == project.owner_id:
        raise ValidationError({"subject_user": "The project owner may already do everything; ACL grants do not "
                                               "apply to the owner."})
    actions = _grantable_actions(object_type, actions)
    if package_install is not None and package_install.consumer_id != project.pk:
        raise ValidationError({"package_install": f"That package is not installed in {project.name}."})
    if package_install is not None and object_type == ObjectType.PACKAGE:
        raise ValidationError({"object_type": "Grant Read on the package itself without naming its install."})
    name, table, columns, shared = _grant_object(project, object_type, object_name, columns, subject,
                                                 package_install)
    if object_type == ObjectType.PACKAGE:
        package_install = _installed_package(project, name)
    if shared is not None and not actions_expand(object_type, actions) <= shared:
        raise ValidationError({"actions": f"Package {package_install.package} shares only "
                                          f"{', '.join(sorted(shared))} on {name}."})
    expires_at = _future(expires_at, "expires_at")
    condition = _condition(condition)

    candidates = Grant.objects.select_for_update().filter(
        project=project, user=subject["user"], role=subject["role"], object_type=object_type, object_name=name,
        expires_at=expires_at, package_install=package_install)
    existing = next((grant for grant in candidates
                     if sorted(grant.columns) == sorted(columns) and grant.condition == condition), None)
    if existing is not None:
        added = [action for action in actions if action not in existing.actions]
        if not added:
            return existing
        existing.actions = existing.actions + added
        existing.save(update_fields=["actions"])
        grant = existing
    else:
        grant = Grant.objects.create(project=project, object_type=object_type, object_name=name, table=table,
                                     columns=columns, actions=actions, condition=condition, expires_at=expires_at,
                                     package_install=package_install, origin=origin, grantor=actor, **subject)
    properties = []
    if expires_at is not None:
        properties.append(f'"expires"="{time_text(expires_at)}"')
    if condition is not None:
        properties.append('"conditions"=...')
    if package_install is not None and object_type != ObjectType.PACKAGE:
        properties.append(f'"refobject"="true", "refproject"="{package_install.package.project.name}", '
                          f'"package"="{package_install.package.name}"')
    summary = (f"grant {', '.join(actions)} on {object_type} {name}{_columns_text(columns)} to "
               f"{_subject_text(subject)}" + (f" privilegeproperties({', '.join(properties)})" if properties else ""))
    security_version_bump(project, actor=actor, summary=summary)
    audit.record(actor, "permissions.grant", grant, project=project, request=request, details={
        "subject": _subject_detail(subject), "object_type": object_type, "object_name": name, "columns": columns,
        "actions": actions, "expires_at": time_text(expires_at), "condition": condition, "origin": origin,
        "package": str(package_install.package) if package_install else None, "merged": existing is not None,
    })
    return grant


def _canonical_order(object_type: str, actions: Iterable[str]) -> list[str]:
    return [action for action in ACTIONS[object_type] if action in set(actions)]


@transaction.atomic
def grant_revoke(*, actor, project: Project, subject_user=None, subject_role: Role | None = None,
                 object_type: str, object_name: str, actions, columns=(),
                 package_install: PackageInstall | None = None, request=None) -> int:
    """``revoke <actions> on <object_type> <object_name>[(columns)] from user|role x``: takes
    the actions off the subject's grants on the object and returns how many grants changed.

    ``All`` stands for every action of the type, and revoking one action from a grant of
    ``All`` leaves the others. Without columns every grant on the object loses the actions
    (a grant left with none goes); with columns, the column grants holding those actions
    lose those columns, and a grant that also holds other actions is split: it keeps the
    other actions on all its columns, and a new grant keeps the revoked actions on the
    columns that were not named.
    """
    table_for_creator = None
    if (object_type or "").strip().lower() == ObjectType.TABLE and package_install is None:
        table_for_creator = warehouse_tables(project).filter(name__iexact=(object_name or "").strip()).first()
    require_manager(actor, project, Management.GRANTS, table=table_for_creator)

    object_type = object_type_canonical(object_type)
    subject = _subject(project, subject_user, subject_role, new=False)
    revoking = actions_expand(object_type, _canonical_actions(object_type, actions))
    if columns and object_type != ObjectType.TABLE:
        raise ValidationError({"columns": "Only table grants have columns."})
    named_columns = {name.lower() for name in _names(columns, "columns", "column")}
    name = (object_name or "").strip()
    grants = Grant.objects.select_for_update().filter(
        project=project, user=subject["user"], role=subject["role"], object_type=object_type,
        object_name__iexact=name).order_by("pk")
    if object_type != ObjectType.PACKAGE:
        # A grant of the whole package names its install too; its name alone identifies it.
        grants = grants.filter(package_install=package_install)

    changed = 0
    for grant in grants:
        held = actions_expand(object_type, grant.actions)
        taken = held & revoking
        if not taken:
            continue
        kept = _canonical_order(object_type, held - revoking)
        if not named_columns:
            if kept:
                grant.actions = kept
                grant.save(update_fields=["actions"])
            else:
                grant.delete()
            changed += 1
            continue
        if not grant.columns or not {column.lower() for column in grant.columns} & named_columns:
            continue
        other_columns = [column for column in grant.columns if column.lower() not in named_columns]
        if kept:
            grant.actions = kept
            grant.save(update_fields=["actions"])
            if other_columns:
                Grant.objects.create(
                    project=project, user=grant.user, role=grant.role, object_type=object_type,
                    object_name=grant.object_name, table=grant.table, columns=other_columns,
                    actions=_canonical_order(object_type, taken), condition=grant.condition,
                    expires_at=grant.expires_at, package_install=grant.package_install, origin=grant.origin,
                    grantor=grant.grantor)
        elif other_columns:
            grant.columns = other_columns
            grant.save(update_fields=["columns"])
        else:
            grant.delete()
        changed += 1
    if not changed:
        raise ValidationError({"actions": f"No such grant: {_subject_text(subject)} holds none of those actions "
                                          f"on {object_type} {name}{_columns_text(columns)}."})
    revoked = _canonical_actions(object_type, actions)
    security_version_bump(project, actor=actor, summary=f"revoke {', '.join(revoked)} on {object_type} "
                                                        f"{name}{_columns_text(columns)} from {_subject_text(subject)}")
    audit.record(actor, "permissions.revoke", (f"permissions.{object_type}", "", name), project=project,
                 request=request, details={"subject": _subject_detail(subject), "object_type": object_type,
                                           "object_name": name, "columns": list(columns or ()), "actions": revoked,
                                           "grants_changed": changed})
    return changed


# --- policies ---------------------------------------------------------------------------------

def _policy_target(project: Project, role: Role | None) -> str:
    if role is not None and role.project_id != project.pk:
        raise ValidationError({"role": f"No role named {role.name} in project {project.name}."})
    return f" on role {role.name}" if role is not None else ""


@transaction.atomic
def policy_put(*, actor, project: Project, role: Role | None = None, document, request=None) -> Policy | None:
    """``put policy <file> [on role r]``: replace the project's policy or a role's. An empty
    document (no text, or no statements) deletes it; returns the stored policy or None."""
    require_manager(actor, project, Management.SECURITY)
    target = _policy_target(project, role)
    empty = document is None or (isinstance(document, (str, bytes)) and not document.strip())
    parsed = None if empty else _policy(document, scope="role" if role else "project", project=project)
    existing = Policy.objects.select_for_update().filter(project=project, role=role).first()
    if parsed is None or not parsed.statements:
        if existing is None:
            return None
        existing.delete()
        policy = None
    elif existing is None:
        policy = Policy.objects.create(project=project, role=role, document=parsed.canonical_json(), updated_by=actor)
    else:
        existing.document, existing.updated_by = parsed.canonical_json(), actor
        existing.save(update_fields=["document", "updated_by", "updated_at"])
        policy = existing
    statements = len(parsed.statements) if parsed else 0
    security_version_bump(project, actor=actor, summary=f"put policy{target} ({statements} statements)")
    audit.record(actor, "permissions.policy_put", policy or ("permissions.policy", "", f"policy{target}"),
                 project=project, request=request,
                 details={"role": role.name if role else None, "statements": statements, "deleted": policy is None})
    return policy


def _effect(effect) -> str:
    if isinstance(effect, bool):
        return ALLOW if effect else DENY
    canonical = {"allow": ALLOW, "deny": DENY}.get(str(effect or "").strip().lower())
    if canonical is None:
        raise ValidationError({"effect": "Use Allow or Deny."})
    return canonical


def _policy_entry(project: Project, object_type: str, object_name: str, actions) -> tuple[str, list[str], str]:
    """``(object type, actions as a policy writes them, resource)`` of a GRANT-form entry."""
    object_type = object_type_canonical(object_type)
    name = (object_name or "").strip()
    if not name:
        raise ValidationError({"object_name": "Name the object, or * for every object of the type."})
    policy_actions = sorted(f"odps:{action}" for action in actions_expand(
        object_type, _canonical_actions(object_type, actions)))
    if object_type == ObjectType.PROJECT:
        if name.lower() != project.name.lower():
            raise ValidationError({"object_name": f"A policy of {project.name} is on project {project.name}."})
        return object_type, policy_actions, RESOURCE_PREFIX + resource_path(project.name)
    return object_type, policy_actions, RESOURCE_PREFIX + resource_path(project.name, object_type, name)


def _role_document(project: Project, role: Role) -> tuple[Policy | None, dict]:
    policy = Policy.objects.select_for_update().filter(project=project, role=role).first()
    document = json.loads(policy.document) if policy else {"Version": "1", "Statement": []}
    return policy, document


def _role_document_save(actor, project: Project, role: Role, policy: Policy | None, document: dict) -> Policy | None:
    if not document["Statement"]:
        if policy is not None:
            policy.delete()
        return None
    parsed = _policy(document, scope="role", project=project, field="object_name")
    if policy is None:
        return Policy.objects.create(project=project, role=role, document=parsed.canonical_json(), updated_by=actor)
    policy.document, policy.updated_by = parsed.canonical_json(), actor
    policy.save(update_fields=["document", "updated_by", "updated_at"])
    return policy


@transaction.atomic
def policy_statement_add(*, actor, project: Project, role: Role, effect, actions, object_type: str,
                         object_name: str, condition=None, expires_days: int | None = None,
                         request=None) -> Policy:
    """``grant <actions> on <type> <name> to role r privilegeproperties("policy"="true",
    "allow"="true|false", ["conditions"=...], ["expires"=days])``: a statement appended to the
    role's policy. Policies may name objects that do not exist (and ``*`` wildcards); the
    expiry becomes an ``acs:CurrentTime`` DateLessThan condition."""
    require_manager(actor, project, Management.SECURITY)
    if role is None:
        raise ValidationError({"role": "A policy grant is made to a role."})
    _policy_target(project, role)
    effect = _effect(effect)
    object_type, policy_actions, resource = _policy_entry(project, object_type, object_name, actions)
    condition = _condition(condition) or {}
    if expires_days is not None:
        days = _days(expires_days, "expires_days", minimum=1)
        if ConditionKey.CURRENT_TIME in condition.get("DateLessThan", {}):
            raise ValidationError({"expires_days": "Give the expiry either in days or as a DateLessThan condition "
                                                   "on acs:CurrentTime, not both."})
        condition.setdefault("DateLessThan", {})[ConditionKey.CURRENT_TIME] = [time_text(_days_from_now(days))]
    statement = {"Effect": effect, "Action": policy_actions, "Resource": [resource]}
    if condition:
        statement["Condition"] = condition
    policy, document = _role_document(project, role)
    document["Statement"].append(statement)
    policy = _role_document_save(actor, project, role, policy, document)
    names = ", ".join(action.removeprefix("odps:") for action in policy_actions)
    security_version_bump(project, actor=actor, summary=(
        f'grant {names} on {object_type} {object_name.strip()} to role {role.name} privilegeproperties('
        f'"policy"="true", "allow"="{"true" if effect == ALLOW else "false"}")'))
    audit.record(actor, "permissions.policy_grant", policy, project=project, request=request,
                 details={"role": role.name, "statement": statement})
    return policy


@transaction.atomic
def policy_statement_remove(*, actor, project: Project, role: Role, effect, actions, object_type: str,
                            object_name: str, request=None) -> Policy | None:
    """``revoke <actions> on <type> <name> from role r privilegeproperties("policy"="true",
    "allow"=...)``: removes the role policy's statements whose effect, actions and single
    resource are exactly those (MaxCompute matches the original grant, conditions aside).
    Returns the policy, or None when it was left empty and deleted."""
    require_manager(actor, project, Management.SECURITY)
    if role is None:
        raise ValidationError({"role": "A policy revoke names a role."})
    _policy_target(project, role)
    effect = _effect(effect)
    object_type, policy_actions, resource = _policy_entry(project, object_type, object_name, actions)
    policy, document = _role_document(project, role)
    wanted = (effect, sorted(policy_actions), [resource])
    kept = [statement for statement in document["Statement"]
            if (statement["Effect"], sorted(statement["Action"]), statement["Resource"]) != wanted]
    if len(kept) == len(document["Statement"]):
        raise ValidationError({"actions": f"No such policy entry: role {role.name} has no {effect} statement of "
                                          f"exactly those actions on {object_type} {object_name.strip()}."})
    removed = len(document["Statement"]) - len(kept)
    document["Statement"] = kept
    policy = _role_document_save(actor, project, role, policy, document)
    names = ", ".join(action.removeprefix("odps:") for action in policy_actions)
    security_version_bump(project, actor=actor, summary=(
        f'revoke {names} on {object_type} {object_name.strip()} from role {role.name} privilegeproperties('
        f'"policy"="true", "allow"="{"true" if effect == ALLOW else "false"}")'))
    audit.record(actor, "permissions.policy_revoke",
                 policy or ("permissions.policy", "", f"policy on role {role.name}"), project=project, request=request,
                 details={"role": role.name, "effect": effect, "actions": policy_actions, "resource": resource,
                          "statements_removed": removed})
    return policy


# --- the project's switches, protection, trusted projects, IP whitelists -----------------------

_FLAG_NAMES = {name.lower(): name for name in FLAG_DEFAULTS}


@transaction.atomic
def security_flag_set(*, actor, project: Project, name: str, value: bool, request=None) -> ProjectSecurity:
    """``set <flag>=true|false`` for the flags of ``facts.FLAG_DEFAULTS`` (case-insensitive)."""
    require_manager(actor, project, Management.SECURITY)
    flag = _FLAG_NAMES.get((name or "").strip().lower())
    if flag is None:
        raise ValidationError({"name": f"Unknown setting {name!r}; use one of: {', '.join(FLAG_DEFAULTS)}."})
    if not isinstance(value, bool):
        raise ValidationError({"value": "Use true or false."})
    security = _security_for_update(project)
    field = FLAG_FIELDS[flag]
    before = getattr(security, field)
    if before == value:
        return security
    setattr(security, field, value)
    security.save(update_fields=[field, "updated_at"])
    security_version_bump(project, actor=actor, summary=f"set {flag}={'true' if value else 'false'}")
    audit.record(actor, "permissions.setting", security, project=project, request=request,
                 details={flag: {"from": before, "to": value}})
    return security


@transaction.atomic
def project_protection_set(*, actor, project: Project, enabled: bool, exception_policy=None,
                           request=None) -> ProjectSecurity:
    """``set ProjectProtection=true|false [with exception <policy>]``. The statement sets both
    at once: without an exception policy any earlier one is removed."""
    require_manager(actor, project, Management.SECURITY)
    if not isinstance(enabled, bool):
        raise ValidationError({"enabled": "Use true or false."})
    has_exception = exception_policy is not None and not (
        isinstance(exception_policy, (str, bytes)) and not exception_policy.strip())
    if has_exception and not enabled:
        raise ValidationError({"exception_policy": "An exception policy only applies while ProjectProtection is on."})
    exception = _policy(exception_policy, scope="exception", project=project, field="exception_policy") \
        if has_exception else None
    exception_text = exception.canonical_json() if exception is not None and exception.statements else ""
    security = _security_for_update(project)
    if (security.project_protection, security.protection_exception) == (enabled, exception_text):
        return security
    changes = {"ProjectProtection": {"from": security.project_protection, "to": enabled},
               "exception": {"from": bool(security.protection_exception), "to": bool(exception_text)}}
    security.project_protection, security.protection_exception = enabled, exception_text
    security.save(update_fields=["project_protection", "protection_exception", "updated_at"])
    security_version_bump(project, actor=actor, summary=f"set ProjectProtection={'true' if enabled else 'false'}"
                                                        + (" with exception <policy>" if exception_text else ""))
    audit.record(actor, "permissions.project_protection", security, project=project, request=request,
                 details=changes)
    return security


def _other_project(project: Project, name, field: str = "trusted_name") -> Project:
    name = name.strip() if isinstance(name, str) else ""
    other = Project.objects.filter(name__iexact=name).first() if name else None
    if other is None:
        raise ValidationError({field: f"No project named {name!r}."})
    if other.pk == project.pk:
        raise ValidationError({field: f"{project.name} is the project itself."})
    return other


@transaction.atomic
def trusted_project_add(*, actor, project: Project, trusted_name: str, request=None) -> TrustedProject:
    """``add trustedproject <name>``: any existing project, another tenant's included, since
    trust is one-way and lets data flow only where permissions already allow it."""
    require_manager(actor, project, Management.SECURITY)
    trusted = _other_project(project, trusted_name)
    if TrustedProject.objects.filter(project=project, trusted=trusted).exists():
        raise ValidationError({"trusted_name": f"{trusted.name} is already a trusted project of {project.name}."})
    row = TrustedProject.objects.create(project=project, trusted=trusted, added_by=actor)
    security_version_bump(project, actor=actor, summary=f"add trustedproject {trusted.name}")
    audit.record(actor, "permissions.trusted_project_add", trusted, project=project, request=request,
                 details={"trusted": trusted.name})
    return row


@transaction.atomic
def trusted_project_remove(*, actor, project: Project, trusted_name: str, request=None) -> None:
    require_manager(actor, project, Management.SECURITY)
    name = trusted_name.strip() if isinstance(trusted_name, str) else ""
    row = TrustedProject.objects.select_related("trusted").filter(project=project, trusted__name__iexact=name).first()
    if row is None:
        raise ValidationError({"trusted_name": f"{name!r} is not a trusted project of {project.name}."})
    trusted = row.trusted
    row.delete()
    security_version_bump(project, actor=actor, summary=f"remove trustedproject {trusted.name}")
    audit.record(actor, "permissions.trusted_project_remove", trusted, project=project, request=request,
                 details={"trusted": trusted.name})


def _whitelist(network, entries) -> tuple[str, list[str]]:
    if network not in Network.values:
        raise ValidationError({"network": f"Use one of: {', '.join(Network.values)}."})
    return f"{network}_whitelist", list(IpList.parse(entries or [], field="entries").entries)


@transaction.atomic
def ip_whitelist_set(*, actor, project: Project, network: str, entries, request=None) -> ProjectSecurity:
    """``setproject odps.security.<ip|vpc>.whitelist=<entries>``; no entries clears it."""
    require_manager(actor, project, Management.SECURITY)
    field, canonical = _whitelist(network, entries)
    security = _security_for_update(project)
    before = list(getattr(security, field))
    if before == canonical:
        return security
    setattr(security, field, canonical)
    security.save(update_fields=[field, "updated_at"])
    security_version_bump(project, actor=actor,
                          summary=f"setproject odps.security.{network}.whitelist={','.join(canonical)}")
    audit.record(actor, "permissions.ip_whitelist", security, project=project, request=request,
                 details={"network": network, "from": before, "to": canonical})
    return security


@transaction.atomic
def tenant_ip_whitelist_set(*, actor, tenant: Tenant, network: str, entries, request=None) -> TenantSecurity:
    """The tenant-wide whitelist, checked before every project's own: each of the tenant's
    projects gets a new security version."""
    require_tenant_manager(actor, tenant)
    field, canonical = _whitelist(network, entries)
    TenantSecurity.objects.get_or_create(tenant=tenant)
    security = TenantSecurity.objects.select_for_update().get(tenant=tenant)
    before = list(getattr(security, field))
    if before == canonical:
        return security
    setattr(security, field, canonical)
    security.save(update_fields=[field, "updated_at"])
    summary = f"set tenant {tenant.name} {network} whitelist={','.join(canonical)}"
    for project in Project.objects.filter(tenant=tenant).select_related("tenant", "owner__tenant"):
        security_version_bump(project, actor=actor, summary=summary)
    audit.record(actor, "permissions.tenant_ip_whitelist", tenant, request=request,
                 details={"network": network, "from": before, "to": canonical})
    return security


# --- LabelSecurity ----------------------------------------------------------------------------

@transaction.atomic
def table_label_set(*, actor, project: Project, table_name: str, level: int, columns=(), request=None) -> Table:
    """``set label <level> to table t[(columns)]``. Without columns it is the table's own
    label, which its unlabelled columns carry (0 removes it: absent means 0); with columns it
    is each column's ``sensitivity_level`` in the catalog, where 0 is a label of its own."""
    require_manager(actor, project, Management.LABELS)
    table = _table(project, table_name)
    level = _level(level)
    if columns:
        names = _columns(table, columns)
        targets = Column.objects.live().filter(table=table, name__in=names)
        before = dict(targets.values_list("name", "sensitivity_level"))
        if all(value == level for value in before.values()):
            return table
        targets.update(sensitivity_level=level)
        search_documents_refresh(tables=[table])
        details = {"columns": {name: {"from": before[name], "to": level} for name in names}}
    else:
        current = TableLabel.objects.select_for_update().filter(table=table).first()
        before_level = current.level if current else 0
        if before_level == level:
            return table
        if level == 0:
            current.delete()
        else:
            TableLabel.objects.update_or_create(table=table, defaults={"level": level})
        names = []
        details = {"table": {"from": before_level, "to": level}}
    security_version_bump(project, actor=actor, summary=f"set label {level} to table {table.name}"
                                                        f"{_columns_text(names)}")
    audit.record(actor, "permissions.label_set", table, project=project, request=request, details=details)
    return table


@transaction.atomic
def clearance_set(*, actor, project: Project, subject_user=None, subject_role: Role | None = None, level: int,
                  request=None) -> Clearance | None:
    """``set label <level> to user|role x``; level 0 removes the clearance (absent means 0)."""
    require_manager(actor, project, Management.LABELS)
    level = _level(level)
    subject = _subject(project, subject_user, subject_role, new=level > 0)
    current = Clearance.objects.select_for_update().filter(project=project, **subject).first()
    before = current.level if current else 0
    if before == level:
        return current
    if level == 0:
        current.delete()
        clearance = None
    elif current is None:
        clearance = Clearance.objects.create(project=project, level=level, **subject)
    else:
        current.level = level
        current.save(update_fields=["level"])
        clearance = current
    security_version_bump(project, actor=actor, summary=f"set label {level} to {_subject_text(subject)}")
    audit.record(actor, "permissions.clearance", subject["user"] or subject["role"], project=project,
                 request=request, details={"subject": _subject_detail(subject), "from": before, "to": level})
    return clearance


@transaction.atomic
def label_grant_create(*, actor, project: Project, subject_user=None, subject_role: Role | None = None,
                       table_name: str, columns=(), level: int, days: int = LABEL_GRANT_DEFAULT_DAYS,
                       origin: str = Origin.API, request=None) -> LabelGrant:
    """``grant label <level> on table t[(columns)] to user|role x [with exp <days>]``: days
    from 0 to 2^63-1 (180 by default); an expiry past year 9999 is held at its end. Granting
    again on the same table and columns replaces the level and the expiry."""
    require_manager(actor, project, Management.LABELS)
    subject = _subject(project, subject_user, subject_role, new=True)
    table = _table(project, table_name)
    names = _columns(table, columns) if columns else []
    level = _level(level)
    expires_at = _days_from_now(_days(days, "days"))
    existing = next((grant for grant in LabelGrant.objects.select_for_update().filter(
        project=project, table=table, **subject) if sorted(grant.columns) == sorted(names)), None)
    if existing is not None:
        existing.level, existing.expires_at, existing.granted_by = level, expires_at, actor
        existing.save(update_fields=["level", "expires_at", "granted_by"])
        grant = existing
    else:
        grant = LabelGrant.objects.create(project=project, table=table, columns=names, level=level,
                                          expires_at=expires_at, granted_by=actor, origin=origin, **subject)
    security_version_bump(project, actor=actor, summary=f"grant label {level} on table {table.name}"
                                                        f"{_columns_text(names)} to {_subject_text(subject)} "
                                                        f"with exp {days}")
    audit.record(actor, "permissions.label_grant", grant, project=project, request=request, details={
        "subject": _subject_detail(subject), "table": table.name, "columns": names, "level": level,
        "expires_at": time_text(expires_at), "replaced": existing is not None})
    return grant


@transaction.atomic
def label_grant_revoke(*, actor, project: Project, subject_user=None, subject_role: Role | None = None,
                       table_name: str, columns=(), request=None) -> int:
    """``revoke label on table t[(columns)] from user|role x``. Without columns every label
    grant of the subject on the table goes; with columns those columns leave the subject's
    column label grants, and a grant left with none goes. Returns the grants changed."""
    require_manager(actor, project, Management.LABELS)
    subject = _subject(project, subject_user, subject_role, new=False)
    table = _table(project, table_name)
    named = {name.lower() for name in _names(columns, "columns", "column")}
    changed = 0
    for grant in LabelGrant.objects.select_for_update().filter(project=project, table=table, **subject):
        if not named:
            grant.delete()
        elif grant.columns and {column.lower() for column in grant.columns} & named:
            remaining = [column for column in grant.columns if column.lower() not in named]
            if remaining:
                grant.columns = remaining
                grant.save(update_fields=["columns"])
            else:
                grant.delete()
        else:
            continue
        changed += 1
    if not changed:
        raise ValidationError({"table_name": f"No such label grant: {_subject_text(subject)} has none on "
                                             f"{table.name}{_columns_text(columns or ())}."})
    security_version_bump(project, actor=actor, summary=f"revoke label on table {table.name}"
                                                        f"{_columns_text(columns or ())} from {_subject_text(subject)}")
    audit.record(actor, "permissions.label_revoke", table, project=project, request=request,
                 details={"subject": _subject_detail(subject), "columns": list(columns or ()),
                          "grants_changed": changed})
    return changed


@transaction.atomic
def label_grants_clear_expired(*, actor, project: Project, request=None) -> int:
    """``clear expired grants``: deletes the project's expired label grants; returns how many."""
    require_manager(actor, project, Management.LABELS)
    removed = LabelGrant.objects.filter(project=project, expires_at__lte=timezone.now()).delete()[0]
    if removed:
        security_version_bump(project, actor=actor, summary="clear expired grants")
        audit.record(actor, "permissions.label_grants_clear_expired", project, project=project, request=request,
                     details={"removed": removed})
    return removed


# --- packages ---------------------------------------------------------------------------------

def _bump_both(provider: Project, consumer: Project, *, actor, summary: str) -> None:
    security_version_bump(provider, actor=actor, summary=summary)
    security_version_bump(consumer, actor=actor, summary=summary)


@transaction.atomic
def package_create(*, actor, project: Project, name: str, request=None) -> Package:
    """``create package <name>``: letters, digits and '_', not starting with a digit, at most
    128 characters, unique in the project (case-insensitive)."""
    require_manager(actor, project, Management.SECURITY)
    name = name.strip() if isinstance(name, str) else ""
    if not PACKAGE_NAME.match(name):
        raise ValidationError({"name": "Use at most 128 letters, digits and '_', not starting with a digit."})
    if Package.objects.filter(project=project, name__iexact=name).exists():
        raise ValidationError({"name": f"A package named {name} already exists in {project.name}."})
    if Package.objects.filter(project=project).count() >= MAX_PACKAGES_PER_PROJECT:
        raise ValidationError({"name": f"A project holds at most {MAX_PACKAGES_PER_PROJECT} packages."})
    package = Package.objects.create(project=project, name=name, created_by=actor)
    security_version_bump(project, actor=actor, summary=f"create package {name}")
    audit.record(actor, "permissions.package_create", package, project=project, request=request)
    return package


def _consumers_with(package: Package) -> QuerySet[Project]:
    return Project.objects.filter(installed_packages__package=package).distinct()


@transaction.atomic
def package_object_add(*, actor, package: Package, object_type: str, object_name: str, actions=None,
                       request=None) -> PackageObject:
    """``add <type> <name> to package p [with privileges <actions>]``: an object of the
    provider project by its bare name; without actions the package defaults (a table:
    Describe and Select). Adding an object again replaces its actions."""
    project = package.project
    require_manager(actor, project, Management.SECURITY)
    object_type = object_type_canonical(object_type)
    if object_type not in PACKAGE_OBJECT_TYPES:
        raise ValidationError({"object_type": f"A package holds {', '.join(PACKAGE_OBJECT_TYPES)}."})
    name = object_name.strip() if isinstance(object_name, str) else ""
    if "." in name and object_type == ObjectType.TABLE:
        raise ValidationError({"object_name": "Add objects by their bare name, without a project."})
    table = None
    if object_type == ObjectType.TABLE:
        table = _table(project, name, "object_name")
        name = table.name
    elif not OBJECT_NAME.match(name):
        raise ValidationError({"object_name": f"{name!r} is not a {object_type} name."})
    actions = list(PACKAGE_DEFAULT_ACTIONS[object_type]) if not actions else _canonical_actions(object_type, actions)
    existing = PackageObject.objects.select_for_update().filter(package=package, object_type=object_type,
                                                                object_name__iexact=name).first()
    if existing is not None:
        if existing.actions == actions:
            return existing
        existing.actions = actions
        existing.save(update_fields=["actions"])
        item = existing
    else:
        if package.objects_in.count() >= MAX_OBJECTS_PER_PACKAGE:
            raise ValidationError({"object_name": f"A package holds at most {MAX_OBJECTS_PER_PACKAGE} objects."})
        item = PackageObject.objects.create(package=package, object_type=object_type, object_name=name, table=table,
                                            actions=actions)
    security_version_bump(project, actor=actor, summary=f"add {object_type} {name} to package {package.name} "
                                                        f"with privileges {', '.join(actions)}")
    audit.record(actor, "permissions.package_object_add", package, project=project, request=request,
                 details={"object_type": object_type, "object_name": name, "actions": actions,
                          "replaced": existing is not None})
    return item


@transaction.atomic
def package_object_remove(*, actor, package: Package, object_type: str, object_name: str, request=None) -> None:
    """``remove <type> <name> from package p``; the consumers' grants on that object of the
    package go too."""
    project = package.project
    require_manager(actor, project, Management.SECURITY)
    object_type = object_type_canonical(object_type)
    name = object_name.strip() if isinstance(object_name, str) else ""
    item = PackageObject.objects.filter(package=package, object_type=object_type, object_name__iexact=name).first()
    if item is None:
        raise ValidationError({"object_name": f"Package {package.name} holds no {object_type} {name}."})
    consumers = list(_consumers_with(package))
    Grant.objects.filter(package_install__package=package, object_type=object_type,
                         object_name=item.object_name).delete()
    item.delete()
    summary = f"remove {object_type} {item.object_name} from package {package.name}"
    security_version_bump(project, actor=actor, summary=summary)
    for consumer in consumers:
        security_version_bump(consumer, actor=actor, summary=summary)
    audit.record(actor, "permissions.package_object_remove", package, project=project, request=request,
                 details={"object_type": object_type, "object_name": item.object_name})


def _package_in(project: Project, name, field: str = "package_name") -> Package:
    name = name.strip() if isinstance(name, str) else ""
    package = Package.objects.select_related("project").filter(project=project, name__iexact=name).first()
    if package is None:
        raise ValidationError({field: f"No package named {name!r} in {project.name}."})
    return package


@transaction.atomic
def package_allow(*, actor, package: Package, consumer_name: str, label: int = 0,
                  expires_at: datetime | None = None, request=None) -> PackageAllowance:
    """``allow project <consumer> to install package p [using label n]``; allowing again
    replaces the label limit and the expiry."""
    project = package.project
    require_manager(actor, project, Management.SECURITY)
    consumer = _other_project(project, consumer_name, "consumer_name")
    label = _level(label, "label")
    expires_at = _future(expires_at, "expires_at")
    allowance, created = PackageAllowance.objects.select_for_update().get_or_create(
        package=package, consumer=consumer, defaults={"label_limit": label, "expires_at": expires_at})
    if not created:
        if (allowance.label_limit, allowance.expires_at) == (label, expires_at):
            return allowance
        allowance.label_limit, allowance.expires_at = label, expires_at
        allowance.save(update_fields=["label_limit", "expires_at"])
    _bump_both(project, consumer, actor=actor, summary=f"allow project {consumer.name} to install package "
                                                       f"{package.name} using label {label}")
    audit.record(actor, "permissions.package_allow", package, project=project, request=request,
                 details={"consumer": consumer.name, "label": label, "expires_at": time_text(expires_at)})
    return allowance


@transaction.atomic
def package_disallow(*, actor, package: Package, consumer_name: str, request=None) -> None:
    """``disallow project <consumer> to install package p``. An existing install stays but
    carries nothing without an allowance."""
    project = package.project
    require_manager(actor, project, Management.SECURITY)
    name = consumer_name.strip() if isinstance(consumer_name, str) else ""
    allowance = PackageAllowance.objects.select_related("consumer").filter(
        package=package, consumer__name__iexact=name).first()
    if allowance is None:
        raise ValidationError({"consumer_name": f"{name!r} is not allowed to install {package.name}."})
    consumer = allowance.consumer
    allowance.delete()
    _bump_both(project, consumer, actor=actor,
               summary=f"disallow project {consumer.name} to install package {package.name}")
    audit.record(actor, "permissions.package_disallow", package, project=project, request=request,
                 details={"consumer": consumer.name})


@transaction.atomic
def package_drop(*, actor, package: Package, request=None) -> None:
    """``drop package p``, installed or not (as MaxCompute does): its objects, allowances and
    installs go, and with the installs every consumer grant on the package."""
    project = package.project
    require_manager(actor, project, Management.SECURITY)
    consumers = list(_consumers_with(package))
    name = package.name
    audit.record(actor, "permissions.package_drop", package, project=project, request=request,
                 details={"installed_in": sorted(consumer.name for consumer in consumers)})
    package.delete()
    summary = f"drop package {name}"
    security_version_bump(project, actor=actor, summary=summary)
    for consumer in consumers:
        security_version_bump(consumer, actor=actor, summary=summary)


@transaction.atomic
def package_install(*, actor, consumer: Project, provider_name: str, package_name: str,
                    request=None) -> PackageInstall:
    """``install package <provider>.<package>``: needs the provider's allowance, still in
    force, and at most 100 packages of one provider per consumer."""
    require_manager(actor, consumer, Management.INSTALLS)
    provider = _other_project(consumer, provider_name, "provider_name")
    package = _package_in(provider, package_name)
    now = timezone.now()
    allowance = PackageAllowance.objects.filter(package=package, consumer=consumer).first()
    if allowance is None:
        raise ValidationError({"package_name": f"{provider.name} has not allowed {consumer.name} to install "
                                               f"{package.name}."})
    if allowance.expires_at is not None and allowance.expires_at <= now:
        raise ValidationError({"package_name": f"The allowance to install {package} expired on "
                                               f"{time_text(allowance.expires_at)}."})
    if PackageInstall.objects.filter(package=package, consumer=consumer).exists():
        raise ValidationError({"package_name": f"{package} is already installed in {consumer.name}."})
    if PackageInstall.objects.filter(consumer=consumer, package__project=provider).count() \
            >= MAX_INSTALLS_FROM_ONE_PROVIDER:
        raise ValidationError({"package_name": f"A project installs at most {MAX_INSTALLS_FROM_ONE_PROVIDER} "
                                               f"packages of one provider."})
    install = PackageInstall.objects.create(package=package, consumer=consumer, installed_by=actor)
    _bump_both(provider, consumer, actor=actor, summary=f"install package {package}")
    audit.record(actor, "permissions.package_install", package, project=consumer, request=request,
                 details={"provider": provider.name, "package": package.name})
    return install


@transaction.atomic
def package_uninstall(*, actor, consumer: Project, provider_name: str, package_name: str, request=None) -> None:
    """``uninstall package <provider>.<package>``; the grants made on it go with it."""
    require_manager(actor, consumer, Management.INSTALLS)
    name = f"{(provider_name or '').strip()}.{(package_name or '').strip()}"
    install = _installed_package(consumer, name, "package_name")
    package = install.package
    grants = install.grants.count()
    install.delete()
    _bump_both(package.project, consumer, actor=actor, summary=f"uninstall package {package}")
    audit.record(actor, "permissions.package_uninstall", package, project=consumer, request=request,
                 details={"provider": package.project.name, "package": package.name, "grants_removed": grants})


# --- purge ------------------------------------------------------------------------------------

@transaction.atomic
def privileges_purge(*, actor, project: Project, user, request=None) -> dict[str, int]:
    """``purge privs from user x``: the grants, label grants and clearance a removed user
    kept (MaxCompute keeps them so that adding the user back restores them). Refused for an
    active member, whose rights are revoked one by one."""
    require_manager(actor, project, Management.SECURITY)
    if user.pk == project.owner_id or Membership.objects.filter(project=project, user=user, is_active=True).exists():
        raise ValidationError({"user": f"{user.username} is a member of {project.name}; remove them first, or "
                                       f"revoke their permissions one by one."})
    counts = {
        "grants": Grant.objects.filter(project=project, user=user).delete()[0],
        "label_grants": LabelGrant.objects.filter(project=project, user=user).delete()[0],
        "clearances": Clearance.objects.filter(project=project, user=user).delete()[0],
    }
    if any(counts.values()):
        security_version_bump(project, actor=actor, summary=f"purge privs from user {user.principal_name}")
        audit.record(actor, "permissions.purge", user, project=project, request=request, details=counts)
    return counts


# --- the portal's own object permissions -------------------------------------------------------

PORTAL_PERMISSIONS = {
    "audit_project": ("tenancy.audit_project", "read the project's audit log"),
    "approve_access": ("catalog.approve_access", "approve access requests on a table"),
}


def _portal_permission_target(project: Project, permission: str, table_name: str | None):
    """The object a portal permission is held on: the project itself, or one of its tables."""
    if permission not in PORTAL_PERMISSIONS:
        raise ValidationError({"permission": f"Choose one of: {', '.join(PORTAL_PERMISSIONS)}."})
    if permission == "audit_project":
        if table_name:
            raise ValidationError({"table_name": "audit_project is held on the whole project: name no table."})
        return project
    if not table_name:
        raise ValidationError({"table_name": "approve_access is held on one table: name it."})
    return _table(project, table_name)


@transaction.atomic
def portal_permission_assign(*, actor, project: Project, user, permission: str, table_name: str | None = None,
                             request=None):
    """Let a member read the project's audit log (``audit_project``) or approve access
    requests on one of its tables (``approve_access``): django-guardian object permissions,
    beside the roles. They decide nothing about data, so they make no security version."""
    require_manager(actor, project, Management.SECURITY)
    target = _portal_permission_target(project, permission, table_name)
    if not Membership.objects.filter(project=project, user=user, is_active=True).exists():
        raise ValidationError({"user": f"{user.username} is not a member of {project.name}."})
    codename, what = PORTAL_PERMISSIONS[permission]
    if user.has_perm(codename, target):
        raise ValidationError({"user": f"{user.username} may already {what}."})
    assign_perm(codename, user, target)
    audit.record(actor, "permissions.portal_permission_assign", user, project=project, request=request,
                 details={"permission": permission, "table": table_name or None})


@transaction.atomic
def portal_permission_remove(*, actor, project: Project, user, permission: str, table_name: str | None = None,
                             request=None) -> None:
    require_manager(actor, project, Management.SECURITY)
    target = _portal_permission_target(project, permission, table_name)
    codename, what = PORTAL_PERMISSIONS[permission]
    removed, _ = remove_perm(codename, user, target)
    if not removed:
        raise ValidationError({"user": f"{user.username} holds no permission to {what} here."})
    audit.record(actor, "permissions.portal_permission_remove", user, project=project, request=request,
                 details={"permission": permission, "table": table_name or None})
