"""The gateway's pages: the query page of a project, and the two panels of a table's page
(a masked preview of its rows and who read or wrote it lately), which the table page loads
with htmx so that viewing a table runs no statement."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from sqlglot import exp

from apps.audit.services import request_source_ip
from apps.catalog import selectors as catalog_selectors
from apps.catalog.models import DataSourceKind, Table
from apps.core.web import forbidden_as_page, readable
from apps.gateway.exports import export_run, leak_trace, may_trace_leaks
from apps.gateway import selectors
from apps.gateway.limits import LimitExceeded
from apps.gateway.prepare import Check
from apps.gateway.services import QueryDenied, QueryFailed, QueryResult, query_run
from apps.gateway.uploads import upload_csv
from apps.gateway.sql import DIALECT, QueryRefused, StatementKind
from apps.permissions.access import trace_rows
from apps.permissions.console import error_pointer
from apps.tenancy.models import Project
from apps.tenancy.selectors import project_or_404

PREVIEW_ROWS = 20



def _table_or_404(request, pk: int) -> Table:
    try:
        return catalog_selectors.table_get(user=request.user, pk=pk)
    except Table.DoesNotExist:
        raise Http404("No such table.") from None


def _access_request_url(check: Check) -> str:
    """The permissions check page, asking the denied question again, where the reader sees
    the same trace and can take it to whoever grants access."""
    access = check.request
    params = {"principal": access.principal, "action": access.action, "object_type": access.object_type,
              "object": access.object_name}
    if access.columns:
        params["columns"] = ",".join(access.columns)
    if access.destination_project:
        params["destination_project"] = access.destination_project
    return f"{reverse('permissions:check', kwargs={'name': access.project})}?{urlencode(params)}"


def _checks(denied: QueryDenied) -> list[dict]:
    return [{"what": check.what, "allowed": check.decision.allowed, "step": str(check.decision.step),
             "reason": check.decision.reason, "denied_columns": list(check.decision.denied_columns),
             "trace": trace_rows(check.decision),
             "request_url": None if check.decision.allowed else _access_request_url(check)}
            for check in denied.checks]


def _refusal_outcome(error: Exception, sql: str) -> dict:
    """What the templates show of a statement the gateway would not run."""
    if isinstance(error, QueryRefused):
        return {"refused": error.message,
                "pointer": error_pointer(sql, error.position) if error.position is not None else None}
    if isinstance(error, QueryDenied):
        return {"checks": _checks(error)}
    if isinstance(error, ValidationError):
        return {"error": readable(error)}
    return {"error": str(error)}


REFUSALS = (QueryRefused, QueryDenied, QueryFailed, LimitExceeded, ValidationError)


def _statement_outcome(request, project: Project, sql: str, limit) -> dict:
    """Run ``sql`` as the requesting user; what the templates show of any outcome."""
    try:
        result = query_run(actor=request.user, project=project, sql=sql, limit=limit,
                           source_ip=request_source_ip(request), request=request)
    except REFUSALS as error:
        return _refusal_outcome(error, sql)
    # By position, not name: two output columns may share a name and only one be masked.
    flags = result.prepared.masked_outputs
    headers = [{"name": name, "type": type_name, "masked": index < len(flags) and flags[index]}
               for index, (name, type_name) in enumerate(zip(result.columns, result.column_types, strict=True))]
    return {"result": result, "headers": headers, "summary": _result_summary(result)}


def _result_summary(result: QueryResult) -> str:
    count = result.row_count
    rows = f"{count:,} row{'' if count == 1 else 's'}"
    if result.kind == StatementKind.SELECT:
        return rows + (" (truncated at the limit)" if result.truncated else "")
    if result.kind == StatementKind.CREATE_TABLE:
        return "Table created."
    if result.kind == StatementKind.DROP_TABLE:
        return "Table dropped."
    return f"{rows} written."


@login_required
@require_http_methods(["GET", "POST"])
def query_page(request, project_name: str):
    """One statement at a time, run as the user through the gateway: the rows (masked where
    the user may not see in clear), or why not. ``?sql=`` fills the editor, so a history entry
    is a link that reuses its statement. htmx posts swap the outcome and the history only."""
    project = project_or_404(user=request.user, name=project_name)
    outcome = None
    if request.method == "POST":
        sql, limit = request.POST.get("sql", ""), request.POST.get("limit", "").strip()
        outcome = _statement_outcome(request, project, sql, limit)
    else:
        sql, limit = request.GET.get("sql", ""), ""
    context = _query_context(request, project, sql, outcome, limit)
    if outcome is not None and request.headers.get("HX-Request"):
        return render(request, "gateway/_query_outcome.html", context | {"history_out_of_band": True})
    return render(request, "gateway/query.html", context)


def _query_context(request, project: Project, sql: str, outcome: dict | None, limit="") -> dict:
    return {"project": project, "sql": sql, "limit": limit, "outcome": outcome,
            "history": selectors.query_history(user=request.user, project=project),
            "default_rows": settings.GATEWAY_DEFAULT_ROWS, "max_rows": settings.GATEWAY_MAX_ROWS,
            "export_rows": settings.GATEWAY_EXPORT_MAX_ROWS,
            "tables": selectors.writable_table_names(project=project)}


@login_required
@require_POST
def export_download(request, project_name: str):
    """The statement's result as a watermarked CSV or JSON file, or the query page saying why not."""
    project = project_or_404(user=request.user, name=project_name)
    sql = request.POST.get("sql", "")
    try:
        file = export_run(actor=request.user, project=project, sql=sql, fmt=request.POST.get("format", "csv"),
                          source_ip=request_source_ip(request), request=request)
    except REFUSALS as error:
        return render(request, "gateway/query.html", _query_context(request, project, sql, _refusal_outcome(error, sql)),
                      status=400 if isinstance(error, (QueryRefused, ValidationError, QueryFailed)) else 403)
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


