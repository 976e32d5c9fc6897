"""Reads of tenants, accounts, projects, members and roles. Every read of tenant data goes
through ``.restrict(user, ...)``, so another tenant's objects look exactly like missing ones,
and every list makes a constant number of queries."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.http import Http404
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, QuerySet
from guardian.models import UserObjectPermission

from apps.tenancy.models import (
    Membership,
    Project,
    Role,
    RoleAssignment,
    RoleKind,
    TenantRoleAssignment,
    TenantRoleName,
)
from apps.tenancy.roles import ADMIN_CAPABILITIES, ALL_CAPABILITIES, ROLE_CAPABILITIES, Capability

User = get_user_model()


# --- tenant roles and capabilities -------------------------------------------------------

def tenant_roles_of(user) -> set[str]:
    """The tenant roles a user holds; a tenant's primary account holds Super_Administrator."""
    if not user.is_authenticated or user.tenant_id is None:
        return set()
    roles = set(
        TenantRoleAssignment.objects.filter(tenant_id=user.tenant_id, user=user).values_list("role", flat=True)
    )
    if user.is_primary:
        roles.add(TenantRoleName.SUPER_ADMINISTRATOR)
    return roles


def is_tenant_admin(user) -> bool:
    return bool(tenant_roles_of(user))


def _capabilities(user, project: Project, *, tenant_roles: set[str], is_member: bool,
                  project_roles: Iterable[str]) -> frozenset[str]:
    if user.is_superuser and user.tenant_id is None:
        return ALL_CAPABILITIES
    # The project owner and the tenant's primary account (the Alibaba Cloud account of
    # MaxCompute) may do everything, and alone assign Super_Administrator and Admin.
    if project.owner_id == user.pk or (user.is_primary and user.tenant_id == project.tenant_id):
        return ALL_CAPABILITIES
    capabilities: set[str] = set()
    if user.tenant_id == project.tenant_id:
        if TenantRoleName.SUPER_ADMINISTRATOR in tenant_roles:
            capabilities |= ROLE_CAPABILITIES["super_administrator"]
        elif TenantRoleName.ADMIN in tenant_roles:
            capabilities |= ADMIN_CAPABILITIES
    if is_member:
        capabilities.add(Capability.VIEW)
        for role_name in project_roles:
            capabilities |= ROLE_CAPABILITIES.get(role_name, frozenset())
    return frozenset(capabilities)


def project_capabilities(user, project: Project) -> frozenset[str]:
    """What ``user`` may do with ``project`` in the portal (see apps.tenancy.roles)."""
    return project_capabilities_map(user, [project])[project.pk]


def project_capabilities_map(user, projects: Iterable[Project]) -> dict[int, frozenset[str]]:
    """``project_capabilities`` for many projects in three queries, for lists."""
    projects = list(projects)
    if not user.is_authenticated:
        return {project.pk: frozenset() for project in projects}
    ids = [project.pk for project in projects]
    tenant_roles = tenant_roles_of(user)
    member_of = set(
        Membership.objects.filter(user=user, is_active=True, project_id__in=ids).values_list("project_id", flat=True)
    )
    audited = _audit_permission_project_ids(user, ids)
    roles_by_project: dict[int, list[str]] = {}
    for project_id, role_name in RoleAssignment.objects.filter(user=user, role__project_id__in=ids).values_list(
        "role__project_id", "role__name"
    ):
        roles_by_project.setdefault(project_id, []).append(role_name)
    return {
        project.pk: _capabilities(
            user, project, tenant_roles=tenant_roles, is_member=project.pk in member_of,
            project_roles=roles_by_project.get(project.pk, ()),
        ) | ({Capability.AUDIT} if project.pk in audited and project.pk in member_of else frozenset())
        for project in projects
    }


