"""Reads of the security model. ``security_facts`` is the one description of a project's
security state (``apps.permissions.facts``) that the engine, the versions and the impact
preview share."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, QuerySet
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_users_with_perms

from apps.catalog.models import Column, DataSourceKind, Table
from apps.permissions import hooks
from apps.permissions.facts import FLAG_DEFAULTS, time_text
from apps.permissions.models import (
    Clearance,
    Grant,
    LabelGrant,
    Package,
    PackageAllowance,
    PackageInstall,
    PackageObject,
    Policy,
    ProjectSecurity,
    SecurityVersion,
    TableLabel,
    TenantSecurity,
    TrustedProject,
)
from apps.tenancy.models import Membership, Project, Role, RoleAssignment

User = get_user_model()

FLAG_FIELDS = {
    "CheckPermissionUsingACL": "check_permission_using_acl",
    "CheckPermissionUsingPolicy": "check_permission_using_policy",
    "ObjectCreatorHasAccessPermission": "object_creator_has_access_permission",
    "ObjectCreatorHasGrantPermission": "object_creator_has_grant_permission",
    "LabelSecurity": "label_security",
    "NoWriteDown": "no_write_down",
    "ProjectProtection": "project_protection",
}


def project_security(project: Project) -> ProjectSecurity:
    """The project's switches; an unsaved row with the defaults when none were ever set."""
    return ProjectSecurity.objects.filter(project=project).first() or ProjectSecurity(project=project)


def tenant_security(tenant_id: int) -> TenantSecurity:
    return TenantSecurity.objects.filter(tenant_id=tenant_id).first() or TenantSecurity(tenant_id=tenant_id)


def warehouse_tables(project: Project) -> QuerySet[Table]:
    """The live tables of the project's warehouse schema: the objects the model governs
    (external data sources are only harvested and scanned, never queried through Warden)."""
    return Table.objects.live().filter(data_source__project=project, data_source__kind=DataSourceKind.WAREHOUSE,
                                       schema=project.schema_name)


def _subject(row) -> dict:
    return {"user": row.user.principal_name} if row.user_id else {"role": row.role.name.lower()}


def _lowercase(columns) -> list[str]:
    # Facts name columns in lowercase, as requests do (identifiers compare case-insensitively).
    return sorted(column.lower() for column in columns)


def _principal_names(user_ids) -> dict[int, str]:
    users = User.objects.filter(pk__in=[pk for pk in user_ids if pk]).select_related("tenant")
    return {user.pk: user.principal_name for user in users}


