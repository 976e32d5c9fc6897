"""The masking pages: ``/masking/<project>/`` (the project's rules, the tenant rules that apply
to it, a preview of a rule on sample values, the unmask whitelist) and ``/masking/tenant/``
(the tenant-wide rules).

Every page is seen by whoever sees the project (404 otherwise) or belongs to the tenant, and
shows its forms only to those the services would let act. A POST checks who may act before
it reads the form, so a refused user gets the 403 page whatever they sent; bad input becomes
a message and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.catalog.models import Column
from apps.catalog.vocabulary import sensitive_type_list
from apps.core.web import forbidden_as_page, readable
from apps.masking import selectors, services
from apps.masking.algorithms import ALGORITHMS
from apps.masking.models import MaskingRule
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Project
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, project_or_404, role_list
from apps.tenancy.services import require_capability

UNMASK_DEFAULT_DAYS = 30
MAX_UNMASK_DAYS = 36500
PREVIEW_DATA_TYPES = ("text", "integer", "numeric", "date", "timestamp with time zone")
TRUE_VALUES = ("true", "on", "1")


# --- reading forms ----------------------------------------------------------------------------

def _algorithm_code(data) -> str:
    code = data.get("algorithm", "")
    return code if code in ALGORITHMS else next(iter(ALGORITHMS))


def _form_params(data, code: str) -> dict:
    """The algorithm's parameters from fields named ``param_<name>``; an empty field keeps the
    parameter's default. Values stay as typed: ``params_validated`` converts and checks them."""
    params = {}
    for parameter in ALGORITHMS[code].parameters:
        value = data.get(f"param_{parameter.name}", "")
        # A mask character may well be a space; other values lose the spaces around them.
        value = value if parameter.kind == "char" else value.strip()
        if value:
            params[parameter.name] = value
    return params


def _rule_fields(data) -> dict:
    if data.get("algorithm", "") not in ALGORITHMS:
        raise ValidationError({"algorithm": "Choose an algorithm."})
    return {"name": data.get("name", ""), "algorithm": data["algorithm"],
            "params": _form_params(data, data["algorithm"]), "enabled": data.get("enabled", "").lower() in TRUE_VALUES,
            "description": data.get("description", "")}


def _readable(error: ValidationError) -> str:
    """``readable``, with a parameter's errors under its label ("Mask character: ...")
    rather than the services' key ("params.mask_char")."""
    if not hasattr(error, "error_dict"):
        return readable(error)
    labels = {f"params.{parameter.name}": parameter.label
              for algorithm in ALGORITHMS.values() for parameter in algorithm.parameters}
    parts = [f"{labels[field]}: {' '.join(field_messages)}" for field, field_messages in error.message_dict.items()
             if field in labels]
    rest = {field: field_messages for field, field_messages in error.message_dict.items() if field not in labels}
    return " ".join(parts + ([readable(ValidationError(rest))] if rest else []))


def _apply(request, service, success: str, parse):
    """Reads the form with ``parse``, then runs ``service`` as the requesting user with what
    it returned; a ValidationError of either is a message and nothing changes. Returns the
    service's result, or None when it refused."""
    try:
        result = service(actor=request.user, request=request, **parse())
    except ValidationError as error:
        messages.error(request, _readable(error))
        return None
    messages.success(request, success)
    return result


def _back(request, default: str, anchor: str = ""):
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = default
    return redirect(target + anchor)



def _rules_url(project: Project) -> str:
    return reverse("masking:rules", kwargs={"name": project.name})


def _tenant_url() -> str:
    return reverse("masking:tenant")


# --- what the pages show ------------------------------------------------------------------------

def _algorithm_forms(selected: str, params: dict | None = None) -> list[dict]:
    """The parameter fields of ``selected``, filled with ``params`` or the defaults."""
    params = params or {}
    return [{"parameter": parameter, "field": f"param_{parameter.name}",
             "value": params.get(parameter.name, parameter.default)}
            for parameter in ALGORITHMS[selected].parameters]


