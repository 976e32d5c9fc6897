"""Every change to tenants, accounts, projects, members and roles: atomic, validated,
permission-checked and audited in the same transaction."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from apps import audit
from apps.tenancy import hooks
from apps.tenancy.models import (
    Environment,
    Membership,
    Project,
    Role,
    RoleAssignment,
    RoleKind,
    RoleType,
    Tenant,
    TenantRoleAssignment,
    TenantRoleName,
    validate_identifier,
)
from apps.tenancy.roles import (
    ADMIN,
    ADMIN_ROLE_NAMES,
    BUILTIN_ROLE_PRIVILEGES,
    ROLE_CAPABILITIES,
    SUPER_ADMINISTRATOR,
    Capability,
    WorkspaceRole,
    workspace_role_privileges,
)
from apps.tenancy.selectors import project_capabilities, tenant_roles_of

User = get_user_model()

# /projects/new/ and /projects/switch/ are pages, so no project may take those names.
PROJECT_NAMES_USED_BY_PAGES = frozenset({"new", "switch"})


def require_capability(user, project: Project, capability: str) -> None:
    if capability not in project_capabilities(user, project):
        raise PermissionDenied(f"You may not {Capability(capability).label.lower()} in project {project.name}.")


@transaction.atomic
def security_version_bump(project: Project, *, actor=None, summary: str = "") -> None:
    """Call inside the transaction of any change to who may do what in ``project``, after
    the change is written: compiled snapshots of the old state stop being used, and the
    ``on_security_changed`` hooks record the new version (who, and in a line what)."""
    Project.objects.filter(pk=project.pk).update(security_version=F("security_version") + 1)
    project.refresh_from_db(fields=["security_version"])
    hooks.security_changed(project=project, actor=actor, summary=summary)


def _validate_new_password(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error


def _new_account(*, username: str, email: str, password: str, tenant_id: int | None, is_primary: bool) -> User:
    """A validated, unsaved account (username format and uniqueness, e-mail, password
    policy); the caller sets the password, so it is hashed once."""
    user = User(username=(username or "").strip(), email=(email or "").strip(), tenant_id=tenant_id,
                is_primary=is_primary)
    try:
        user.full_clean(exclude=["password", "tenant"], validate_constraints=False)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from error
    _validate_new_password(password, user)
    return user


def _tenant_rank(roles: set[str]) -> int:
    if TenantRoleName.SUPER_ADMINISTRATOR in roles:
        return 2
    return 1 if TenantRoleName.ADMIN in roles else 0


# --- tenants and accounts ----------------------------------------------------------------

@transaction.atomic
def tenant_signup(*, tenant_name: str, username: str, password: str, email: str = "", request=None) -> User:
    """A new primary account and the tenant it owns."""
    tenant_name = (tenant_name or "").strip()
    try:
        validate_identifier(tenant_name)
    except ValidationError as error:
        raise ValidationError({"tenant_name": error.messages}) from error
    if Tenant.objects.filter(name=tenant_name).exists():
        raise ValidationError({"tenant_name": f"A tenant named '{tenant_name}' already exists."})
    # Validate the account before the tenant exists, so bad input leaves nothing behind.
    user = _new_account(username=username, email=email, password=password, tenant_id=None, is_primary=True)
    user.tenant = Tenant.objects.create(name=tenant_name)
    user.set_password(password)
    user.save()
    audit.record(user, "tenant.signup", user.tenant, request=request, details={"username": user.username})
    return user


@transaction.atomic
def subaccount_create(*, actor, username: str, password: str, email: str = "", request=None) -> User:
    """A sub-account of the actor's tenant (POST /api/v1/users)."""
    if not tenant_roles_of(actor):
        raise PermissionDenied("Only the tenant's owner and administrators create sub-accounts.")
    user = _new_account(username=username, email=email, password=password, tenant_id=actor.tenant_id,
                        is_primary=False)
    user.set_password(password)
    user.save()
    audit.record(actor, "user.create", user, request=request, details={"username": user.username})
    return user