def security_facts(project: Project) -> list[dict]:
    """Every fact of ``project``'s security state, in a stable order: the permissions app's
    own, then those of the higher apps' ``hooks.security_fact_providers``."""
    facts: list[dict] = [{"kind": "project", "name": project.name, "tenant": project.tenant.name,
                          "owner": project.owner.principal_name, "environment": project.environment}]
    security = project_security(project)
    for name, field in FLAG_FIELDS.items():
        facts.append({"kind": "setting", "name": name, "value": getattr(security, field)})
    if security.protection_exception:
        facts.append({"kind": "protection_exception", "document": security.protection_exception})
    tenant = tenant_security(project.tenant_id)
    for scope, holder in (("tenant", tenant), ("project", security)):
        for network, entries in (("ip", holder.ip_whitelist), ("vpc", holder.vpc_whitelist)):
            if entries:
                facts.append({"kind": "ip_whitelist", "scope": scope, "network": network, "entries": list(entries)})
    for name in TrustedProject.objects.filter(project=project).values_list("trusted__name", flat=True).order_by(
            "trusted__name"):
        facts.append({"kind": "trusted_project", "project": name})

    for membership in (Membership.objects.filter(project=project, is_active=True).exclude(user=project.owner)
                       .select_related("user__tenant").order_by("user__username")):
        facts.append({"kind": "member", "principal": membership.user.principal_name})
    for role in Role.objects.filter(project=project).order_by("name"):
        facts.append({"kind": "role", "name": role.name.lower(), "type": role.role_type,
                      "builtin": role.kind != "custom", "privileges": role.privileges})
    for assignment in (RoleAssignment.objects.filter(role__project=project).select_related("role", "user__tenant")
                       .order_by("role__name", "user__username")):
        facts.append({"kind": "role_member", "role": assignment.role.name.lower(),
                      "principal": assignment.user.principal_name})

    # Plain rows rather than model objects: a project may hold 100,000 columns and 10,000
    # grants, and every change reads them all again (versions).
    tables = list(warehouse_tables(project).order_by("name").values_list("pk", "name", "owner_id"))
    table_ids = [pk for pk, _, _ in tables]
    columns_of: dict[int, list[tuple[str, int | None]]] = {pk: [] for pk in table_ids}
    for table_id, name, level in (Column.objects.live().filter(table_id__in=table_ids)
                                  .order_by("table_id", "ordinal", "name")
                                  .values_list("table_id", "name", "sensitivity_level")):
        columns_of[table_id].append((name.lower(), level))
    table_labels = dict(TableLabel.objects.filter(table_id__in=table_ids).values_list("table_id", "level"))
    grants = list(Grant.objects.filter(project=project).order_by("pk").values_list(
        "pk", "user_id", "role__name", "object_type", "object_name", "columns", "actions", "expires_at", "condition",
        "origin", "package_install__package__project__name", "package_install__package__name"))
    label_grants = list(LabelGrant.objects.filter(project=project, table__is_dropped=False).order_by("pk").values_list(
        "pk", "user_id", "role__name", "table__name", "columns", "level", "expires_at"))
    principals = _principal_names({owner for _, _, owner in tables} | {row[1] for row in grants}
                                  | {row[1] for row in label_grants})

    def subject(user_id, role_name) -> dict:
        return {"user": principals[user_id]} if user_id else {"role": role_name.lower()}

    for pk, name, owner_id in tables:
        facts.append({"kind": "object", "object_type": "table", "name": name,
                      "columns": [column for column, _ in columns_of[pk]],
                      "creator": principals[owner_id] if owner_id else None})
        if pk in table_labels:
            facts.append({"kind": "label", "table": name, "column": None, "level": table_labels[pk]})
        for column, level in columns_of[pk]:
            if level is not None:
                facts.append({"kind": "label", "table": name, "column": column, "level": level})

    for (pk, user_id, role_name, object_type, object_name, columns, actions, expires_at, condition, origin,
         provider, package) in grants:
        facts.append({
            "kind": "grant", "id": pk, "subject": subject(user_id, role_name), "object_type": object_type,
            "object": object_name, "columns": _lowercase(columns), "actions": sorted(actions),
            "expires": time_text(expires_at), "condition": condition, "origin": origin,
            "package": f"{provider}.{package}" if package else None,
        })
    for policy in Policy.objects.filter(project=project).select_related("role").order_by("role__name"):
        facts.append({"kind": "policy", "role": policy.role.name.lower() if policy.role_id else None,
                      "document": policy.document})
    for clearance in Clearance.objects.filter(project=project).select_related("user__tenant", "role").order_by("pk"):
        facts.append({"kind": "clearance", "subject": _subject(clearance), "level": clearance.level})
    for pk, user_id, role_name, table_name, columns, level, expires_at in label_grants:
        facts.append({"kind": "label_grant", "id": pk, "subject": subject(user_id, role_name), "table": table_name,
                      "columns": _lowercase(columns), "level": level, "expires": time_text(expires_at)})

    for package in Package.objects.filter(project=project).order_by("name"):
        facts.append({"kind": "package", "name": package.name})
    for item in PackageObject.objects.filter(package__project=project).select_related("package").order_by(
            "package__name", "object_type", "object_name"):
        facts.append({"kind": "package_object", "package": item.package.name, "object_type": item.object_type,
                      "object": item.object_name, "actions": sorted(item.actions)})
    for allowance in PackageAllowance.objects.filter(package__project=project).select_related(
            "package", "consumer").order_by("package__name", "consumer__name"):
        facts.append({"kind": "package_allowance", "package": allowance.package.name,
                      "project": allowance.consumer.name, "label": allowance.label_limit,
                      "expires": time_text(allowance.expires_at)})
    for install in PackageInstall.objects.filter(consumer=project).select_related("package__project").order_by(
            "package__project__name", "package__name"):
        facts.append({"kind": "package_install", "provider": install.package.project.name,
                      "package": install.package.name})
    for provider in list(hooks.security_fact_providers):
        facts.extend(provider(project))
    return facts


def security_version_list(*, user, project: Project) -> QuerySet[SecurityVersion]:
    return SecurityVersion.objects.restrict(user).filter(project=project).select_related("actor")


