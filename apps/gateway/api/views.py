"""/api/v1/projects/{project}/queries: run one statement through the gateway.

Not a RestrictedViewSet: its dispatch rolls back everything of a request answered with an
error, and a refused or denied statement must stay in the audit log."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import request_source_ip
from apps.core.api import error_response, validation_error_to_drf
from apps.gateway.api.serializers import (
    ExportRequestSerializer, LeakFindingSerializer, LeakTraceRequestSerializer, QueryResultSerializer, QuerySerializer,
    UploadSerializer,
)
from apps.gateway.uploads import upload_csv
from apps.gateway.exports import export_run, leak_trace
from apps.gateway.limits import LimitExceeded
from apps.gateway.services import QueryDenied, QueryFailed, QueryResult, decision_summary, query_run
from apps.gateway.sql import QueryRefused
from apps.tenancy.api.views import PROJECT_PARAMETER
from apps.tenancy.selectors import project_or_404


def result_as_dict(result: QueryResult) -> dict:
    prepared = result.prepared
    return {
        "kind": str(result.kind), "columns": result.columns, "column_types": result.column_types, "rows": result.rows,
        "masked_columns": result.masked_columns, "row_count": result.row_count, "rows_written": result.rows_written,
        "truncated": result.truncated, "duration_ms": result.duration_ms, "event_id": result.event_id,
        "decision": decision_summary(prepared.checks), "reads": prepared.reads, "writes": prepared.writes,
        "row_filtered": prepared.row_filtered,
    }



def _refusal_response(error: Exception):
    """The answer for a statement the gateway would not run, or None for other errors."""
    if isinstance(error, ValidationError):
        raise validation_error_to_drf(error) from None
    if isinstance(error, QueryRefused):
        return error_response(error.message, code="refused",
                              fields={"sql": [error.message]} | ({"position": [str(error.position)]}
                                                                  if error.position is not None else {}))
    if isinstance(error, QueryFailed):
        return error_response(str(error), code="failed", fields={"sql": [str(error)]})
    if isinstance(error, LimitExceeded):
        response = error_response(error.message, code="rate_limited", status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                                  fields={"limit": [error.setting]})
        response["Retry-After"] = "60" if "MINUTE" in error.setting else "5"
        return response
    if isinstance(error, QueryDenied):
        summary = decision_summary(error.checks)
        first = summary["denied"][0]
        return Response({"error": {"code": "access_denied", "message": f"Access denied: {first['what']}: "
                                                                       f"{first['reason']}.", "fields": {}},
                         "decision": summary}, status=status.HTTP_403_FORBIDDEN)
    return None


GATEWAY_ERRORS = (ValidationError, QueryRefused, QueryFailed, LimitExceeded, QueryDenied)


class QueryView(APIView):
    @extend_schema(summary="Run one statement through the gateway: checked, masked, audited",
                   parameters=[PROJECT_PARAMETER], request=QuerySerializer, responses=QueryResultSerializer)
    def post(self, request, project_name: str):
        project = project_or_404(user=request.user, name=project_name)
        params = QuerySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            result = query_run(actor=request.user, project=project, sql=params.validated_data["sql"],
                               limit=params.validated_data.get("limit"), source_ip=request_source_ip(request),
                               request=request)
        except GATEWAY_ERRORS as error:
            return _refusal_response(error)
        return Response(result_as_dict(result))


class ExportView(APIView):
    @extend_schema(summary="Download a SELECT's result as CSV or JSON (needs Download), watermarked",
                   parameters=[PROJECT_PARAMETER], request=ExportRequestSerializer,
                   responses={(200, "text/csv"): bytes, (200, "application/json"): bytes})
    def post(self, request, project_name: str):
        project = project_or_404(user=request.user, name=project_name)
        params = ExportRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            file = export_run(actor=request.user, project=project, sql=params.validated_data["sql"],
                              fmt=params.validated_data["format"], source_ip=request_source_ip(request),
                              request=request)
        except GATEWAY_ERRORS as error:
            return _refusal_response(error)
        response = HttpResponse(file.content, content_type=file.content_type)
        response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
        response["X-Warden-Export"] = str(file.export.pk)
        return response


class LeakTraceView(APIView):
    @extend_schema(summary="Name the exports a leaked file (or part of one) came from",
                   request=LeakTraceRequestSerializer, responses=LeakFindingSerializer(many=True))
    def post(self, request):
        params = LeakTraceRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data.get("file")
        text = upload.read().decode("utf-8", errors="replace") if upload else params.validated_data["text"]
        findings = leak_trace(actor=request.user, text=text, request=request)
        return Response(LeakFindingSerializer(findings, many=True).data)


class UploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Insert a CSV file's rows into a table (needs Update): all rows or none",
                   parameters=[PROJECT_PARAMETER], request={"multipart/form-data": UploadSerializer},
                   responses={200: dict})
    def post(self, request, project_name: str, table_name: str):
        project = project_or_404(user=request.user, name=project_name)
        params = UploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            rows = upload_csv(actor=request.user, project=project, table_name=table_name,
                              content=params.validated_data["file"].read(), source_ip=request_source_ip(request),
                              request=request)
        except GATEWAY_ERRORS as error:
            return _refusal_response(error)
        return Response({"table": table_name, "rows_written": rows})