@transaction.atomic
def subaccount_set_active(*, actor, user, is_active: bool, request=None) -> User:
    actor_roles = tenant_roles_of(actor)
    if not actor_roles:
        raise PermissionDenied("Only the tenant's owner and administrators enable or disable accounts.")
    if user.tenant_id != actor.tenant_id:
        raise ValidationError({"user": "No such account in your tenant."})
    if user.is_primary:
        raise ValidationError({"is_active": "The tenant's primary account cannot be disabled."})
    if user.pk == actor.pk:
        raise ValidationError({"is_active": "You cannot disable your own account."})
    # An administrator cannot lock out an administrator of equal or higher rank.
    if not actor.is_primary and _tenant_rank(tenant_roles_of(user)) >= _tenant_rank(actor_roles):
        raise PermissionDenied("Only the tenant owner enables or disables accounts of equal or higher rank than yours.")
    if user.is_active == is_active:
        return user
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    audit.record(actor, "user.enable" if is_active else "user.disable", user, request=request)
    return user


@transaction.atomic
def tenant_role_assign(*, actor, user, role: str, request=None) -> TenantRoleAssignment:
    actor_roles = tenant_roles_of(actor)
    if role not in TenantRoleName.values:
        raise ValidationError({"role": f"Unknown tenant role '{role}'."})
    if user.tenant_id != actor.tenant_id or actor.tenant_id is None:
        raise ValidationError({"user": "No such account in your tenant."})
    may_assign = actor.is_primary or (
        role == TenantRoleName.ADMIN and TenantRoleName.SUPER_ADMINISTRATOR in actor_roles
    )
    if not may_assign:
        raise PermissionDenied("Only the tenant owner assigns Super_Administrator; Super_Administrators assign Admin.")
    if user.is_primary:
        raise ValidationError({"user": "The primary account already holds every tenant permission."})
    assignment, created = TenantRoleAssignment.objects.get_or_create(
        tenant_id=actor.tenant_id, user=user, role=role, defaults={"granted_by": actor}
    )
    if not created:
        raise ValidationError({"role": f"{user.username} already holds {TenantRoleName(role).label}."})
    audit.record(actor, "tenant_role.assign", user, request=request, details={"role": role})
    return assignment


@transaction.atomic
def tenant_role_unassign(*, actor, assignment: TenantRoleAssignment, request=None) -> None:
    if assignment.tenant_id != actor.tenant_id:
        raise ValidationError({"role": "No such tenant role assignment in your tenant."})
    may_unassign = actor.is_primary or (
        assignment.role == TenantRoleName.ADMIN and TenantRoleName.SUPER_ADMINISTRATOR in tenant_roles_of(actor)
    )
    if not may_unassign:
        raise PermissionDenied("Only the tenant owner removes Super_Administrator; Super_Administrators remove Admin.")
    audit.record(actor, "tenant_role.unassign", assignment.user, request=request, details={"role": assignment.role})
    assignment.delete()


# --- projects ----------------------------------------------------------------------------

def _create_schema(name: str) -> None:
    # The name passed validate_identifier (lowercase letters, digits, '_'), so quoting is safe.
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')


def _create_builtin_roles(project: Project) -> None:
    roles = [
        Role(project=project, name=name, kind=RoleKind.BUILTIN, role_type=RoleType.ADMIN,
             privileges=BUILTIN_ROLE_PRIVILEGES[name],
             description="Every object and management permission" if name == SUPER_ADMINISTRATOR
             else "Every object permission and basic management")
        for name in (SUPER_ADMINISTRATOR, ADMIN)
    ]
    roles += [
        Role(project=project, name=role.value, kind=RoleKind.WORKSPACE,
             role_type=RoleType.ADMIN if role == WorkspaceRole.ADMINISTRATOR else RoleType.RESOURCE,
             privileges=workspace_role_privileges(role.value, project.environment), description=role.label)
        for role in WorkspaceRole
    ]
    Role.objects.bulk_create(roles)