def _with_forms(rules) -> list[MaskingRule]:
    rules = list(rules)
    for rule in rules:
        rule.parameter_fields = _algorithm_forms(rule.algorithm, rule.params) if rule.algorithm in ALGORITHMS else []
        rule.form_prefix = f"rule-{rule.pk}-"
        rule.algorithm_name = ALGORITHMS[rule.algorithm].name if rule.algorithm in ALGORITHMS else rule.algorithm
    return rules


def _common(request, *, preview=None, preview_input=None) -> dict:
    preview_input = preview_input or {}
    selected = _algorithm_code(preview_input)
    return {"algorithms": list(ALGORITHMS.values()), "new_rule_fields": _algorithm_forms(next(iter(ALGORITHMS))),
            "preview": preview, "preview_input": preview_input,
            "preview_fields": _algorithm_forms(selected, preview_input.get("params")), "preview_algorithm": selected,
            "data_types": PREVIEW_DATA_TYPES, "sensitive_types": sensitive_type_list(user=request.user)}


def _project_page(request, project: Project, *, status: int = 200, **context):
    tables = warehouse_tables(project).order_by("name").prefetch_related(
        Prefetch("columns", queryset=Column.objects.live().order_by("ordinal", "name"), to_attr="live_columns"))
    may_manage = Capability.MANAGE_SECURITY in project_capabilities(request.user, project)
    response = render(request, "masking/rules.html", {
        "project": project, "section": "masking", "may_manage": may_manage,
        "may_manage_tenant": services.may_manage_rules(request.user, tenant_id=project.tenant_id, project=None),
        "rules": _with_forms(selectors.masking_rule_list(user=request.user, project=project)),
        "tenant_rules": _with_forms(selectors.masking_rule_list(user=request.user).filter(tenant_id=project.tenant_id)),
        "tables": tables, "grants": selectors.unmask_grant_list(user=request.user, project=project),
        "members": [membership.user for membership in member_list(user=request.user, project=project)],
        "roles": role_list(user=request.user, project=project), "now": timezone.now(),
        "unmask_default_days": UNMASK_DEFAULT_DAYS, **_common(request, **context)})
    response.status_code = status
    return response


def _tenant_page(request, *, status: int = 200, **context):
    tenant_id = request.user.tenant_id
    response = render(request, "masking/tenant.html", {
        "may_manage_tenant": services.may_manage_rules(request.user, tenant_id=tenant_id, project=None),
        "tenant_rules": _with_forms(selectors.masking_rule_list(user=request.user)), **_common(request, **context)})
    response.status_code = status
    return response


def _require_tenant_account(request) -> None:
    if request.user.tenant_id is None:
        raise Http404("Tenant-wide rules belong to a tenant.")


def _rule_or_404(request, pk: int, project: Project | None) -> MaskingRule:
    try:
        return selectors.masking_rule_get(user=request.user, pk=pk, project=project)
    except MaskingRule.DoesNotExist:
        raise Http404("No such masking rule.") from None


# --- the project page ---------------------------------------------------------------------------

@login_required
@require_GET
def rules_page(request, name: str):
    return _project_page(request, project_or_404(user=request.user, name=name))


@login_required
@require_GET
def algorithm_parameters(request):
    """The parameter fields of the chosen algorithm, for the forms (HTMX)."""
    code = _algorithm_code(request.GET)
    return render(request, "masking/_parameters.html", {"fields": _algorithm_forms(code),
                                                        "prefix": request.GET.get("prefix", "")})


def _target(request, project: Project, value: str) -> dict:
    """``type:<id>`` or ``column:<id>`` as the service's target arguments."""
    kind, _, pk = (value or "").partition(":")
    if kind == "type" and pk.isdigit():
        sensitive_type = sensitive_type_list(user=request.user).filter(pk=int(pk)).first()
        if sensitive_type is not None:
            return {"sensitive_type": sensitive_type}
    if kind == "column" and pk.isdigit():
        column = Column.objects.live().filter(pk=int(pk), table__in=warehouse_tables(project)).first()
        if column is not None:
            return {"column": column}
    raise ValidationError({"target": "Choose a sensitive type or a column of the project."})


