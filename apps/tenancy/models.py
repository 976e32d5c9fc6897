import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.core.models import RestrictedQuerySet

IDENTIFIER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
# Names PostgreSQL and the warehouse reserve for themselves.
RESERVED_SCHEMA_NAMES = {"public", "information_schema", "warden", "warden_gateway"}


def validate_identifier(value: str) -> None:
    if not IDENTIFIER_PATTERN.match(value or "") or value.startswith("pg_"):
        raise ValidationError(
            "Use 3 to 63 characters: lowercase letters, digits and '_', starting with a letter "
            "(and not with 'pg_').",
            code="invalid_identifier",
        )
    if value in RESERVED_SCHEMA_NAMES:
        raise ValidationError(f"'{value}' is reserved.", code="reserved_name")


class Tenant(models.Model):
    """An account: everything a primary account and its sub-accounts own."""

    name = models.CharField(max_length=63, unique=True, validators=[validate_identifier])
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantRoleName(models.TextChoices):
    SUPER_ADMINISTRATOR = "super_administrator", "Super_Administrator"
    ADMIN = "admin", "Admin"


class TenantRoleAssignmentQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        if not user.is_authenticated or user.tenant_id is None:
            return self.none()
        return self.filter(tenant_id=user.tenant_id)


class TenantRoleAssignment(models.Model):
    """A tenant-level built-in role held by one of the tenant's accounts."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_roles")
    role = models.CharField(max_length=32, choices=TenantRoleName.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    objects = TenantRoleAssignmentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user", "role"], name="unique_tenant_role")]


class Environment(models.TextChoices):
    DEV = "dev", "Development"
    PROD = "prod", "Production"


class ProjectQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A project is visible to its active members and to its tenant's owner and admins.

        Finer rights (who may manage members, roles, security) are decided per project by
        ``apps.tenancy.selectors.project_capabilities``.
        """
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser and user.tenant_id is None:
            return self
        # A subquery rather than a join: no duplicate rows, so no DISTINCT, and callers may
        # order and paginate freely.
        member_of = Q(pk__in=Membership.objects.filter(user=user, is_active=True).values("project_id"))
        if user.tenant_id is None:
            return self.filter(member_of)
        tenant_admin = user.is_primary or TenantRoleAssignment.objects.filter(
            tenant_id=user.tenant_id, user=user
        ).exists()
        if tenant_admin:
            return self.filter(Q(tenant_id=user.tenant_id) | member_of)
        return self.filter(member_of)


class Project(models.Model):
    """A project owns one schema of the warehouse with the same name."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=63, unique=True, validators=[validate_identifier])
    description = models.TextField(blank=True)
    environment = models.CharField(max_length=8, choices=Environment.choices, default=Environment.PROD)
    # The production project of a dev/prod pair; set on the dev project.
    prod_project = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="dev_project"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    # Bumped in the same transaction as any change to the project's security state, so a
    # compiled snapshot of that state is never used once it is stale.
    security_version = models.BigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # Object permissions of the portal itself (django-guardian), beside the roles: who
        # may read a project's audit log without holding the auditor role.
        permissions = [("audit_project", "Read the project's audit log")]
        constraints = [
            models.CheckConstraint(
                condition=Q(prod_project__isnull=True) | Q(environment="dev"),
                name="only_dev_projects_pair_with_prod",
            ),
        ]

    def clean(self):
        if self.prod_project_id is not None:
            if self.environment != Environment.DEV:
                raise ValidationError({"prod_project": "Only a dev project can be paired with a prod project."})
            if self.prod_project.environment != Environment.PROD:
                raise ValidationError({"prod_project": "The paired project must be a prod project."})
            if self.prod_project.tenant_id != self.tenant_id:
                raise ValidationError({"prod_project": "The paired project must belong to the same tenant."})

    @property
    def schema_name(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(project__in=Project.objects.restrict(user, action))

    def active(self):
        return self.filter(is_active=True)


class Membership(models.Model):
    """A user added to a project.

    Removing a member only deactivates the row: as in MaxCompute, the user's grants, labels
    and policies are kept and become effective again when the same user is added back.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    is_active = models.BooleanField(default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_project_member")]


class RoleKind(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    WORKSPACE = "workspace", "Workspace role"
    CUSTOM = "custom", "Custom"


class RoleType(models.TextChoices):
    # MaxCompute's privilegeproperties("type"=...): resource roles carry object privileges,
    # admin roles may also carry management actions.
    RESOURCE = "resource", "Resource"
    ADMIN = "admin", "Admin"


class RoleQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(project__in=Project.objects.restrict(user, action))


class Role(models.Model):
    """A project role: the built-in Super_Administrator and Admin, the DataWorks workspace
    roles (whose privileges depend on the project's environment), or a custom role.

    ``privileges`` lists what the role may do to the project's objects as MaxCompute actions,
    ``[{"object_type": "table", "name": "*", "actions": ["Describe", "Select"]}, ...]``; the
    permissions engine compiles them with the role's explicit grants.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=RoleKind.choices, default=RoleKind.CUSTOM)
    role_type = models.CharField(max_length=16, choices=RoleType.choices, default=RoleType.RESOURCE)
    description = models.CharField(max_length=300, blank=True)
    privileges = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        ordering = ["project", "kind", "name"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), "project", name="unique_role_name_in_project"),
        ]

    def __str__(self) -> str:
        return f"{self.project.name}:{self.name}"


class RoleAssignmentQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(role__project__in=Project.objects.restrict(user, action))


class RoleAssignment(models.Model):
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_assignments")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [models.UniqueConstraint(fields=["role", "user"], name="unique_role_assignment")]