@transaction.atomic
def project_create(*, actor, name: str, environment: str = Environment.PROD, description: str = "",
                   prod_project: Project | None = None, request=None) -> Project:
    """A project, its warehouse schema, its built-in roles, and its creator as owner and member.

    The schema is created before the project row commits; if anything after it fails the
    project rolls back and the empty schema is reused by the next attempt of that name.
    """
    if not tenant_roles_of(actor):
        raise PermissionDenied("Only the tenant's owner and administrators create projects.")
    name = (name or "").strip()
    if environment not in Environment.values:
        raise ValidationError({"environment": f"Choose one of: {', '.join(Environment.values)}."})
    if prod_project is not None and prod_project.tenant_id != actor.tenant_id:
        raise ValidationError({"prod_project": "The paired project must belong to your tenant."})
    if prod_project is not None and environment != Environment.DEV:
        raise ValidationError({"prod_project": "Only a dev project can be paired with a prod project."})
    if prod_project is not None and prod_project.environment != Environment.PROD:
        raise ValidationError({"prod_project": f"{prod_project.name} is not a prod project."})
    if prod_project is not None and Project.objects.filter(prod_project=prod_project).exists():
        raise ValidationError({"prod_project": f"{prod_project.name} is already paired with a dev project."})
    if name in PROJECT_NAMES_USED_BY_PAGES:
        raise ValidationError({"name": f"'{name}' is reserved."})
    if Project.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A project named '{name}' already exists."})
    project = Project(
        tenant_id=actor.tenant_id, name=name, environment=environment, description=description,
        prod_project=prod_project, owner=actor,
    )
    project.full_clean()
    project.save()
    _create_builtin_roles(project)
    Membership.objects.create(project=project, user=actor, added_by=actor)
    _create_schema(project.schema_name)
    security_version_bump(project, actor=actor, summary=f"create project {project.name}")
    audit.record(actor, "project.create", project, project=project, request=request,
                 details={"environment": environment, "prod_project": prod_project.name if prod_project else None})
    return project


@transaction.atomic
def project_update(*, actor, project: Project, description: str | None = None, request=None) -> Project:
    require_capability(actor, project, Capability.MANAGE_MEMBERS)
    changes = {}
    if description is not None and description != project.description:
        changes["description"] = {"from": project.description, "to": description}
        project.description = description
    if changes:
        project.save(update_fields=["description"])
        audit.record(actor, "project.update", project, project=project, request=request, details=changes)
    return project


# --- members -----------------------------------------------------------------------------

@transaction.atomic
def member_add(*, actor, project: Project, user, request=None) -> Membership:
    """Add a user of the project's tenant, or another tenant's primary account.

    Adding back a removed member reactivates the old membership, so every grant the user
    held comes back, as MaxCompute's add user does.
    """
    require_capability(actor, project, Capability.MANAGE_MEMBERS)
    if user.tenant_id != project.tenant_id and not user.is_primary:
        raise ValidationError(
            {"user": "Only accounts of this tenant and other tenants' primary accounts can be added."}
        )
    if not user.is_active:
        raise ValidationError({"user": f"{user.username} is disabled."})
    membership, created = Membership.objects.get_or_create(project=project, user=user, defaults={"added_by": actor})
    if not created:
        if membership.is_active:
            raise ValidationError({"user": f"{user.username} is already a member of {project.name}."})
        membership.is_active = True
        membership.removed_at = None
        membership.added_by = actor
        membership.save(update_fields=["is_active", "removed_at", "added_by"])
    security_version_bump(project, actor=actor, summary=f"add user {user.principal_name}")
    audit.record(actor, "member.add", user, project=project, request=request,
                 details={"readded": not created})
    return membership


@transaction.atomic
def member_remove(*, actor, membership: Membership, request=None) -> Membership:
    project = membership.project
    require_capability(actor, project, Capability.MANAGE_MEMBERS)
    if not membership.is_active:
        raise ValidationError({"user": f"{membership.user.username} is not a member of {project.name}."})
    if membership.user_id == project.owner_id:
        raise ValidationError({"user": "The project owner cannot be removed."})
    held = list(
        RoleAssignment.objects.filter(role__project=project, user=membership.user).values_list("role__name", flat=True)
    )
    if held:
        raise ValidationError(
            {"user": f"{membership.user.username} still holds roles ({', '.join(sorted(held))}); revoke them first."}
        )
    membership.is_active = False
    membership.removed_at = timezone.now()
    membership.save(update_fields=["is_active", "removed_at"])
    security_version_bump(project, actor=actor, summary=f"remove user {membership.user.principal_name}")
    audit.record(actor, "member.remove", membership.user, project=project, request=request)
    return membership


