"""The audit log. Every app records through one function::

    from apps import audit
    audit.record(actor, "project.create", project, project=project, request=request)
"""


def record(actor, action, target, project=None, decision=None, details=None, request=None, *, channel=None):
    from apps.audit.services import event_record

    return event_record(
        actor=actor,
        action=action,
        target=target,
        project=project,
        decision=decision,
        details=details,
        request=request,
        channel=channel,
    )
