"""Reading a project's security versions, and rolling its state back to one of them.

A rollback compares the facts of the chosen version (``versions.facts_at``) with the
project's facts now and writes the difference straight into the rows, one applier per kind
of fact: removals first, dependents before what they depend on (grants before their roles),
then additions the other way round (roles before their grants). Facts that say "this thing
has that value" (a switch, a policy, a clearance, a label, a role's definition...) are
changed in place when the old version had another value, so rolling back a changed role
never drops it and takes its grants with it.

What can no longer be applied is skipped and reported, never half-applied: a table that is
gone, a user who was deleted, another project that is gone, a built-in role (built-ins are
the platform's, never created or dropped), the tenant's IP whitelists (the tenant's, not the
project's), the project itself (its owner, its environment), and the facts the higher apps
provide (``hooks.security_fact_providers``: masking rules...), which only those apps change,
for the reason they register in ``hooks.fact_rollback_reasons``.

The whole rollback is one transaction with one new version and one audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps import audit
from apps.catalog.models import Column, Table
from apps.catalog.search import search_documents_refresh
from apps.permissions import hooks
from apps.permissions.describe import fact_line, fact_lines
from apps.permissions.facts import FLAG_DEFAULTS, fact_key, time_parse
from apps.permissions.models import (
    Clearance,
    Grant,
    LabelGrant,
    Origin,
    Package,
    PackageAllowance,
    PackageInstall,
    PackageObject,
    Policy,
    ProjectSecurity,
    SecurityState,
    SecurityVersion,
    TableLabel,
    TrustedProject,
)
from apps.permissions.selectors import FLAG_FIELDS, security_facts, security_version_list, warehouse_tables
from apps.permissions.versions import UNVERSIONED_KINDS, facts_at, versions_diff
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, RoleKind
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities
from apps.tenancy.services import require_capability, security_version_bump

User = get_user_model()

VERSION_READERS = frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY, Capability.AUDIT})

# Additions run in this order, removals in the reverse one.
KIND_ORDER = ("setting", "protection_exception", "ip_whitelist", "trusted_project", "member", "role", "role_member",
              "package", "package_object", "package_allowance", "package_install", "grant", "policy", "clearance",
              "label", "label_grant")

WHITELIST_FIELDS = {"ip": "ip_whitelist", "vpc": "vpc_whitelist"}


# --- reading versions -------------------------------------------------------------------------

def require_version_reader(user, project: Project) -> None:
    """Versions show every rule of the project: those who manage its members or security, or
    audit it, may read them."""
    if not VERSION_READERS & project_capabilities(user, project):
        raise PermissionDenied(f"Reading the security versions of {project.name} takes the right to manage its "
                               f"members or security, or to audit it.")


def version_list(*, user, project: Project) -> QuerySet[SecurityVersion]:
    require_version_reader(user, project)
    return security_version_list(user=user, project=project).order_by("-number")


def version_get(*, user, project: Project, number: int) -> SecurityVersion:
    """One version (``SecurityVersion.DoesNotExist`` when the project has none of that number)."""
    return version_list(user=user, project=project).get(number=number)


def version_lines(version: SecurityVersion) -> tuple[list[str], list[str]]:
    """What ``version`` changed, as lines: (added, removed)."""
    return fact_lines(version.added), fact_lines(version.removed)


def versions_diff_lines(*, user, project: Project, older: int, newer: int) -> tuple[list[str], list[str]]:
    """What changed from version ``older`` to ``newer``, as lines: (added, removed)."""
    for name, number in (("from", older), ("to", newer)):
        if not version_list(user=user, project=project).filter(number=number).exists():
            raise ValidationError({name: f"{project.name} has no version {number}."})
    added, removed = versions_diff(project, older, newer)
    return fact_lines(added), fact_lines(removed)


# --- rolling back --------------------------------------------------------------------------------

@dataclass
class RollbackResult:
    """``version`` is the version the rollback made (None: nothing to change); ``added`` and
    ``removed`` count the facts applied, by kind; ``skipped`` says which facts could not be
    applied, and why."""

    target: int
    version: SecurityVersion | None = None
    added: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"target": self.target, "version": self.version.number if self.version else None,
                "added": self.added, "removed": self.removed, "skipped": self.skipped}


class _Unappliable(Exception):
    """A fact that names something that is no longer there (or is not the project's)."""


def _identity(fact: dict) -> tuple:
    """What a fact is about, for the facts that give one thing a value: an old value replaces
    the current one in place. Other facts are their own identity."""
    kind = fact["kind"]
    if kind == "setting":
        return kind, fact["name"]
    if kind == "protection_exception":
        return (kind,)
    if kind == "ip_whitelist":
        return kind, fact["scope"], fact["network"]
    if kind == "role":
        return kind, fact["name"]
    if kind == "policy":
        return kind, fact["role"]
    if kind == "clearance":
        return kind, tuple(sorted(fact["subject"].items()))
    if kind == "label":
        return kind, fact["table"], fact["column"]
    if kind == "package_object":
        return kind, fact["package"], fact["object_type"], fact["object"].lower()
    if kind == "package_allowance":
        return kind, fact["package"], fact["project"]
    return kind, fact_key(fact)


class _Applier:
    """Writes facts into the rows of one project; each ``add_<kind>`` / ``remove_<kind>``
    raises ``_Unappliable`` when the fact names something that is gone."""

    def __init__(self, *, project: Project, actor):
        self.project = project
        self.actor = actor
        self.tables_relabelled: set[int] = set()
        self.other_projects_changed: dict[int, Project] = {}

    # -- look-ups --

    def user(self, principal: str):
        username = principal.partition("$")[2].rpartition(":")[2]
        user = User.objects.filter(username=username).select_related("tenant").first()
        if user is None or user.principal_name != principal:
            raise _Unappliable(f"user {principal} no longer exists")
        return user

    def role(self, name: str) -> Role:
        role = Role.objects.filter(project=self.project, name__iexact=name).first()
        if role is None:
            raise _Unappliable(f"role {name} no longer exists")
        return role

    def subject(self, subject: dict) -> dict:
        if subject.get("user"):
            return {"user": self.user(subject["user"]), "role": None}
        return {"user": None, "role": self.role(subject["role"])}

    def table(self, name: str) -> Table:
        table = warehouse_tables(self.project).filter(name=name).first()
        if table is None:
            raise _Unappliable(f"table {name} is gone")
        return table

    @staticmethod
    def columns(table: Table, names: list[str]) -> list[str]:
        live = set(Column.objects.live().filter(table=table, name__in=names).values_list("name", flat=True))
        missing = [name for name in names if name not in live]
        if missing:
            raise _Unappliable(f"{table.name} no longer has column {', '.join(missing)}")
        return names

    def other_project(self, name: str) -> Project:
        other = Project.objects.filter(name=name).first()
        if other is None:
            raise _Unappliable(f"project {name} is gone")
        return other

    def package(self, name: str) -> Package:
        package = Package.objects.filter(project=self.project, name=name).first()
        if package is None:
            raise _Unappliable(f"package {name} is gone")
        return package

    def install(self, full_name: str) -> PackageInstall:
        provider, _, name = full_name.rpartition(".")
        install = (PackageInstall.objects.filter(consumer=self.project, package__project__name=provider,
                                                 package__name=name).select_related("package").first())
        if install is None:
            raise _Unappliable(f"package {full_name} is no longer installed")
        return install

    def security(self) -> ProjectSecurity:
        return ProjectSecurity.objects.select_for_update().get_or_create(project=self.project)[0]

    # -- the project's switches, exception policy, whitelists and trusted projects --

    def add_setting(self, fact: dict) -> None:
        security = self.security()
        setattr(security, FLAG_FIELDS[fact["name"]], fact["value"])
        security.save()

    def remove_setting(self, fact: dict) -> None:
        self.add_setting({**fact, "value": FLAG_DEFAULTS[fact["name"]]})

    def add_protection_exception(self, fact: dict) -> None:
        security = self.security()
        security.protection_exception = fact["document"]
        security.save()

    def remove_protection_exception(self, fact: dict) -> None:
        self.add_protection_exception({**fact, "document": ""})

    def add_ip_whitelist(self, fact: dict) -> None:
        if fact["scope"] != "project":
            raise _Unappliable("the tenant's IP whitelists are the tenant's, not the project's to roll back")
        security = self.security()
        setattr(security, WHITELIST_FIELDS[fact["network"]], list(fact["entries"]))
        security.save()

    def remove_ip_whitelist(self, fact: dict) -> None:
        self.add_ip_whitelist({**fact, "entries": []})

    def add_trusted_project(self, fact: dict) -> None:
        TrustedProject.objects.get_or_create(project=self.project, trusted=self.other_project(fact["project"]),
                                             defaults={"added_by": self.actor})

    def remove_trusted_project(self, fact: dict) -> None:
        TrustedProject.objects.filter(project=self.project, trusted__name=fact["project"]).delete()

    # -- members and roles --

    def add_member(self, fact: dict) -> None:
        user = self.user(fact["principal"])
        membership, created = Membership.objects.get_or_create(project=self.project, user=user,
                                                               defaults={"added_by": self.actor})
        if not created:
            membership.is_active, membership.removed_at = True, None
            membership.save(update_fields=["is_active", "removed_at"])

    def remove_member(self, fact: dict) -> None:
        # Kept, as member_remove keeps it: the user's grants come back if they are added again.
        Membership.objects.filter(project=self.project, user__in=[self.user(fact["principal"])]).update(
            is_active=False, removed_at=timezone.now())

    def add_role(self, fact: dict) -> None:
        if fact["builtin"]:
            raise _Unappliable("built-in roles are never created, dropped or redefined")
        role = Role.objects.filter(project=self.project, name__iexact=fact["name"]).first()
        if role is None:
            Role.objects.create(project=self.project, name=fact["name"], kind=RoleKind.CUSTOM,
                                role_type=fact["type"], privileges=fact["privileges"])
            return
        if role.kind != RoleKind.CUSTOM:
            raise _Unappliable(f"{role.name} is a built-in role now")
        role.role_type, role.privileges = fact["type"], fact["privileges"]
        role.save(update_fields=["role_type", "privileges"])

    def remove_role(self, fact: dict) -> None:
        if fact["builtin"]:
            raise _Unappliable("built-in roles are never created, dropped or redefined")
        Role.objects.filter(project=self.project, name__iexact=fact["name"], kind=RoleKind.CUSTOM).delete()

    def add_role_member(self, fact: dict) -> None:
        RoleAssignment.objects.get_or_create(role=self.role(fact["role"]), user=self.user(fact["principal"]),
                                             defaults={"granted_by": self.actor})

    def remove_role_member(self, fact: dict) -> None:
        RoleAssignment.objects.filter(role__project=self.project, role__name__iexact=fact["role"],
                                      user__in=[self.user(fact["principal"])]).delete()

    # -- packages the project provides, and those it installed --

    def add_package(self, fact: dict) -> None:
        Package.objects.create(project=self.project, name=fact["name"], created_by=self.actor)

    def remove_package(self, fact: dict) -> None:
        package = Package.objects.filter(project=self.project, name=fact["name"]).first()
        if package is None:
            return
        # Its installs (and the consumers' grants on it) go with it, as with drop package.
        for consumer in Project.objects.filter(installed_packages__package=package):
            self.other_projects_changed[consumer.pk] = consumer
        package.delete()

    def add_package_object(self, fact: dict) -> None:
        package = self.package(fact["package"])
        table = self.table(fact["object"]) if fact["object_type"] == "table" else None
        PackageObject.objects.update_or_create(package=package, object_type=fact["object_type"],
                                               object_name__iexact=fact["object"],
                                               defaults={"object_name": fact["object"], "table": table,
                                                         "actions": fact["actions"]})

    def remove_package_object(self, fact: dict) -> None:
        PackageObject.objects.filter(package__project=self.project, package__name=fact["package"],
                                     object_type=fact["object_type"], object_name=fact["object"]).delete()

    def add_package_allowance(self, fact: dict) -> None:
        PackageAllowance.objects.update_or_create(
            package=self.package(fact["package"]), consumer=self.other_project(fact["project"]),
            defaults={"label_limit": fact["label"], "expires_at": time_parse(fact["expires"])})

    def remove_package_allowance(self, fact: dict) -> None:
        PackageAllowance.objects.filter(package__project=self.project, package__name=fact["package"],
                                        consumer__name=fact["project"]).delete()

    def add_package_install(self, fact: dict) -> None:
        provider = self.other_project(fact["provider"])
        package = Package.objects.filter(project=provider, name=fact["package"]).first()
        if package is None:
            raise _Unappliable(f"package {provider.name}.{fact['package']} is gone")
        PackageInstall.objects.get_or_create(package=package, consumer=self.project,
                                             defaults={"installed_by": self.actor})

    def remove_package_install(self, fact: dict) -> None:
        PackageInstall.objects.filter(consumer=self.project, package__project__name=fact["provider"],
                                      package__name=fact["package"]).delete()

    # -- ACL grants and policies --

    def add_grant(self, fact: dict) -> None:
        subject = self.subject(fact["subject"])
        install, table = None, None
        if fact["package"]:
            install = self.install(fact["package"])
            if fact["object_type"] == "table" and fact["object"] != "*":
                item = install.package.objects_in.filter(object_type="table", object_name=fact["object"]).first()
                if item is None or item.table is None or item.table.is_dropped:
                    raise _Unappliable(f"table {fact['object']} is no longer in package {fact['package']}")
                table = item.table
        elif fact["object_type"] == "table" and fact["object"] != "*":
            table = self.table(fact["object"])
        columns = self.columns(table, fact["columns"]) if table is not None and fact["columns"] else fact["columns"]
        Grant.objects.create(project=self.project, object_type=fact["object_type"], object_name=fact["object"],
                             table=table, columns=columns, actions=fact["actions"], condition=fact["condition"],
                             expires_at=time_parse(fact["expires"]), package_install=install, origin=fact["origin"],
                             grantor=self.actor, **subject)

    def remove_grant(self, fact: dict) -> None:
        Grant.objects.filter(project=self.project, pk=fact["id"]).delete()

    def add_policy(self, fact: dict) -> None:
        role = self.role(fact["role"]) if fact["role"] else None
        Policy.objects.update_or_create(project=self.project, role=role,
                                        defaults={"document": fact["document"], "updated_by": self.actor})

    def remove_policy(self, fact: dict) -> None:
        policies = Policy.objects.filter(project=self.project)
        if fact["role"]:
            policies.filter(role__name__iexact=fact["role"]).delete()
        else:
            policies.filter(role__isnull=True).delete()

    # -- LabelSecurity --

    def add_clearance(self, fact: dict) -> None:
        Clearance.objects.update_or_create(project=self.project, **self.subject(fact["subject"]),
                                           defaults={"level": fact["level"]})

    def remove_clearance(self, fact: dict) -> None:
        try:
            subject = self.subject(fact["subject"])
        except _Unappliable:
            return  # the subject went, and its clearance with it
        Clearance.objects.filter(project=self.project, **subject).delete()

    def _label(self, fact: dict, level: int | None) -> None:
        table = self.table(fact["table"])
        if fact["column"] is None:
            if level is None:
                TableLabel.objects.filter(table=table).delete()
            else:
                TableLabel.objects.update_or_create(table=table, defaults={"level": level})
        else:
            self.columns(table, [fact["column"]])
            Column.objects.live().filter(table=table, name=fact["column"]).update(sensitivity_level=level)
            self.tables_relabelled.add(table.pk)

    def add_label(self, fact: dict) -> None:
        self._label(fact, fact["level"])

    def remove_label(self, fact: dict) -> None:
        self._label(fact, None)

    def add_label_grant(self, fact: dict) -> None:
        table = self.table(fact["table"])
        LabelGrant.objects.create(project=self.project, table=table, columns=self.columns(table, fact["columns"]),
                                  level=fact["level"], expires_at=time_parse(fact["expires"]),
                                  granted_by=self.actor, origin=Origin.ROLLBACK, **self.subject(fact["subject"]))

    def remove_label_grant(self, fact: dict) -> None:
        LabelGrant.objects.filter(project=self.project, pk=fact["id"]).delete()


def _versioned_facts(project: Project) -> list[dict]:
    return [fact for fact in security_facts(project) if fact["kind"] not in UNVERSIONED_KINDS]


def _not_rolled_back(kind: str) -> str:
    if kind == "project":
        return "the project itself is not rolled back"
    return hooks.fact_rollback_reasons.get(kind, f"facts of kind {kind} are not rolled back")


def _kind_rank(fact: dict) -> int:
    return KIND_ORDER.index(fact["kind"]) if fact["kind"] in KIND_ORDER else len(KIND_ORDER)


@transaction.atomic
def security_rollback(*, actor, project: Project, number: int, request=None) -> RollbackResult:
    """Bring ``project``'s security state back to what it was at version ``number``; the
    rollback is a new version of its own. Rolling back to the state the project is in
    changes nothing and makes no version."""
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    # Serializes with every other change: each one records its version under this lock.
    state = SecurityState.objects.select_for_update().filter(project=project).first()
    try:
        target = facts_at(project, number)
    except SecurityVersion.DoesNotExist as error:
        raise ValidationError({"number": str(error)}) from None
    current = _versioned_facts(project)
    target_keys = {fact_key(fact) for fact in target}
    current_keys = {fact_key(fact) for fact in current}
    to_add = sorted({fact_key(fact): fact for fact in target if fact_key(fact) not in current_keys}.values(),
                    key=_kind_rank)
    # Every row of a fact goes (identical grants are two rows and one fact).
    to_remove = sorted((fact for fact in current if fact_key(fact) not in target_keys), key=_kind_rank, reverse=True)
    result = RollbackResult(target=number)
    if not to_add and not to_remove:
        return result

    applier = _Applier(project=project, actor=actor)
    replaced = {_identity(fact) for fact in to_add}
    for fact, adding in [(fact, False) for fact in to_remove] + [(fact, True) for fact in to_add]:
        if not adding and _identity(fact) in replaced:
            continue
        counts = result.added if adding else result.removed
        apply = getattr(applier, f"{'add' if adding else 'remove'}_{fact['kind']}", None)
        try:
            if apply is None:
                raise _Unappliable(_not_rolled_back(fact["kind"]))
            apply(fact)
        except _Unappliable as unappliable:
            result.skipped.append(f"{'restore' if adding else 'remove'} {fact_line(fact)}: {unappliable}")
            continue
        counts[fact["kind"]] = counts.get(fact["kind"], 0) + 1

    if applier.tables_relabelled:
        search_documents_refresh(tables=applier.tables_relabelled)
    if result.added or result.removed:
        summary = f"rollback to version {number}"
        security_version_bump(project, actor=actor, summary=summary)
        for other in applier.other_projects_changed.values():
            security_version_bump(other, actor=actor, summary=f"{summary} of {project.name}")
        result.version = SecurityVersion.objects.filter(project=project, number__gt=state.version).first()
    audit.record(actor, "permissions.rollback", project, project=project, request=request, details={
        "target_version": number, "version": result.version.number if result.version else None,
        "added": result.added, "removed": result.removed, "skipped": result.skipped[:200],
    })
    return result
