from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors, services
from apps.accounts.forms import AccessKeyCreateForm, LoginForm, SignupForm, add_service_errors
from apps.accounts.models import AccessKey, AccessKeyStatus


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                      require_https=request.is_secure()):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    form = LoginForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.login_attempt(request=request, username=form.cleaned_data["username"],
                                   password=form.cleaned_data["password"])
        except services.LoginRefused as refusal:
            form.add_error(None, refusal.messages)
            status = 429 if refusal.code == "locked_out" else 400
        else:
            return redirect(_next_url(request))
    elif request.method == "POST":
        status = 400
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", ""),
               "signup_enabled": settings.WARDEN_SIGNUP_ENABLED}
    return render(request, "accounts/login.html", context, status=status)


@require_POST
def logout_view(request):
    services.logout(request=request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def signup_view(request):
    if not settings.WARDEN_SIGNUP_ENABLED:
        raise Http404("Sign-up is switched off.")
    form = SignupForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.signup(request=request, tenant_name=data["tenant_name"], username=data["username"],
                                password=data["password"], email=data["email"])
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Welcome to Warden: tenant {data['tenant_name']} is yours.")
                return redirect(settings.LOGIN_REDIRECT_URL)
        status = 400
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def access_key_list_view(request):
    form = AccessKeyCreateForm(request.POST if request.method == "POST" else None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                access_key, secret = services.access_key_create(
                    actor=request.user, description=form.cleaned_data["description"], request=request
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                # Rendered, not redirected: the secret must not travel through the session.
                created = {"key_id": access_key.key_id, "secret": secret}
                form = AccessKeyCreateForm()
        if created is None:
            status = 400
    context = {
        "access_keys": selectors.access_key_list(user=request.user),
        "form": form,
        "created": created,
        "max_keys": AccessKey.MAX_PER_USER,
    }
    response = render(request, "accounts/access_keys.html", context, status=status)
    if created:
        response["Cache-Control"] = "no-store"
    return response


_KEY_ACTIONS = {"enable", "disable", "delete"}


@login_required
@require_POST
def access_key_action_view(request, key_id: str, operation: str):
    if operation not in _KEY_ACTIONS:
        raise Http404
    try:
        access_key = selectors.access_key_get(user=request.user, key_id=key_id)
    except AccessKey.DoesNotExist:
        raise Http404("No such AccessKey.")
    if operation == "delete":
        services.access_key_delete(actor=request.user, access_key=access_key, request=request)
        messages.success(request, f"AccessKey {key_id} deleted.")
    else:
        new_status = AccessKeyStatus.ACTIVE if operation == "enable" else AccessKeyStatus.DISABLED
        services.access_key_set_status(actor=request.user, access_key=access_key, status=new_status,
                                       request=request)
        messages.success(request, f"AccessKey {key_id} {operation}d.")
    return redirect("accounts:access-keys")