@login_required
@require_POST
def table_upload(request, project_name: str):
    """A CSV file into a table of the project: all rows or none, with each bad value named."""
    project = project_or_404(user=request.user, name=project_name)
    table = request.POST.get("table", "").strip()
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": "Choose a CSV file."})
        if upload.size > settings.GATEWAY_UPLOAD_MAX_BYTES:
            raise ValidationError({"file": f"The file is larger than {settings.GATEWAY_UPLOAD_MAX_BYTES:,} bytes."})
        written = upload_csv(actor=request.user, project=project, table_name=table, content=upload.read(),
                             source_ip=request_source_ip(request), request=request)
    except REFUSALS as error:
        outcome = _refusal_outcome(error, "")
    else:
        outcome = {"uploaded": f"{written:,} row{'' if written == 1 else 's'} written into {table}."}
    return render(request, "gateway/query.html", _query_context(request, project, "", outcome))


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def leak_trace_page(request):
    """Upload a suspected leaked file, or paste part of one: the exports it came from."""
    if not may_trace_leaks(request.user):
        raise PermissionDenied("Leak tracing is for tenant administrators and auditors.")
    findings, error, text = None, None, ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        text = upload.read().decode("utf-8", errors="replace") if upload else request.POST.get("text", "")
        try:
            findings = leak_trace(actor=request.user, text=text, request=request)
        except ValidationError as invalid:
            error = readable(invalid)
    return render(request, "gateway/leak_trace.html", {"findings": findings, "error": error,
                                                        "pasted": "" if request.FILES else text})


def _panel(request, table: Table, template: str, context: dict):
    """The panel alone for htmx, inside a page of its own for a browser without script."""
    context = context | {"table": table, "project": table.data_source.project, "panel_template": template}
    if request.headers.get("HX-Request"):
        return render(request, template, context)
    return render(request, "gateway/table_panel.html", context)


def _preview_sql(table: Table) -> str:
    name = exp.table_(table.name, db=table.data_source.project.name, quoted=True)
    return exp.select("*").from_(name).limit(PREVIEW_ROWS).sql(dialect=DIALECT)


@login_required
@require_GET
def table_preview(request, pk: int):
    """The table's first rows read through the gateway as the viewer: masked, row-filtered
    and audited exactly as the viewer's own SELECT would be."""
    table = _table_or_404(request, pk)
    governed = table.data_source.kind == DataSourceKind.WAREHOUSE and not table.is_dropped
    outcome = (_statement_outcome(request, table.data_source.project, _preview_sql(table), PREVIEW_ROWS)
               if governed else None)
    return _panel(request, table, "gateway/_table_preview.html", {"outcome": outcome, "governed": governed})


@login_required
@require_GET
def table_recent_access(request, pk: int):
    table = _table_or_404(request, pk)
    return _panel(request, table, "gateway/_table_recent_access.html",
                  {"accesses": selectors.table_recent_access(user=request.user, table=table)})