@login_required
@require_POST
@forbidden_as_page
def rule_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    services.require_rule_manager(request.user, tenant_id=project.tenant_id, project=project)
    _apply(request, services.masking_rule_create, "Masking rule created.",
           lambda: {"project": project, **_target(request, project, request.POST.get("target", "")),
                    **_rule_fields(request.POST)})
    return _back(request, _rules_url(project), "#rules")


@login_required
@require_POST
@forbidden_as_page
def rule_update(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    rule = _rule_or_404(request, pk, project)
    services.require_rule_manager(request.user, tenant_id=rule.tenant_id, project=project)
    _apply(request, services.masking_rule_update, f"Masking rule {rule.name} saved.",
           lambda: {"rule": rule, **_rule_fields(request.POST)})
    return _back(request, _rules_url(project), f"#rule-{rule.pk}")


@login_required
@require_POST
@forbidden_as_page
def rule_delete(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    rule = _rule_or_404(request, pk, project)
    services.require_rule_manager(request.user, tenant_id=rule.tenant_id, project=project)
    _apply(request, services.masking_rule_delete, f"Masking rule {rule.name} deleted.", lambda: {"rule": rule})
    return _back(request, _rules_url(project), "#rules")


def _preview(request, *, tenant_id: int, rule: MaskingRule | None) -> tuple[dict, list | None]:
    """Runs the preview form: ``rule``'s algorithm and parameters, or those typed, on one
    sample a line. Returns what was typed and the rows (sample, masked), or None."""
    data = request.POST
    preview_input = {"algorithm": _algorithm_code(data), "samples": data.get("samples", ""),
                     "data_type": data.get("data_type", "text"), "rule": data.get("rule", "")}
    preview_input["params"] = _form_params(data, preview_input["algorithm"])
    algorithm, params = (rule.algorithm, rule.params) if rule else (preview_input["algorithm"],
                                                                      preview_input["params"])
    samples = [line.rstrip("\r") for line in preview_input["samples"].split("\n") if line.strip()]
    try:
        masked = selectors.masking_preview(algorithm=algorithm, params=params, samples=samples,
                                           data_type=preview_input["data_type"], tenant=tenant_id)
    except ValidationError as error:
        messages.error(request, _readable(error))
        return preview_input, None
    return preview_input, list(zip(samples, masked))


def _previewed_rule(request, project: Project | None) -> MaskingRule | None:
    """The rule the preview form names, if any: one of the project's or a tenant-wide one of
    its tenant (only tenant-wide ones on the tenant page)."""
    pk = request.POST.get("rule", "")
    if not pk.isdigit():
        return None
    rule = None
    if project is not None:
        rule = selectors.masking_rule_list(user=request.user, project=project).filter(pk=pk).first()
    rule = rule or selectors.masking_rule_list(user=request.user).filter(pk=pk).first()
    if rule is None or (project is not None and rule.tenant_id != project.tenant_id):
        raise Http404("No such masking rule.")
    return rule


@login_required
@require_POST
@forbidden_as_page
def preview(request, name: str):
    project = project_or_404(user=request.user, name=name)
    services.require_rule_manager(request.user, tenant_id=project.tenant_id, project=project)
    preview_input, rows = _preview(request, tenant_id=project.tenant_id, rule=_previewed_rule(request, project))
    return _project_page(request, project, status=200 if rows is not None else 400, preview=rows,
                         preview_input=preview_input)


# --- the unmask whitelist ---------------------------------------------------------------------

def _subject(request, project: Project, value: str) -> dict:
    kind, _, name = (value or "").partition(":")
    if kind == "user" and name:
        membership = member_list(user=request.user, project=project).filter(user__username=name).first()
        if membership is not None:
            return {"user": membership.user}
    if kind == "role" and name:
        role = role_list(user=request.user, project=project).filter(name__iexact=name).first()
        if role is not None:
            return {"role": role}
    raise ValidationError({"subject": "Choose a member or a role of the project."})


def _expiry(data):
    if data.get("no_expiry", "").lower() in TRUE_VALUES:
        return None
    text = data.get("days", "").strip() or str(UNMASK_DEFAULT_DAYS)
    if not text.isdigit() or not 1 <= int(text) <= MAX_UNMASK_DAYS:
        raise ValidationError({"days": f"Use a whole number from 1 to {MAX_UNMASK_DAYS}."})
    return timezone.now() + timedelta(days=int(text))


def _unmask_form(request, project: Project) -> dict:
    table = warehouse_tables(project).filter(name=request.POST.get("table_name", "")).first()
    if table is None:
        raise ValidationError({"table": "Choose a table of the project."})
    columns = [name.strip() for name in request.POST.get("columns", "").split(",") if name.strip()]
    return {"project": project, "table": table, "columns": columns,
            **_subject(request, project, request.POST.get("subject", "")), "expires_at": _expiry(request.POST),
            "reason": request.POST.get("reason", ""), "origin": "ui"}


@login_required
@require_POST
@forbidden_as_page
def unmask_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    require_capability(request.user, project, Capability.MANAGE_SECURITY)
    _apply(request, services.unmask_grant_create, "Unmask grant given.", lambda: _unmask_form(request, project))
    return redirect(_rules_url(project) + "#unmask")


@login_required
@require_POST
@forbidden_as_page
def unmask_revoke(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    grant = selectors.unmask_grant_list(user=request.user, project=project).filter(pk=pk).first()
    if grant is None:
        raise Http404("No such unmask grant.")
    require_capability(request.user, project, Capability.MANAGE_SECURITY)
    _apply(request, services.unmask_grant_revoke, "Unmask grant revoked.", lambda: {"grant": grant})
    return redirect(_rules_url(project) + "#unmask")


# --- the tenant page ----------------------------------------------------------------------------

@login_required
@require_GET
def tenant_rules_page(request):
    _require_tenant_account(request)
    return _tenant_page(request)


def _tenant_type(request) -> dict:
    value = request.POST.get("sensitive_type", "")
    sensitive_type = sensitive_type_list(user=request.user).filter(pk=value).first() if value.isdigit() else None
    if sensitive_type is None:
        raise ValidationError({"sensitive_type": "Choose a sensitive type."})
    return {"sensitive_type": sensitive_type}


def _require_tenant_manager(request) -> None:
    _require_tenant_account(request)
    services.require_rule_manager(request.user, tenant_id=request.user.tenant_id, project=None)


@login_required
@require_POST
@forbidden_as_page
def tenant_rule_create(request):
    _require_tenant_manager(request)
    _apply(request, services.masking_rule_create, "Tenant-wide masking rule created.",
           lambda: {**_tenant_type(request), **_rule_fields(request.POST)})
    return _back(request, _tenant_url(), "#rules")


@login_required
@require_POST
@forbidden_as_page
def tenant_rule_update(request, pk: int):
    _require_tenant_account(request)
    rule = _rule_or_404(request, pk, None)
    _require_tenant_manager(request)
    _apply(request, services.masking_rule_update, f"Masking rule {rule.name} saved.",
           lambda: {"rule": rule, **_rule_fields(request.POST)})
    return _back(request, _tenant_url(), f"#rule-{rule.pk}")


@login_required
@require_POST
@forbidden_as_page
def tenant_rule_delete(request, pk: int):
    _require_tenant_account(request)
    rule = _rule_or_404(request, pk, None)
    _require_tenant_manager(request)
    _apply(request, services.masking_rule_delete, f"Masking rule {rule.name} deleted.", lambda: {"rule": rule})
    return _back(request, _tenant_url(), "#rules")


@login_required
@require_POST
@forbidden_as_page
def tenant_preview(request):
    _require_tenant_manager(request)
    preview_input, rows = _preview(request, tenant_id=request.user.tenant_id, rule=_previewed_rule(request, None))
    return _tenant_page(request, status=200 if rows is not None else 400, preview=rows, preview_input=preview_input)