def _audit_permission_project_ids(user, project_ids: list[int]) -> set[int]:
    """The projects among ``project_ids`` on which ``user`` holds the portal's object
    permission ``audit_project`` (django-guardian), one query for all of them."""
    rows = UserObjectPermission.objects.filter(
        user=user, permission__codename="audit_project",
        content_type=ContentType.objects.get_for_model(Project), object_pk__in=[str(pk) for pk in project_ids],
    ).values_list("object_pk", flat=True)
    return {int(pk) for pk in rows}


# --- accounts ----------------------------------------------------------------------------

def user_list(*, user, filters: dict | None = None) -> QuerySet:
    """The accounts of the caller's tenant, with their tenant roles."""
    queryset = (
        User.objects.restrict(user)
        .select_related("tenant")
        .prefetch_related(Prefetch("tenant_roles", queryset=TenantRoleAssignment.objects.order_by("role")))
        .order_by("username")
    )
    filters = filters or {}
    if filters.get("username"):
        queryset = queryset.filter(username__icontains=filters["username"])
    if filters.get("is_active") is not None:
        queryset = queryset.filter(is_active=filters["is_active"])
    return queryset


def user_get(*, user, username: str):
    """An account of the caller's tenant; User.DoesNotExist otherwise."""
    return user_list(user=user).get(username=username)


def member_candidate_get(*, project: Project, username: str):
    """An account that may be named when adding a member to ``project`` or assigning a
    project role: one of the project's tenant, or another tenant's primary account.
    User.DoesNotExist for anyone else, so other tenants' sub-accounts stay invisible."""
    return User.objects.select_related("tenant").get(
        Q(tenant_id=project.tenant_id) | Q(is_primary=True), username=(username or "").strip()
    )


def tenant_role_list(*, user) -> QuerySet[TenantRoleAssignment]:
    return (
        TenantRoleAssignment.objects.restrict(user)
        .select_related("user", "granted_by")
        .order_by("user__username", "role")
    )


# --- projects ----------------------------------------------------------------------------

def project_list(*, user) -> QuerySet[Project]:
    return Project.objects.restrict(user).select_related("tenant", "owner", "prod_project", "dev_project")


def project_get(*, user, name: str) -> Project:
    """The project named ``name`` if ``user`` may see it; Project.DoesNotExist otherwise, so
    another tenant's project looks exactly like a missing one."""
    return project_list(user=user).get(name=name)


def project_or_404(*, user, name: str) -> Project:
    """``project_get`` for pages and API views: Http404 where the project is not to be seen."""
    try:
        return project_get(user=user, name=name)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def member_list(*, user, project: Project, include_removed: bool = False) -> QuerySet[Membership]:
    """The project's members, each with the project roles they hold (``user.project_roles``)."""
    queryset = Membership.objects.restrict(user).filter(project=project)
    if not include_removed:
        queryset = queryset.filter(is_active=True)
    held = RoleAssignment.objects.filter(role__project=project).select_related("role").order_by("role__name")
    return (
        queryset.select_related("user", "user__tenant", "added_by")
        .prefetch_related(Prefetch("user__role_assignments", queryset=held, to_attr="project_roles"))
        .order_by("user__username")
    )


def membership_get(*, user, project: Project, username: str) -> Membership:
    return member_list(user=user, project=project).get(user__username=username)


def role_list(*, user, project: Project) -> QuerySet[Role]:
    """The project's roles with their holders (``role.assignments``, users selected)."""
    holders = RoleAssignment.objects.select_related("user").order_by("user__username")
    return (
        Role.objects.restrict(user)
        .filter(project=project)
        .prefetch_related(Prefetch("assignments", queryset=holders))
        .order_by("kind", "name")
    )


def role_get(*, user, project: Project, name: str) -> Role:
    return role_list(user=user, project=project).get(name=name)


def role_assignment_get(*, user, role: Role, username: str) -> RoleAssignment:
    return (
        RoleAssignment.objects.restrict(user)
        .select_related("role", "role__project", "user")
        .get(role=role, user__username=username)
    )


def workspace_role_get(*, project: Project, workspace_role: str) -> Role:
    return Role.objects.get(project=project, name=workspace_role, kind=RoleKind.WORKSPACE)
