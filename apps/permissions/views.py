"""The security pages of a project (``/security/<project>/...``).

Views stay thin: the project comes from the projects the user may see (404 otherwise),
questions go to ``access``, changes to ``services``; refusals become readable messages or
the 403 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.audit.models import Channel
from apps.core.web import forbidden_as_page, readable
from apps.permissions import access, console, rollback
from apps.permissions.actions import ACTIONS, OBJECT_TYPES
from apps.permissions.impact import impact_preview
from apps.permissions.models import SecurityVersion
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, project_or_404



@login_required
@require_GET
@forbidden_as_page
def access_check_page(request, name: str):
    """"May this principal do that, and why (not)?" The question is in the query string, so
    a decision can be linked to and shared."""
    project = project_or_404(user=request.user, name=name)
    may_check_others = bool(access.CHECK_OTHERS & project_capabilities(request.user, project))
    params = request.GET
    principal = params.get("principal") or request.user.principal_name
    decision = None
    if params.get("object"):
        question = access.AccessQuestion(
            principal=principal, action=params.get("action", "Select"),
            object_type=params.get("object_type", "table"), object_name=params["object"],
            columns=tuple(column.strip() for column in params.get("columns", "").split(",") if column.strip()),
            source_ip=params.get("source_ip") or None, task_type=params.get("task_type") or None,
            destination_project=params.get("destination_project") or None,
        )
        try:
            decision = access.access_check(actor=request.user, project=project, question=question,
                                              request=request)
        except ValidationError as error:
            messages.error(request, readable(error))
        except PermissionDenied as error:
            messages.error(request, str(error))
    members = ([membership.user for membership in member_list(user=request.user, project=project)]
               if may_check_others else [request.user])
    return render(request, "permissions/check.html", {
        "project": project,
        "decision": decision,
        "trace": access.trace_rows(decision) if decision else [],
        "params": params,
        "principal": principal,
        "principals": sorted({member.principal_name for member in members} | {project.owner.principal_name}
                             if may_check_others else {request.user.principal_name}),
        "tables": warehouse_tables(project).order_by("name").values_list("name", flat=True),
        "object_types": OBJECT_TYPES,
        "actions": sorted({action for actions in ACTIONS.values() for action in actions}),
    })


VERSIONS_PAGE_SIZE = 50


def _version_or_404(request, project: Project, number: int):
    try:
        return rollback.version_get(user=request.user, project=project, number=number)
    except SecurityVersion.DoesNotExist:
        raise Http404("No such version.") from None


@login_required
@require_GET
@forbidden_as_page
def version_list_page(request, name: str):
    """Every change to the project's security state, newest first; two picked to compare."""
    project = project_or_404(user=request.user, name=name)
    versions = rollback.version_list(user=request.user, project=project).select_related("actor__tenant")
    page = Paginator(versions, VERSIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "permissions/versions.html", {"project": project, "page": page})


@login_required
@require_GET
@forbidden_as_page
def version_diff_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    added = removed = None
    older, newer = request.GET.get("from", ""), request.GET.get("to", "")
    if not (older.isdigit() and newer.isdigit()):
        messages.error(request, "Pick two versions to compare.")
    else:
        try:
            added, removed = rollback.versions_diff_lines(user=request.user, project=project, older=int(older),
                                                          newer=int(newer))
        except ValidationError as error:
            messages.error(request, readable(error))
    return render(request, "permissions/version_diff.html", {
        "project": project, "older": older, "newer": newer, "added": added, "removed": removed})


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def version_page(request, name: str, number: int):
    """One version's change; "Preview rollback" shows who would gain and lose access, "Roll
    back" makes it so."""
    project = project_or_404(user=request.user, name=name)
    version = _version_or_404(request, project, number)
    report = None
    if request.method == "POST":
        def change():
            return rollback.security_rollback(actor=request.user, project=project, number=version.number,
                                              request=request)

        try:
            if request.POST.get("action") == "rollback":
                result = change()
                if result.version is None and not result.skipped:
                    messages.info(request, f"The security state already is that of version {version.number}.")
                else:
                    made = f" as version {result.version.number}" if result.version else ""
                    skipped = f" Not applied: {'; '.join(result.skipped)}." if result.skipped else ""
                    messages.success(request, f"Rolled back to version {version.number}{made}.{skipped}")
                return redirect("permissions:versions", name=project.name)
            report = impact_preview(actor=request.user, project=project, change=change)
        except ValidationError as error:
            messages.error(request, readable(error))
        except PermissionDenied as error:
            messages.error(request, str(error))
    added, removed = rollback.version_lines(version)
    return render(request, "permissions/version_detail.html", {
        "project": project, "version": version, "added": added, "removed": removed, "report": report,
        "may_roll_back": Capability.MANAGE_SECURITY in project_capabilities(request.user, project),
    })


@login_required
@require_http_methods(["GET", "POST"])
def console_page(request, name: str):
    """The security console: one statement at a time, run as the user; its output (or the
    error, with a caret under a syntax error) below, and the user's history in the project.
    ``?statement=`` fills the box, so a history entry is a link that reuses its statement."""
    project = project_or_404(user=request.user, name=name)
    result = pointer = report = None
    if request.method == "POST":
        text = request.POST.get("statement", "")
        request.warden_channel = Channel.CONSOLE
        if request.POST.get("action") == "preview":
            try:
                report = console.statement_preview(actor=request.user, project=project, text=text)
            except console.StatementFailed as failed:
                result = failed.result
            except PermissionDenied as error:
                result = console.StatementResult(ok=False, error=str(error), refused=True)
        else:
            result = console.statement_run(actor=request.user, project=project, text=text, request=request)
        if result is not None and result.position is not None:
            pointer = console.error_pointer(text, result.position)
    else:
        text = request.GET.get("statement", "")
    return render(request, "permissions/console.html", {
        "project": project, "text": text, "result": result, "pointer": pointer, "report": report,
        "history": console.console_history(user=request.user, project=project),
    })
