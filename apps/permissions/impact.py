"""What a change would do to who may do what, before it is made.

``impact_preview`` runs the change inside a savepoint, reads the project's facts as the
change left them, compiles a snapshot of them, and rolls the savepoint back: nothing of the
change stays, not its rows, its version or its audit events. Then the project's recent
access decisions, as the audit log recorded them (events whose details hold a
``"request"``, written by access checks, or ``"requests"``, written by the gateway for each
statement it checked; only requests about this project count), are
decided again against the snapshot of the state now and the snapshot of the changed state;
the requests whose answer differs are who would gain and who would lose access.

Requests are replayed as of now, not as of when they were made: the question is who would
have access once the change is made, so a grant that has expired since is no access either
way. Identical requests (the same question at another time) are replayed once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import Event
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest, Decision
from apps.permissions.describe import fact_lines
from apps.permissions.engine import Snapshot, authorize, compile_snapshot
from apps.permissions.facts import fact_key, time_parse, time_text
from apps.permissions.runtime import project_snapshot
from apps.permissions.selectors import security_facts
from apps.permissions.versions import UNVERSIONED_KINDS
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities

PREVIEWERS = frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY, Capability.AUDIT})
# The audit log may hold many more events than distinct requests; reading stops here.
EVENTS_READ_PER_REQUEST = 20

_CONTEXT_FIELDS = ("source_ip", "secure_transport", "user_agent", "referer", "instance_id", "task_type")


def access_request_as_dict(request: AccessRequest) -> dict:
    """An access request as the audit log keeps it (``details["request"]``): JSON-able, with
    the context's fields beside the request's own and the time as ISO 8601 UTC."""
    data = {
        "principal": request.principal, "project": request.project, "action": request.action,
        "object_type": request.object_type, "object_name": request.object_name, "columns": list(request.columns),
        "network": request.network, "destination_project": request.destination_project,
        "via_project": request.via_project, "read_level": request.read_level,
        "time": time_text(request.context.current_time),
    }
    for name in _CONTEXT_FIELDS:
        data[name] = getattr(request.context, name)
    return data


def access_request_from_dict(data: dict, *, at: datetime | None = None) -> AccessRequest:
    """The request ``access_request_as_dict`` wrote (missing optional keys are absent
    values); ``at`` replaces the time it was made. Raises ValueError, KeyError or a
    ValidationError on a record that is no request."""
    context = RequestContext(current_time=at or time_parse(data.get("time")) or timezone.now(),
                             **{name: data.get(name) for name in _CONTEXT_FIELDS})
    return AccessRequest(
        principal=data["principal"], project=data["project"], action=data["action"],
        object_type=data.get("object_type", "table"), object_name=data["object_name"],
        columns=tuple(data.get("columns") or ()), context=context, network=data.get("network") or "ip",
        destination_project=data.get("destination_project"), via_project=data.get("via_project"),
        read_level=data.get("read_level"),
    )


@dataclass(frozen=True)
class ImpactEntry:
    """One recent request whose answer the change would turn around."""

    principal: str
    action: str
    object_type: str
    object_name: str
    columns: tuple[str, ...]
    old_step: str
    new_step: str
    new_reason: str

    def as_dict(self) -> dict:
        return {"principal": self.principal, "action": self.action, "object_type": self.object_type,
                "object": self.object_name, "columns": list(self.columns), "old_step": self.old_step,
                "new_step": self.new_step, "new_reason": self.new_reason}


@dataclass
class ImpactReport:
    """``added``/``removed``: the change's facts as lines; ``replayed``: how many distinct
    recent requests were decided again; ``gains``/``losses``: those allowed only after, or
    only before, the change."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    replayed: int = 0
    gains: list[ImpactEntry] = field(default_factory=list)
    losses: list[ImpactEntry] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "replayed": self.replayed,
                "gains": [entry.as_dict() for entry in self.gains],
                "losses": [entry.as_dict() for entry in self.losses]}


def recent_requests(project: Project, *, limit: int = 1000) -> list[dict]:
    """The distinct access requests the audit log recorded in ``project``, newest first."""
    seen: set[str] = set()
    requests: list[dict] = []
    events = (Event.objects.filter(Q(details__has_key="request") | Q(details__has_key="requests"), project=project)
              .order_by("-occurred_at", "-id").values_list("details", flat=True))
    for details in events[:limit * EVENTS_READ_PER_REQUEST].iterator(chunk_size=500):
        recorded = details.get("requests") if isinstance(details.get("requests"), list) else [details.get("request")]
        for request in recorded:
            if not isinstance(request, dict) or request.get("project") != project.name:
                continue
            key = fact_key({name: value for name, value in request.items() if name != "time"})
            if key in seen:
                continue
            seen.add(key)
            requests.append(request)
            if len(requests) >= limit:
                return requests
    return requests


def _versioned(facts: list[dict]) -> dict[str, dict]:
    return {fact_key(fact): fact for fact in facts if fact["kind"] not in UNVERSIONED_KINDS}


def impact_preview(*, actor, project: Project, change: Callable[[], object], limit: int = 1000) -> ImpactReport:
    """Who would gain and who would lose access to what if ``change()`` were made to
    ``project``'s security state. ``change`` is called as the caller wrote it (it checks its
    own permissions; its errors come through) and is always undone."""
    if not PREVIEWERS & project_capabilities(actor, project):
        raise PermissionDenied(f"Previewing a change's impact replays the access decisions of {project.name}: it "
                               f"takes the right to manage its members or security, or to audit it.")
    before = security_facts(project)
    old_snapshot = project_snapshot(project.name)
    with transaction.atomic():
        change()
        after = security_facts(project)
        transaction.set_rollback(True)
    project.refresh_from_db(fields=["security_version"])
    # Never the version of a real snapshot: the next real change reuses the number.
    new_snapshot = compile_snapshot(after, version=-1)

    old_facts, new_facts = _versioned(before), _versioned(after)
    report = ImpactReport(added=fact_lines([fact for key, fact in new_facts.items() if key not in old_facts]),
                          removed=fact_lines([fact for key, fact in old_facts.items() if key not in new_facts]))
    others: dict[str, Snapshot | None] = {}

    def snapshots_with(own: Snapshot | None) -> Callable[[str], Snapshot | None]:
        def snapshots(name: str) -> Snapshot | None:
            if name == project.name:
                return own
            if name not in others:
                others[name] = project_snapshot(name)
            return others[name]
        return snapshots

    old_source, new_source = snapshots_with(old_snapshot), snapshots_with(new_snapshot)
    now = timezone.now()
    for data in recent_requests(project, limit=limit):
        try:
            request = access_request_from_dict(data, at=now)
        except (ValueError, KeyError, TypeError, ValidationError):
            continue  # not a request this engine can decide: nothing to compare
        report.replayed += 1
        old, new = authorize(request, old_source), authorize(request, new_source)
        if old.allowed != new.allowed:
            (report.gains if new.allowed else report.losses).append(_entry(request, old, new))
    return report


def _entry(request: AccessRequest, old: Decision, new: Decision) -> ImpactEntry:
    return ImpactEntry(principal=request.principal, action=request.action, object_type=request.object_type,
                       object_name=request.object_name, columns=request.columns, old_step=str(old.step),
                       new_step=str(new.step), new_reason=new.reason)
