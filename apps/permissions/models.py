"""The MaxCompute security model as Warden's own rows: ACL grants, policies, LabelSecurity
(clearances, table labels, label grants), packages, project protection and trusted
projects, IP whitelists, and the versions of each project's security state.

Column labels are the catalog's ``Column.sensitivity_level`` (scans and the Data Map set
them); a table's own label, which its unlabelled columns carry, is a ``TableLabel`` here.

A subject is a user or a role of the project: exactly one of ``user`` and ``role`` is set.
Grants and labels of a removed member stay (MaxCompute keeps them and re-adding the user
makes them effective again); grants, label grants and policies of a dropped role go with it.
Dropping a catalog object removes its grants and label grants (``hooks``).

Every write goes through ``services``, which bumps the project's ``security_version`` in the
same transaction; ``versions`` then records the change as a ``SecurityVersion``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from apps.core.models import RestrictedQuerySet

MAX_LEVEL = 9
level_validators = [MinValueValidator(0), MaxValueValidator(MAX_LEVEL)]


class Origin(models.TextChoices):
    STATEMENT = "statement", "Statement"
    UI = "ui", "Portal"
    API = "api", "API"
    APPROVAL = "approval", "Approved request"
    PACKAGE = "package", "Package"
    ROLLBACK = "rollback", "Rollback"


class Network(models.TextChoices):
    IP = "ip", "Internet / interconnect (odps.security.ip.whitelist)"
    VPC = "vpc", "VPC (odps.security.vpc.whitelist)"


class ProjectScopedQuerySet(RestrictedQuerySet):
    """Security rows are seen by whoever sees their project; what they may change is the
    services' decision."""

    project_field = "project"

    def restrict(self, user, action: str = "view"):
        from apps.tenancy.models import Project

        return self.filter(**{f"{self.project_field}__in": Project.objects.restrict(user, action)})


def _one_subject(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(user__isnull=False, role__isnull=True)
                                  | Q(user__isnull=True, role__isnull=False), name=name)


class SubjectModel(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    role = models.ForeignKey("tenancy.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True

    @property
    def subject_label(self) -> str:
        return f"user {self.user.principal_name}" if self.user_id else f"role {self.role.name}"


class ProjectSecurity(models.Model):
    """A project's security switches (MaxCompute's SecurityConfiguration), its
    ProjectProtection with the exception policy, and its IP whitelists."""

    project = models.OneToOneField("tenancy.Project", on_delete=models.CASCADE, related_name="security")
    check_permission_using_acl = models.BooleanField(default=True)
    check_permission_using_policy = models.BooleanField(default=True)
    object_creator_has_access_permission = models.BooleanField(default=True)
    object_creator_has_grant_permission = models.BooleanField(default=True)
    label_security = models.BooleanField(default=False)
    # Not in MaxCompute, which documents No-WriteDown as unenforced; Warden's seeds ask for it.
    no_write_down = models.BooleanField(default=False)
    project_protection = models.BooleanField(default=False)
    protection_exception = models.TextField(blank=True, help_text="Canonical policy JSON, or empty.")
    ip_whitelist = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    vpc_whitelist = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"security of {self.project.name}"


class TenantSecurity(models.Model):
    """The tenant-wide IP whitelists, checked before every project's own."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="security")
    ip_whitelist = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    vpc_whitelist = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class TrustedProject(models.Model):
    """Data may flow between ``project`` and ``trusted`` despite ``project``'s protection."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="trusted_projects")
    trusted = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="trusted_by")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "trusted"], name="unique_trusted_project")]


class Grant(SubjectModel):
    """An ACL grant: ``actions`` on an object to a user or a role, on some columns of a
    table or on the whole object, until ``expires_at``, when ``condition`` holds.

    ``object_name`` is the object's name in the project (``*`` for every object of the type,
    for roles only); ``table`` links a table grant to the catalog so that dropping the table
    removes it. A grant made on the objects of an installed package (MaxCompute's
    ``refobject``) names the install; a grant of a whole package has object type
    ``package`` and ``object_name`` ``provider.package``.
    """

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="grants")
    object_type = models.CharField(max_length=16)
    object_name = models.CharField(max_length=255)
    table = models.ForeignKey("catalog.Table", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    columns = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    actions = ArrayField(models.CharField(max_length=32))
    condition = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    package_install = models.ForeignKey("PackageInstall", null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="grants")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.API)
    grantor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [_one_subject("grant_has_one_subject")]
        indexes = [models.Index(fields=["project", "object_type", "object_name"], name="grant_object")]


