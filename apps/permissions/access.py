"""Asking the engine on someone's behalf: "may this principal do that, and why (not)?"

Anyone may ask about themselves in a project they see ("why was I denied?"); asking about
somebody else takes the right to manage the project's members or security, or to audit it.
The answer is the engine's decision against the project's current state, with its trace.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps import audit
from apps.audit.models import Decision as AuditDecision
from apps.permissions.actions import action_canonical, object_type_canonical
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import NETWORKS, AccessRequest, Decision
from apps.permissions.impact import access_request_as_dict
from apps.permissions.runtime import decide
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities

CHECK_OTHERS = frozenset({Capability.MANAGE_MEMBERS, Capability.MANAGE_SECURITY, Capability.AUDIT})


@dataclass(frozen=True)
class AccessQuestion:
    principal: str
    action: str
    object_name: str
    object_type: str = "table"
    columns: tuple[str, ...] = ()
    source_ip: str | None = None
    at: datetime | None = None
    task_type: str | None = None
    network: str = "ip"
    destination_project: str | None = None
    via_project: str | None = None
    read_level: int | None = None


def _validated_request(project: Project, question: AccessQuestion) -> AccessRequest:
    errors = {}
    try:
        object_type = object_type_canonical(question.object_type)
        action_canonical(object_type, question.action, field="action")
    except ValidationError as error:
        errors.update(error.message_dict)
    if question.source_ip is not None:
        try:
            ipaddress.ip_address(question.source_ip)
        except ValueError:
            errors["source_ip"] = ["Give one IPv4 or IPv6 address."]
    if question.network not in NETWORKS:
        errors["network"] = [f"Choose one of: {', '.join(NETWORKS)}."]
    for field in ("destination_project", "via_project"):
        name = getattr(question, field)
        if name and not Project.objects.filter(name=name).exists():
            errors[field] = [f"No project named {name}."]
    if errors:
        raise ValidationError(errors)
    context = RequestContext(source_ip=question.source_ip, current_time=question.at or timezone.now(),
                             task_type=question.task_type)
    return AccessRequest(
        principal=question.principal.strip(), project=project.name, action=question.action,
        object_type=question.object_type, object_name=question.object_name.strip(), columns=question.columns,
        context=context, network=question.network, destination_project=question.destination_project or None,
        via_project=question.via_project or None, read_level=question.read_level,
    )


def access_check(*, actor, project: Project, question: AccessQuestion, request=None) -> Decision:
    """The decision for ``question`` in ``project`` as its state is now. The caller must see
    ``project`` (the views find it among those they may see). The check is audited with the
    request in the shape the impact preview replays (``impact.access_request_as_dict``)."""
    if question.principal.strip() != actor.principal_name and not CHECK_OTHERS & project_capabilities(actor, project):
        raise PermissionDenied("You may check your own access only: checking someone else's takes the right to "
                               "manage the project's members or security, or to audit it.")
    access_request = _validated_request(project, question)
    decision = decide(access_request)
    audit.record(actor, "permissions.check", project, project=project, request=request,
                 decision=AuditDecision.ALLOW if decision.allowed else AuditDecision.DENY,
                 details={"request": access_request_as_dict(access_request),
                          "decision": {"allowed": decision.allowed, "step": str(decision.step)}})
    return decision


STEP_TITLES = {
    "authentication": "Authentication", "ip_whitelist": "IP whitelist", "project_protection": "Project protection",
    "label_security": "LabelSecurity", "policy": "Policy", "acl": "ACL", "package": "Package",
    "default": "Default",
}


def rule_description(rule: dict | None) -> str:
    """A trace step's rule in words, for pages and the console."""
    if not rule:
        return ""
    kind = rule.get("kind")
    if kind == "grant":
        via = f" (package {rule['package']})" if rule.get("package") else ""
        return f"grant #{rule['id']}{via}"
    if kind == "columns":
        return "; ".join(f"{rule_description(part)}" for part in rule.get("rules", []))
    if kind == "policy":
        owner = f"role {rule['role']}'s policy" if rule.get("role") else "the project policy"
        return f"{owner}, statement {rule['statement']}"
    if kind == "role_privilege":
        return f"privilege {rule['privilege']} of role {rule['role']}"
    if kind == "role":
        return f"role {rule['role']}"
    if kind == "creator":
        return f"creator of {rule['object']}"
    if kind == "protection_exception":
        return f"exception policy, statement {rule['statement']}"
    if kind == "trusted_project":
        return f"trusted project {rule['project']}"
    if kind == "package":
        return f"package {rule['provider']}.{rule['package']}"
    details = ", ".join(f"{key} {value}" for key, value in rule.items() if key != "kind")
    return f"{kind}: {details}" if details else str(kind)


def trace_rows(decision: Decision) -> list[dict]:
    return [{"title": STEP_TITLES.get(str(step.step), str(step.step)), "outcome": str(step.outcome),
             "detail": step.detail, "rule": rule_description(step.rule)} for step in decision.trace]
