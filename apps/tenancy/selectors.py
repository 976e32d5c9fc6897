from django.db.models import QuerySet

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


def project_capabilities(user, project: Project) -> frozenset[str]:
    """What ``user`` may do with ``project`` in the portal (see apps.tenancy.roles)."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser and user.tenant_id is None:
        return ALL_CAPABILITIES
    if project.owner_id == user.pk:
        return ALL_CAPABILITIES
    capabilities: set[str] = set()
    if user.tenant_id == project.tenant_id:
        tenant_roles = tenant_roles_of(user)
        if user.is_primary:
            return ALL_CAPABILITIES
        if TenantRoleName.SUPER_ADMINISTRATOR in tenant_roles:
            capabilities |= ALL_CAPABILITIES - {Capability.ASSIGN_ADMIN_ROLES}
        elif TenantRoleName.ADMIN in tenant_roles:
            capabilities |= ADMIN_CAPABILITIES
    if Membership.objects.filter(project=project, user=user, is_active=True).exists():
        capabilities.add(Capability.VIEW)
        for role_name in RoleAssignment.objects.filter(role__project=project, user=user).values_list(
            "role__name", flat=True
        ):
            capabilities |= ROLE_CAPABILITIES.get(role_name, frozenset())
    return frozenset(capabilities)


def project_list(*, user) -> QuerySet[Project]:
    return Project.objects.restrict(user).select_related("tenant", "owner", "prod_project")


def project_get(*, user, name: str) -> Project:
    """The project named ``name`` if ``user`` may see it; Project.DoesNotExist otherwise, so
    another tenant's project looks exactly like a missing one."""
    return project_list(user=user).get(name=name)


def member_list(*, user, project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.restrict(user)
        .filter(project=project)
        .select_related("user", "added_by")
        .order_by("user__username")
    )


def role_list(*, user, project: Project) -> QuerySet[Role]:
    return Role.objects.restrict(user).filter(project=project).prefetch_related("assignments__user")


def workspace_role_get(*, project: Project, workspace_role: str) -> Role:
    return Role.objects.get(project=project, name=workspace_role, kind=RoleKind.WORKSPACE)
