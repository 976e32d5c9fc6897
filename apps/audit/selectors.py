"""Reads of the audit log, and who may read it.

- A tenant's primary account and its tenant Super_Administrators and Admins read the whole
  tenant's log, and may verify its chain.
- A user holding the AUDIT capability in a project (the workspace auditor role, or the
  project owner) reads that project's events.
- Everybody reads their own events (the ones they are the actor of).
- Nobody reads another tenant's events. Platform superusers without a tenant read all.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from apps.audit import chain
from apps.audit.models import Event
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import is_tenant_admin, project_capabilities_map


def _is_platform_superuser(user) -> bool:
    return user.is_authenticated and user.is_superuser and user.tenant_id is None


def audited_project_ids(user) -> list[int]:
    """The projects of the user's own tenant whose events ``user`` may read as an auditor."""
    candidates = Project.objects.restrict(user).filter(tenant_id=user.tenant_id)
    capabilities = project_capabilities_map(user, candidates)
    return [project_id for project_id, granted in capabilities.items() if Capability.AUDIT in granted]


def event_read_scope(user, queryset: QuerySet[Event]) -> QuerySet[Event]:
    """Narrow ``queryset`` to the events ``user`` may read (the rule in the module docstring)."""
    if not user.is_authenticated:
        return queryset.none()
    if _is_platform_superuser(user):
        return queryset
    if user.tenant_id is None:
        return queryset.none()
    own_tenant = queryset.filter(tenant_id=user.tenant_id)
    if is_tenant_admin(user):
        return own_tenant
    return own_tenant.filter(Q(actor_id=user.pk) | Q(project_id__in=audited_project_ids(user)))


def event_list(*, user) -> QuerySet[Event]:
    """Readable events, newest first. Event rows carry the names they show, so no joins."""
    return Event.objects.restrict(user, "view").order_by("-occurred_at", "-id")


def event_get(*, user, event_id: int) -> Event:
    """Event.DoesNotExist for an event ``user`` may not read, exactly as for a missing one."""
    return event_list(user=user).get(pk=event_id)


def may_verify(user) -> bool:
    return _is_platform_superuser(user) or (user.is_authenticated and is_tenant_admin(user))


def chain_verification(*, user) -> chain.VerificationResult:
    """Verify the chains ``user`` answers for: their tenant's (tenant admins), or every
    chain (platform superusers)."""
    if not may_verify(user):
        raise PermissionDenied("Only the tenant's owner and administrators verify the audit chain.")
    if _is_platform_superuser(user):
        return chain.verify_chains()
    return chain.verify_chains([user.tenant_id])
