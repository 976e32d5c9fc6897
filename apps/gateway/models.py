"""What the gateway remembers beyond the audit log: each export of query results, with what
it takes to trace a leaked copy back to it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import RestrictedQuerySet


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"


class ExportQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Exports are seen by whoever may read their audit events (``apps.audit``'s rule:
        tenant admins, the project's auditors) and by whoever made them."""
        from apps.audit.selectors import audited_project_ids
        from apps.tenancy.selectors import is_tenant_admin

        if not user.is_authenticated or user.tenant_id is None:
            return self.none()
        own_tenant = self.filter(tenant_id=user.tenant_id)
        if is_tenant_admin(user):
            return own_tenant
        return own_tenant.filter(models.Q(user_id=user.pk) | models.Q(project_id__in=audited_project_ids(user)))


class Export(models.Model):
    """One download of a query's result. Its primary key is the serial the watermark carries;
    ``fingerprint`` is ``masking.watermark.fingerprint`` of the rows, for copies whose marks
    were stripped."""

    objects = ExportQuerySet.as_manager()

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="exports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="exports")
    # The export's audit event, by id: no foreign key, whose cascade would have the database
    # act on the append-only log.
    event_id = models.BigIntegerField(null=True)
    sql = models.TextField()
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    columns = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    reads = models.JSONField(default=dict)
    masked_columns = models.JSONField(default=list)
    # The grants the decision matched, for "who allowed this" (ids of permissions.Grant).
    grants = models.JSONField(default=list)
    fingerprint = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
