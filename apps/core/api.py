"""Pieces every API module shares: one error shape, pagination, the scoped base viewset."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def validation_error_to_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    """Services raise Django's ValidationError; the API answers it as a field-level 400."""
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


def _field_messages(detail) -> dict:
    if isinstance(detail, dict):
        fields = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub_key, sub_value in _field_messages(value).items():
                    fields[f"{key}.{sub_key}"] = sub_value
            elif isinstance(value, list):
                fields[key] = [str(item) for item in value]
            else:
                fields[key] = [str(value)]
        return fields
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {}


def exception_handler(exc, context):
    """Every error answers ``{"error": {"code", "message", "fields"}}``.

    ``fields`` maps a field name to its messages; errors that concern no field use
    ``non_field_errors``. 404 carries no detail: an object of another tenant is
    indistinguishable from one that does not exist.
    """
    if isinstance(exc, DjangoValidationError):
        exc = validation_error_to_drf(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_messages(exc.detail)
        first = next(iter(fields.values()), ["Invalid input."])
        message = first[0] if list(fields) == ["non_field_errors"] else "Invalid input."
        body = {"code": "invalid", "message": message, "fields": fields}
    elif isinstance(exc, exceptions.NotFound):
        body = {"code": "not_found", "message": "Not found.", "fields": {}}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {
            "code": code if isinstance(code, str) else "error",
            "message": str(detail) if not isinstance(detail, (dict, list)) else "Request failed.",
            "fields": _field_messages(detail) if isinstance(detail, (dict, list)) else {},
        }
    response.data = {"error": body}
    return response


class RestrictedViewSet(viewsets.GenericViewSet):
    """Scopes every queryset with ``restrict(user, action)`` before any view code sees it,
    and runs writes in a transaction so a refused or failing write leaves nothing behind."""

    # Maps DRF actions to the restrict() action; reads use "view".
    write_actions = {"create", "update", "partial_update", "destroy"}

    def get_queryset(self):
        queryset = super().get_queryset()
        restrict_action = "change" if self.action in self.write_actions else "view"
        return queryset.restrict(self.request.user, restrict_action)

    def dispatch(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= status.HTTP_400_BAD_REQUEST:
                transaction.set_rollback(True)
            return response


def error_response(message: str, *, code: str = "invalid", status_code: int = 400, fields=None) -> Response:
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status_code)
