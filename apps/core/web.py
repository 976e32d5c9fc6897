"""What the server-rendered pages of every app share: one way to show a refused action and
a service's validation errors."""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render


def readable(error: ValidationError) -> str:
    """A service's ValidationError as one sentence for a page message."""
    if hasattr(error, "error_dict"):
        parts = []
        for field, field_messages in error.message_dict.items():
            label = "" if field in ("__all__", "non_field_errors") else f"{field.replace('_', ' ').capitalize()}: "
            parts.append(label + " ".join(field_messages))
        return " ".join(parts)
    return " ".join(error.messages)


def form_errors(form) -> str:
    return readable(ValidationError({field: list(errors) for field, errors in form.errors.items()}))


def forbidden_as_page(view):
    """Renders a refused action as a 403 page with the service's reason."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            return render(request, "forbidden.html", {"reason": str(error)}, status=403)
    return wrapper


def apply_service(request, service, success: str, **kwargs):
    """Runs one service as the requesting user; a ValidationError becomes an error message,
    success a success message. Returns the service's result, or None when it refused."""
    try:
        result = service(actor=request.user, request=request, **kwargs)
    except ValidationError as error:
        messages.error(request, readable(error))
        return None
    messages.success(request, success)
    return result if result is not None else True