def grant_list(*, user, project: Project, subject_user=None, subject_role: Role | None = None,
               object_type: str | None = None, object_name: str | None = None) -> QuerySet[Grant]:
    """The project's ACL grants that ``user`` may see, by subject and/or object (names are
    matched case-insensitively; a table's grants on ``*`` are not the table's own)."""
    queryset = Grant.objects.restrict(user).filter(project=project)
    if subject_user is not None:
        queryset = queryset.filter(user=subject_user)
    if subject_role is not None:
        queryset = queryset.filter(role=subject_role)
    if object_type is not None:
        queryset = queryset.filter(object_type=object_type)
    if object_name is not None:
        queryset = queryset.filter(object_name__iexact=object_name)
    return queryset.select_related("user__tenant", "role", "grantor", "package_install__package__project").order_by(
        "object_type", "object_name", "pk")


def label_grant_list(*, user, project: Project, subject_user=None, subject_role: Role | None = None,
                     table: Table | None = None) -> QuerySet[LabelGrant]:
    queryset = LabelGrant.objects.restrict(user).filter(project=project, table__is_dropped=False)
    if subject_user is not None:
        queryset = queryset.filter(user=subject_user)
    if subject_role is not None:
        queryset = queryset.filter(role=subject_role)
    if table is not None:
        queryset = queryset.filter(table=table)
    return queryset.select_related("user__tenant", "role", "table", "granted_by").order_by("table__name", "pk")


def package_list(*, user, project: Project) -> QuerySet[Package]:
    """The packages ``project`` provides, each with its objects, allowances and installs."""
    return (Package.objects.restrict(user).filter(project=project)
            .prefetch_related(Prefetch("objects_in", queryset=PackageObject.objects.order_by("object_type",
                                                                                             "object_name")),
                              Prefetch("allowances", queryset=PackageAllowance.objects.select_related("consumer")
                                       .order_by("consumer__name")),
                              Prefetch("installs", queryset=PackageInstall.objects.select_related("consumer")
                                       .order_by("consumer__name")))
            .order_by("name"))


def package_install_list(*, user, project: Project) -> QuerySet[PackageInstall]:
    """The packages installed in ``project``."""
    return (PackageInstall.objects.restrict(user).filter(consumer=project)
            .select_related("package__project", "installed_by").order_by("package__project__name", "package__name"))


def portal_permission_list(*, project: Project) -> list[dict]:
    """Who holds the portal's object permissions in ``project``: ``audit_project`` on the
    project and ``approve_access`` on its tables, as ``{"permission", "user", "table"}``."""
    holders = []
    project_type, table_type = ContentType.objects.get_for_model(Project), ContentType.objects.get_for_model(Table)
    for row in (UserObjectPermission.objects.filter(content_type=project_type, object_pk=str(project.pk),
                                                    permission__codename="audit_project")
                .select_related("user__tenant").order_by("user__username")):
        holders.append({"permission": "audit_project", "user": row.user, "table": None})
    tables = dict(warehouse_tables(project).values_list("pk", "name"))
    for row in (UserObjectPermission.objects.filter(content_type=table_type, permission__codename="approve_access",
                                                    object_pk__in=[str(pk) for pk in tables])
                .select_related("user__tenant").order_by("user__username")):
        holders.append({"permission": "approve_access", "user": row.user, "table": tables[int(row.object_pk)]})
    return holders


def table_approvers(table: Table) -> QuerySet:
    """The users who hold ``approve_access`` on ``table`` (the approvals work adds the
    table's owner and the project's admins)."""
    return get_users_with_perms(table, only_with_perms_in=["approve_access"], with_group_users=False)


def clearances_of(*, project: Project, users) -> dict[int, int]:
    """Each user's LabelSecurity clearance in ``project``: the highest of their own and of
    the roles they hold (absent: 0), as the engine computes it."""
    user_ids = [user.pk for user in users]
    levels = dict(Clearance.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "level"))
    role_levels = dict(Clearance.objects.filter(project=project, role__isnull=False).values_list("role_id", "level"))
    for user_id, role_id in RoleAssignment.objects.filter(role__project=project, user_id__in=user_ids,
                                                          role_id__in=list(role_levels)).values_list("user_id",
                                                                                                     "role_id"):
        levels[user_id] = max(levels.get(user_id, 0), role_levels[role_id])
    return {user_id: levels.get(user_id, 0) for user_id in user_ids}
