"""The row filters page of a project (``/masking/<project>/row-filters/``): the filters by
table, and for those who manage the project's security a form to create one and buttons to
enable, disable and delete them.

Whoever sees the project sees the page (404 otherwise). Each form posts to a view that
refuses, with the 403 page, anyone who does not manage the project's security, then calls one
service: a rejected new filter shows the page again with each error next to its field.
"""

from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.web import apply_service, forbidden_as_page
from apps.masking import row_filters
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, project_or_404, role_list
from apps.tenancy.services import require_capability

FORM_FIELDS = ("table", "name", "subject_kind", "subject", "expression", "description")



def _page(request, project: Project, *, form=None, errors=None, status: int = 200):
    filters = list(row_filters.row_filter_list(user=request.user, project=project))
    may_manage = Capability.MANAGE_SECURITY in project_capabilities(request.user, project)
    context = {
        "project": project, "section": "row_filters", "may_manage": may_manage,
        "groups": [(table, list(rows)) for table, rows in groupby(filters, key=lambda row: row.table)],
        "form": form or {"subject_kind": row_filters.SubjectKind.ROLE}, "errors": errors or {},
        "general_errors": (errors or {}).get("__all__", []),
        "subject_kinds": row_filters.SubjectKind.choices,
    }
    if may_manage:
        context.update(
            tables=warehouse_tables(project).order_by("name").values_list("name", flat=True),
            roles=role_list(user=request.user, project=project).order_by("name").values_list("name", flat=True),
            members=[membership.user.username for membership in member_list(user=request.user, project=project)],
        )
    return render(request, "masking/row_filters.html", context, status=status)


def _row_filter_or_404(request, project: Project, pk: int):
    row_filter = row_filters.row_filter_list(user=request.user, project=project).filter(pk=pk).first()
    if row_filter is None:
        raise Http404("No such row filter.")
    return row_filter


def _back(project: Project):
    return redirect("row_filters:list", name=project.name)


@login_required
@require_GET
def row_filters_page(request, name: str):
    return _page(request, project_or_404(user=request.user, name=name))


@login_required
@require_POST
@forbidden_as_page
def row_filter_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    # Refused before the form is read, so a non-manager learns nothing from its errors.
    require_capability(request.user, project, Capability.MANAGE_SECURITY)
    form = {field: request.POST.get(field, "") for field in FORM_FIELDS}
    try:
        subject = row_filters.subject_resolve(project, form["subject_kind"], form["subject"])
        row_filter = row_filters.row_filter_create(
            actor=request.user, project=project, table=row_filters.row_filter_table(project, form["table"]),
            name=form["name"], expression=form["expression"], user=subject.user, role=subject.role,
            everyone=subject.everyone, description=form["description"], request=request)
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        return _page(request, project, form=form, errors=errors, status=400)
    messages.success(request, f"Created row filter {row_filter.name} on {row_filter.table.name}.")
    return _back(project)


@login_required
@require_POST
@forbidden_as_page
def row_filter_enabled_set(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    row_filter = _row_filter_or_404(request, project, pk)
    enabled = request.POST.get("enabled") == "true"
    apply_service(request, row_filters.row_filter_update,
                  f"{'Enabled' if enabled else 'Disabled'} row filter {row_filter.name}.",
                  row_filter=row_filter, enabled=enabled)
    return _back(project)


@login_required
@require_POST
@forbidden_as_page
def row_filter_delete(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    row_filter = _row_filter_or_404(request, project, pk)
    apply_service(request, row_filters.row_filter_delete, f"Deleted row filter {row_filter.name}.",
                  row_filter=row_filter)
    return _back(project)
