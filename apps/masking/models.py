"""What a reader sees of the data they may read: masking rules, the unmask whitelist, row
filters, and each tenant's masking key.

A **masking rule** binds an algorithm (``algorithms.ALGORITHMS``) and its parameters either
to a sensitive type (the catalog's classification of a column), for a whole tenant or for one
project, or directly to one column. For a column the most specific enabled rule wins: the
column's own rule, then the project's rule for the column's sensitive type, then the
tenant's. Masking applies to every reader, owners and admins included, except those on the
column's **unmask whitelist** (a user, or a role of the table's project, until an expiry).

A **row filter** is a SQL condition over one table's columns for a user, a role of the
table's project, or everyone. A reader whom several filters name sees the rows any of them
lets through; a reader whom none names sees every row.

Every write goes through ``services`` (rules, whitelist, key) and ``row_filters``, which bump
the security version of each project concerned in the same transaction, so the gateway never
applies rules older than the last committed change.

A **masking job** (static masking) writes a masked copy of a warehouse table into a project's
schema, in a Celery task (``jobs``): every column any rule masks is masked, whoever asked.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from apps.core.models import RestrictedQuerySet


class ProjectScopedQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        from apps.tenancy.models import Project

        return self.filter(project__in=Project.objects.restrict(user, action))


class MaskingKey(models.Model):
    """The tenant's secret for salted hashes and pseudonyms (32 random bytes, encrypted with
    ``core.crypto``). Pseudonyms agree across the tenant's projects, so joins still match."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="masking_key")
    secret_encrypted = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)


class MaskingRuleQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        from apps.tenancy.models import Project

        if not user.is_authenticated or user.tenant_id is None:
            return self.none()
        return self.filter(Q(project__isnull=True, tenant_id=user.tenant_id)
                           | Q(project__in=Project.objects.restrict(user, action)))


class MaskingRule(models.Model):
    """Exactly one target: ``sensitive_type`` (with ``project`` set: that project only; unset:
    the whole tenant) or ``column`` (``project`` is then the column's project)."""

    objects = MaskingRuleQuerySet.as_manager()

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="masking_rules")
    project = models.ForeignKey("tenancy.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="masking_rules")
    name = models.CharField(max_length=100)
    sensitive_type = models.ForeignKey("catalog.SensitiveType", null=True, blank=True, on_delete=models.CASCADE,
                                       related_name="masking_rules")
    column = models.ForeignKey("catalog.Column", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="masking_rules")
    algorithm = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sensitive_type__isnull=False, column__isnull=True)
                | Q(sensitive_type__isnull=True, column__isnull=False, project__isnull=False),
                name="masking_rule_one_target"),
            models.UniqueConstraint(fields=["column"], condition=Q(column__isnull=False),
                                    name="one_masking_rule_per_column"),
            models.UniqueConstraint(fields=["project", "sensitive_type"],
                                    condition=Q(project__isnull=False, sensitive_type__isnull=False),
                                    name="one_project_masking_rule_per_type"),
            models.UniqueConstraint(fields=["tenant", "sensitive_type"],
                                    condition=Q(project__isnull=True), name="one_tenant_masking_rule_per_type"),
        ]

    def __str__(self) -> str:
        return self.name


class UnmaskGrant(models.Model):
    """Who sees some columns of a table in clear (all of them when ``columns`` is empty),
    until ``expires_at``. Exactly one of ``user`` and ``role`` is set."""

    objects = ProjectScopedQuerySet.as_manager()

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="unmask_grants")
    table = models.ForeignKey("catalog.Table", on_delete=models.CASCADE, related_name="unmask_grants")
    columns = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    role = models.ForeignKey("tenancy.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    origin = models.CharField(max_length=16, default="ui")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False, role__isnull=True)
                                   | Q(user__isnull=True, role__isnull=False), name="unmask_grant_one_subject"),
        ]


class RowFilter(models.Model):
    """``expression`` is a validated SQL condition over the table's columns, stored as the
    gateway will run it. Exactly one subject: ``user``, ``role`` or ``everyone``."""

    objects = ProjectScopedQuerySet.as_manager()

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="row_filters")
    table = models.ForeignKey("catalog.Table", on_delete=models.CASCADE, related_name="row_filters")
    name = models.CharField(max_length=63)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    role = models.ForeignKey("tenancy.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    everyone = models.BooleanField(default=False)
    expression = models.TextField()
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, role__isnull=True, everyone=False)
                | Q(user__isnull=True, role__isnull=False, everyone=False)
                | Q(user__isnull=True, role__isnull=True, everyone=True),
                name="row_filter_one_subject"),
            models.UniqueConstraint(fields=["table", "name"], name="unique_row_filter_name_per_table"),
        ]

    def __str__(self) -> str:
        return self.name


class MaskingJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


MASKING_JOB_ACTIVE = (MaskingJobStatus.QUEUED, MaskingJobStatus.RUNNING)


class MaskingJobQuerySet(ProjectScopedQuerySet):
    def active(self):
        return self.filter(status__in=MASKING_JOB_ACTIVE)


class MaskingJob(models.Model):
    """A masked copy of ``source_table`` (of ``project``) written as ``target_name`` into
    ``target_project``'s schema. ``progress`` (0..100) is ``rows_copied`` of ``rows_total``,
    written after every batch while the job runs; ``masked_columns`` are the source columns
    the copy holds masked (what the rules said when the job started, then when it ran)."""

    objects = MaskingJobQuerySet.as_manager()

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="masking_jobs")
    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="masking_jobs")
    source_table = models.ForeignKey("catalog.Table", on_delete=models.CASCADE, related_name="masking_jobs")
    target_project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE,
                                       related_name="incoming_masking_jobs")
    target_name = models.CharField(max_length=63)
    status = models.CharField(max_length=16, choices=MaskingJobStatus.choices, default=MaskingJobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    progress_message = models.CharField(max_length=200, blank=True)
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_copied = models.BigIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress report: a running job whose worker died stops beating.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    masked_columns = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="masking_job_recent")]

    def __str__(self) -> str:
        return f"masking job #{self.pk}: {self.source_table.name} -> {self.target_project.name}.{self.target_name}"

    @property
    def is_active(self) -> bool:
        return self.status in MASKING_JOB_ACTIVE
