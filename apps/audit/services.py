from django.utils import timezone

from apps.audit.models import Channel, Event


def request_source_ip(request) -> str | None:
    """The TCP peer's address. Like MaxCompute's acs:SourceIp, never X-Forwarded-For, which
    any client can write; a deployment behind a proxy sets REMOTE_ADDR in the proxy layer."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def request_channel(request) -> str:
    if request is None:
        return Channel.SYSTEM
    if getattr(request, "warden_channel", None):
        return request.warden_channel
    if request.path.startswith("/api/"):
        return Channel.API
    return Channel.WEB


def _describe_target(target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, str):
        return "", "", target[:300]
    if isinstance(target, tuple):
        target_type, target_id, target_repr = target
        return target_type, str(target_id), str(target_repr)[:300]
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk), str(target)[:300]


def _tenant_id_of(actor, target, project):
    """The tenant whose log the event belongs to: the project's, else the target's (or the
    tenant of the user who owns the target, as for an AccessKey), else the actor's."""
    if project is not None:
        return project.tenant_id
    for candidate in (target, getattr(target, "user", None), actor):
        tenant_id = getattr(candidate, "tenant_id", None)
        if tenant_id is not None:
            return tenant_id
    target_meta = getattr(target, "_meta", None)
    if target_meta is not None and target_meta.label == "tenancy.Tenant":
        return target.pk
    return None


def _storable(value):
    """``value`` with every NUL character written as ``\\0``: PostgreSQL's JSON cannot hold NUL,
    and details may quote what a user typed (a refused statement)."""
    if isinstance(value, str):
        return value.replace("\x00", "\\0") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    return value


def event_record(*, actor, action, target, project=None, decision=None, details=None, request=None,
                 channel=None) -> Event:
    """Write one audit event in the caller's transaction and seal it into its tenant's
    chain right after that transaction commits."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    target_type, target_id, target_repr = _describe_target(target)
    tenant_id = _tenant_id_of(actor, target, project)
    event = Event.objects.create(
        occurred_at=timezone.now(),
        tenant_id=tenant_id,
        project=project,
        project_name=project.name if project is not None else "",
        actor=actor,
        actor_name=actor.username if actor is not None else "",
        source_ip=request_source_ip(request),
        channel=channel or request_channel(request),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        decision=decision or "",
        details=_storable(details or {}),
    )
    from apps.audit.chain import schedule_seal

    schedule_seal(tenant_id)
    return event
