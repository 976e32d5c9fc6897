from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import RestrictedQuerySet


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    CONSOLE = "console", "Console"
    SYSTEM = "system", "System"


class Decision(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class EventQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """The events ``user`` may read (``apps.audit.selectors.event_read_scope`` holds the
        rule). Nobody may change an event, so any other action sees nothing."""
        if action != "view":
            return self.none()
        from apps.audit.selectors import event_read_scope

        return event_read_scope(user, self)

    def unsealed(self):
        return self.filter(chain_seq__isnull=True)


class Event(models.Model):
    """One entry of the append-only audit log.

    Rows are written by ``apps.audit.record`` inside the transaction of the change they
    describe. Database triggers refuse UPDATE, DELETE and TRUNCATE, with one exception: an
    unsealed row may be sealed once (its chain fields set) by ``apps.audit.chain``.

    References to tenants, projects and users carry no database constraint: the log outlives
    what it describes, and the names are copied so an event still reads well on its own.
    """

    occurred_at = models.DateTimeField(db_index=True)
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    project = models.ForeignKey(
        "tenancy.Project", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    project_name = models.CharField(max_length=63, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    source_ip = models.GenericIPAddressField(null=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    details = models.JSONField(default=dict)

    # The hash chain, per tenant (tenant-less events form a chain of their own). Filled by
    # the sealing step shortly after commit, in commit order.
    chain_seq = models.BigIntegerField(null=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "chain_seq"], name="audit_event_chain"),
            models.Index(fields=["tenant", "-occurred_at"], name="audit_event_tenant_time"),
            models.Index(fields=["id"], condition=Q(chain_seq__isnull=True), name="audit_event_unsealed"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "chain_seq"],
                condition=Q(chain_seq__isnull=False),
                nulls_distinct=False,
                name="unique_chain_position",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"