class Policy(models.Model):
    """A policy document: the project's (``role`` null) or one role's. ``put policy``
    replaces it whole, as in MaxCompute."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="policies")
    role = models.ForeignKey("tenancy.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    document = models.TextField(help_text="Canonical policy JSON.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project"], condition=Q(role__isnull=True), name="one_project_policy"),
            models.UniqueConstraint(fields=["project", "role"], condition=Q(role__isnull=False),
                                    name="one_policy_per_role"),
        ]


class Clearance(SubjectModel):
    """A LabelSecurity access level (``set label N to user|role``); none means 0."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="clearances")
    level = models.PositiveSmallIntegerField(validators=level_validators)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            _one_subject("clearance_has_one_subject"),
            models.UniqueConstraint(fields=["project", "user"], condition=Q(user__isnull=False),
                                    name="one_clearance_per_user"),
            models.UniqueConstraint(fields=["project", "role"], condition=Q(role__isnull=False),
                                    name="one_clearance_per_role"),
        ]


class TableLabel(models.Model):
    """A table's own sensitivity label, carried by its columns that have none."""

    table = models.OneToOneField("catalog.Table", on_delete=models.CASCADE, related_name="label")
    level = models.PositiveSmallIntegerField(validators=level_validators)


class LabelGrant(SubjectModel):
    """``grant label N on table t[(cols)] to user|role x with exp D``: reading those columns
    up to level N without the clearance, until it expires."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="label_grants")
    table = models.ForeignKey("catalog.Table", on_delete=models.CASCADE, related_name="+")
    columns = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    level = models.PositiveSmallIntegerField(validators=level_validators)
    expires_at = models.DateTimeField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.API)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [_one_subject("label_grant_has_one_subject")]


class Package(models.Model):
    """A provider project's package of objects for other projects to install."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="packages")
    name = models.CharField(max_length=128)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), "project", name="unique_package_name_in_project")]

    def __str__(self) -> str:
        return f"{self.project.name}.{self.name}"


class PackageObject(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="objects_in")
    object_type = models.CharField(max_length=16)
    object_name = models.CharField(max_length=255)
    table = models.ForeignKey("catalog.Table", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actions = ArrayField(models.CharField(max_length=32))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["package", "object_type", "object_name"],
                                               name="unique_object_in_package")]


class PackageAllowance(models.Model):
    """``allow project consumer to install package p [using label N]``."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="allowances")
    consumer = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="+")
    label_limit = models.PositiveSmallIntegerField(default=0, validators=level_validators)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["package", "consumer"], name="one_allowance_per_consumer")]


class ConsumerScopedQuerySet(ProjectScopedQuerySet):
    project_field = "consumer"


class PackageInstall(models.Model):
    """A package installed in a consumer project."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="installs")
    consumer = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="installed_packages")
    installed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    installed_at = models.DateTimeField(auto_now_add=True)

    objects = ConsumerScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["package", "consumer"], name="one_install_per_consumer")]


class SecurityState(models.Model):
    """The facts of a project's security state as of its latest version: what the next
    change is compared with."""

    project = models.OneToOneField("tenancy.Project", on_delete=models.CASCADE, related_name="security_state")
    version = models.BigIntegerField()
    facts = models.JSONField(default=list)


class SecurityVersion(models.Model):
    """One change to a project's security state: who, when, what (the facts it added and
    removed, ``apps.permissions.facts``), and how (a statement, the portal, the API, a
    rollback)."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="security_versions")
    number = models.BigIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.CharField(max_length=500, blank=True)
    added = models.JSONField(default=list)
    removed = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project", "-number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_security_version")]