# --- roles -------------------------------------------------------------------------------

@transaction.atomic
def role_create(*, actor, project: Project, name: str, role_type: str = RoleType.RESOURCE,
                description: str = "", request=None) -> Role:
    require_capability(actor, project, Capability.MANAGE_ROLES)
    name = (name or "").strip()
    try:
        validate_identifier(name)
    except ValidationError as error:
        raise ValidationError({"name": error.messages}) from error
    if role_type not in RoleType.values:
        raise ValidationError({"role_type": f"Choose one of: {', '.join(RoleType.values)}."})
    if Role.objects.filter(project=project, name__iexact=name).exists():
        raise ValidationError({"name": f"A role named '{name}' already exists in {project.name}."})
    role = Role(project=project, name=name, kind=RoleKind.CUSTOM, role_type=role_type,
                description=(description or "").strip())
    role.full_clean(exclude=["project"], validate_constraints=False)
    role.save()
    security_version_bump(project, actor=actor, summary=f"create role {role.name}")
    audit.record(actor, "role.create", role, project=project, request=request, details={"role_type": role_type})
    return role


@transaction.atomic
def role_drop(*, actor, role: Role, request=None) -> None:
    project = role.project
    require_capability(actor, project, Capability.MANAGE_ROLES)
    if role.kind != RoleKind.CUSTOM:
        raise ValidationError({"name": f"{role.name} is built in and cannot be dropped."})
    holders = list(role.assignments.values_list("user__username", flat=True))
    if holders:
        raise ValidationError(
            {"name": f"{role.name} is still assigned to {', '.join(sorted(holders))}; revoke it first."}
        )
    audit.record(actor, "role.drop", role, project=project, request=request)
    role.delete()
    security_version_bump(project, actor=actor, summary=f"drop role {role.name}")


def _require_may_grant(actor, role: Role) -> None:
    """Super_Administrator and Admin are assigned by the project owner alone (MaxCompute §0).
    Other roles need MANAGE_ROLES plus every portal capability the role confers, so an Admin
    cannot make anyone (itself included) a security administrator or an auditor."""
    if role.kind == RoleKind.BUILTIN and role.name in ADMIN_ROLE_NAMES:
        require_capability(actor, role.project, Capability.ASSIGN_ADMIN_ROLES)
        return
    held = project_capabilities(actor, role.project)
    if Capability.MANAGE_ROLES not in held:
        require_capability(actor, role.project, Capability.MANAGE_ROLES)
    if not ROLE_CAPABILITIES.get(role.name, frozenset()) <= held:
        raise PermissionDenied(f"You may not grant or revoke {role.name}: it carries rights you do not hold.")


@transaction.atomic
def role_assign(*, actor, role: Role, user, request=None) -> RoleAssignment:
    project = role.project
    _require_may_grant(actor, role)
    if not Membership.objects.filter(project=project, user=user, is_active=True).exists():
        raise ValidationError({"user": f"{user.username} is not a member of {project.name}; add them first."})
    assignment, created = RoleAssignment.objects.get_or_create(role=role, user=user, defaults={"granted_by": actor})
    if not created:
        raise ValidationError({"user": f"{user.username} already holds {role.name}."})
    security_version_bump(project, actor=actor, summary=f"grant {role.name} to {user.principal_name}")
    audit.record(actor, "role.assign", user, project=project, request=request, details={"role": role.name})
    return assignment


@transaction.atomic
def role_unassign(*, actor, assignment: RoleAssignment, request=None) -> None:
    role = assignment.role
    project = role.project
    _require_may_grant(actor, role)
    audit.record(actor, "role.unassign", assignment.user, project=project, request=request,
                 details={"role": role.name})
    assignment.delete()
    security_version_bump(project, actor=actor,
                          summary=f"revoke {role.name} from {assignment.user.principal_name}")
