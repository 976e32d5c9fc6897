"""The masking jobs page of a project (``/masking/<project>/jobs/``): the jobs copying its
tables with their progress, a form to start one and buttons to cancel those still going.

Whoever sees the project sees the page (404 otherwise). While a job is queued or running,
htmx reloads the jobs table every 2 seconds. Starting a job is one service call, which asks
``authorize``: a refusal shows the 403 page with the decision's reason, a rejected input the
page again with each error next to its field.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.web import forbidden_as_page, readable
from apps.masking import jobs
from apps.masking.models import MaskingJobStatus
from apps.masking.selectors import masking_job_list
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Project
from apps.tenancy.selectors import project_list, project_or_404

FORM_FIELDS = ("source_table", "target_project", "target_name")
# Enough for a page: older jobs stay in the API and the audit log.
PAGE_JOBS = 50



def _jobs_context(request, project: Project) -> dict:
    job_rows = list(masking_job_list(user=request.user, project=project)[:PAGE_JOBS])
    for job in job_rows:
        job.may_cancel = job.is_active and jobs.may_cancel(request.user, job)
    return {"project": project, "jobs": job_rows, "polling": any(job.is_active for job in job_rows)}


def _page(request, project: Project, *, form=None, errors=None, status: int = 200):
    context = {
        **_jobs_context(request, project), "section": "masking_jobs",
        "form": form or {"target_project": project.name}, "errors": errors or {},
        "general_errors": (errors or {}).get("__all__", []),
        "tables": warehouse_tables(project).order_by("name").values_list("name", flat=True),
        "target_projects": project_list(user=request.user).order_by("name").values_list("name", flat=True),
    }
    return render(request, "masking/jobs.html", context, status=status)


@login_required
@require_GET
def jobs_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    if request.headers.get("HX-Request"):
        return render(request, "masking/_jobs_table.html", _jobs_context(request, project))
    return _page(request, project)


@login_required
@require_POST
@forbidden_as_page
def job_start(request, name: str):
    project = project_or_404(user=request.user, name=name)
    form = {field: request.POST.get(field, "").strip() for field in FORM_FIELDS}
    try:
        source_table = warehouse_tables(project).filter(name=form["source_table"]).first()
        if source_table is None:
            raise ValidationError({"source_table": "Choose a table of the project."})
        target_project = project_list(user=request.user).filter(name=form["target_project"]).first()
        if target_project is None:
            raise ValidationError({"target_project": "Choose one of your projects."})
        job = jobs.masking_job_start(actor=request.user, source_table=source_table, target_project=target_project,
                                     target_name=form["target_name"], request=request)
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        return _page(request, project, form=form, errors=errors, status=400)
    messages.success(request, f"Masking job {job.pk} queued: {source_table.name} to "
                              f"{target_project.name}.{job.target_name}.")
    return redirect("masking_jobs:list", name=project.name)


@login_required
@require_POST
@forbidden_as_page
def job_cancel(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    job = masking_job_list(user=request.user, project=project).filter(pk=pk).first()
    if job is None:
        raise Http404("No such masking job.")
    try:
        job = jobs.masking_job_cancel(actor=request.user, job=job, request=request)
    except ValidationError as error:
        messages.error(request, readable(error))
    else:
        messages.success(request, f"Masking job {job.pk} cancelled." if job.status == MaskingJobStatus.CANCELLED
                         else f"Masking job {job.pk} stops after its current batch; what it copied is dropped.")
    return redirect("masking_jobs:list", name=project.name)
