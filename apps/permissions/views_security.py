"""The security pages of a project (``/security/<project>/``): the overview with its switches,
protection, trusted projects and IP whitelists; grants; roles; policies; labels; packages.

Every page is seen by whoever sees the project (404 otherwise) and shows its forms only to
those the services would let act. Every form posts to a view that calls one service through
``apply_service`` under ``forbidden_as_page``: bad input becomes a message and changes
nothing, a refusal the 403 page with the service's reason.
"""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.catalog.models import Column
from apps.core.web import apply_service, forbidden_as_page, readable
from apps.permissions import services
from apps.permissions.actions import ACTIONS, ALL, OBJECT_TYPES, PACKAGE_DEFAULT_ACTIONS
from apps.permissions.facts import FLAG_DEFAULTS
from apps.permissions.impact import impact_preview
from apps.permissions.models import (
    MAX_LEVEL,
    Clearance,
    Grant,
    Network,
    Origin,
    PackageAllowance,
    Policy,
    TableLabel,
    TrustedProject,
)
from apps.permissions.policy import policy_document_parse
from apps.permissions.selectors import (
    FLAG_FIELDS,
    grant_list,
    label_grant_list,
    package_install_list,
    package_list,
    portal_permission_list,
    project_security,
    tenant_security,
    warehouse_tables,
)
from apps.permissions.services import Management
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import Project, RoleAssignment, RoleType
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, project_or_404, role_assignment_get, role_list

FLAG_DESCRIPTIONS = {
    "CheckPermissionUsingACL": "ACL grants are checked.",
    "CheckPermissionUsingPolicy": "Policies are checked; an explicit Deny wins.",
    "ObjectCreatorHasAccessPermission": "A table's creator may access it without a grant.",
    "ObjectCreatorHasGrantPermission": "A table's creator may grant others access to it.",
    "LabelSecurity": "Column levels are compared with clearances (No-ReadUp).",
    "NoWriteDown": "Data read at a level may not be written into a column labelled lower.",
    "ProjectProtection": "Data may not leave the project, except to trusted projects, through packages, or as "
                         "the exception policy allows.",
}
MAX_FORM_DAYS = 36500
LEVELS = range(MAX_LEVEL + 1)


# --- shared -----------------------------------------------------------------------------------

def _manages(user, project: Project, management: str) -> bool:
    """Whether the service would let ``user`` act: the forms are shown to exactly them."""
    try:
        services.require_manager(user, project, management)
    except PermissionDenied:
        return False
    return True


def _manages_tenant(user, project: Project) -> bool:
    try:
        services.require_tenant_manager(user, project.tenant)
    except PermissionDenied:
        return False
    return True


def _page(request, project: Project, template: str, section: str, **context):
    held = project_capabilities(request.user, project)
    return render(request, f"permissions/security/{template}", {
        "project": project, "section": section,
        "may_grant": _manages(request.user, project, Management.GRANTS),
        "may_label": _manages(request.user, project, Management.LABELS),
        "may_secure": _manages(request.user, project, Management.SECURITY),
        "may_install": _manages(request.user, project, Management.INSTALLS),
        "may_manage_roles": Capability.MANAGE_ROLES in held,
        **context,
    })


def _apply(request, service, success: str, parse):
    """Reads the form with ``parse`` (a ValidationError is a message and nothing changes),
    then runs ``service`` with what it returned."""
    try:
        arguments = parse()
    except ValidationError as error:
        messages.error(request, readable(error))
        return None
    return apply_service(request, service, success, **arguments)


def _back(name: str, project: Project, anchor: str = ""):
    return redirect(reverse(f"permissions:{name}", kwargs={"name": project.name}) + anchor)


def _whole_number(value, field: str, *, minimum: int = 0, maximum: int = MAX_FORM_DAYS,
                  required: bool = True) -> int | None:
    text = (value or "").strip()
    if not text and not required:
        return None
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise ValidationError({field: f"Use a whole number from {minimum} to {maximum}."})
    return int(text)


def _days_from_now(value, field: str):
    days = _whole_number(value, field, minimum=1, required=False)
    return None if days is None else timezone.now() + timedelta(days=days)


def _names(text: str) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _subject(request, project: Project, value: str) -> dict:
    """``user:<username>`` or ``role:<name>`` as the services' subject arguments. Removed
    members count too: revokes and clearances reach the rows MaxCompute keeps for them."""
    kind, _, name = (value or "").partition(":")
    if kind == "user" and name:
        membership = member_list(user=request.user, project=project, include_removed=True).filter(
            user__username=name).first()
        if membership is not None:
            return {"subject_user": membership.user}
    if kind == "role" and name:
        role = role_list(user=request.user, project=project).filter(name__iexact=name).first()
        if role is not None:
            return {"subject_role": role}
    raise ValidationError({"subject": "Choose a member or a role of the project."})


def _subjects(request, project: Project) -> dict:
    return {"members": [membership.user for membership in member_list(user=request.user, project=project)],
            "roles": list(role_list(user=request.user, project=project))}


# --- overview: switches, protection, trusted projects, IP whitelists --------------------------

@login_required
@require_GET
def security_overview(request, name: str):
    project = project_or_404(user=request.user, name=name)
    security = project_security(project)
    flags = [{"name": flag, "value": getattr(security, FLAG_FIELDS[flag]), "default": default,
              "description": FLAG_DESCRIPTIONS[flag]} for flag, default in FLAG_DEFAULTS.items()]
    counts = {
        "grants": Grant.objects.restrict(request.user).filter(project=project).count(),
        "roles": role_list(user=request.user, project=project).count(),
        "policies": Policy.objects.restrict(request.user).filter(project=project).count(),
        "clearances": Clearance.objects.restrict(request.user).filter(project=project).count(),
        "label_grants": label_grant_list(user=request.user, project=project).count(),
        "packages": package_list(user=request.user, project=project).count(),
        "installed_packages": package_install_list(user=request.user, project=project).count(),
    }
    exception = security.protection_exception
    return _page(request, project, "overview.html", "overview",
                 security=security, flags=flags, counts=counts,
                 exception_text=json.dumps(json.loads(exception), indent=2) if exception else "",
                 trusted=TrustedProject.objects.restrict(request.user).filter(project=project)
                 .select_related("trusted", "added_by").order_by("trusted__name"),
                 tenant=tenant_security(project.tenant_id), may_tenant=_manages_tenant(request.user, project),
                 networks=Network.choices, portal_permissions=portal_permission_list(project=project),
                 portal_permission_names=services.PORTAL_PERMISSIONS,
                 tables=warehouse_tables(project).order_by("name").values_list("name", flat=True),
                 **_subjects(request, project))


@login_required
@require_POST
@forbidden_as_page
def flag_set(request, name: str):
    project = project_or_404(user=request.user, name=name)
    flag = request.POST.get("name", "")

    def parse():
        if flag == "ProjectProtection":
            raise ValidationError({"name": "ProjectProtection is set with its exception policy below."})
        value = request.POST.get("value")
        if value not in ("true", "false"):
            raise ValidationError({"value": "Use true or false."})
        return {"project": project, "name": flag, "value": value == "true"}

    _apply(request, services.security_flag_set, f"{flag} set.", parse)
    return _back("security", project, "#switches")


@login_required
@require_POST
@forbidden_as_page
def protection_set(request, name: str):
    project = project_or_404(user=request.user, name=name)

    def parse():
        return {"project": project, "enabled": request.POST.get("enabled") == "true",
                "exception_policy": request.POST.get("exception_policy", "")}

    _apply(request, services.project_protection_set, "ProjectProtection set.", parse)
    return _back("security", project, "#protection")


def _portal_permission_form(request, project: Project) -> dict:
    subject = _subject(request, project, "user:" + request.POST.get("username", ""))
    return {"project": project, "user": subject["subject_user"], "permission": request.POST.get("permission", ""),
            "table_name": request.POST.get("table_name", "").strip() or None}


@login_required
@require_POST
@forbidden_as_page
def portal_permission_assign(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.portal_permission_assign, "Permission given.",
           lambda: _portal_permission_form(request, project))
    return _back("security", project, "#portal-permissions")


@login_required
@require_POST
@forbidden_as_page
def portal_permission_remove(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.portal_permission_remove, "Permission taken back.",
           lambda: _portal_permission_form(request, project))
    return _back("security", project, "#portal-permissions")


@login_required
@require_POST
@forbidden_as_page
def trusted_project_add(request, name: str):
    project = project_or_404(user=request.user, name=name)
    trusted = request.POST.get("trusted_name", "").strip()
    _apply(request, services.trusted_project_add, f"{trusted} is now a trusted project.",
           lambda: {"project": project, "trusted_name": trusted})
    return _back("security", project, "#trusted")


@login_required
@require_POST
@forbidden_as_page
def trusted_project_remove(request, name: str):
    project = project_or_404(user=request.user, name=name)
    trusted = request.POST.get("trusted_name", "").strip()
    _apply(request, services.trusted_project_remove, f"{trusted} is no longer a trusted project.",
           lambda: {"project": project, "trusted_name": trusted})
    return _back("security", project, "#trusted")


def _whitelist_entries(request) -> dict:
    # One entry a line or comma-separated, as the setproject statement writes them.
    return {"network": request.POST.get("network", ""),
            "entries": request.POST.get("entries", "").replace("\n", ",")}


@login_required
@require_POST
@forbidden_as_page
def ip_whitelist_set(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.ip_whitelist_set, "The project's whitelist is saved.",
           lambda: {"project": project, **_whitelist_entries(request)})
    return _back("security", project, "#whitelists")


@login_required
@require_POST
@forbidden_as_page
def tenant_ip_whitelist_set(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.tenant_ip_whitelist_set, f"The whitelist of tenant {project.tenant.name} is saved.",
           lambda: {"tenant": project.tenant, **_whitelist_entries(request)})
    return _back("security", project, "#whitelists")


# --- grants -----------------------------------------------------------------------------------

def _grouped(grants: list[Grant], *, by_object: bool) -> list[tuple[str, list[Grant]]]:
    """The grants under one heading per object, or per subject with users before roles."""
    def order(grant: Grant):
        if by_object:
            return grant.object_type, grant.object_name.lower()
        return grant.role_id is not None, grant.subject_label.lower()

    def heading(grant: Grant) -> str:
        return f"{grant.object_type} {grant.object_name}" if by_object else grant.subject_label

    groups = (list(items) for _, items in groupby(sorted(grants, key=order), key=order))
    return [(heading(items[0]), items) for items in groups]


@login_required
@require_GET
def grants_page(request, name: str):
    """The project's grants by subject or by object, filtered by subject, object type and
    object name; the grant form is filled from ``object_type`` and ``object`` too."""
    project = project_or_404(user=request.user, name=name)
    params = request.GET
    filters = {}
    try:
        if params.get("subject"):
            filters.update(_subject(request, project, params["subject"]))
    except ValidationError as error:
        messages.error(request, readable(error))
    if params.get("object_type") in OBJECT_TYPES:
        filters["object_type"] = params["object_type"]
    if params.get("object", "").strip():
        filters["object_name"] = params["object"].strip()
    grants = list(grant_list(user=request.user, project=project, **filters))
    by_object = params.get("by") == "object"
    groups = _grouped(grants, by_object=by_object)
    return _page(request, project, "grants.html", "grants", groups=groups, by_object=by_object, params=params,
                 now=timezone.now(), object_types=OBJECT_TYPES,
                 actions={object_type: actions + (ALL,) for object_type, actions in ACTIONS.items()},
                 tables=warehouse_tables(project).order_by("name").values_list("name", flat=True),
                 installs=package_install_list(user=request.user, project=project), **_subjects(request, project))


@login_required
@require_POST
@forbidden_as_page
def grant_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    post = request.POST

    def parse():
        object_type = post.get("object_type", "")
        install = None
        if post.get("package_install"):
            install = package_install_list(user=request.user, project=project).filter(
                pk=_whole_number(post["package_install"], "package_install", maximum=2**63 - 1)).first()
            if install is None:
                raise ValidationError({"package_install": "Choose a package installed in the project."})
        return {"project": project, **_subject(request, project, post.get("subject", "")),
                "object_type": object_type, "object_name": post.get("object_name", ""),
                "actions": post.getlist(f"actions_{object_type}"), "columns": _names(post.get("columns", "")),
                "expires_at": _days_from_now(post.get("expires_days"), "expires_days"),
                "condition": post.get("condition", "").strip() or None, "origin": Origin.UI,
                "package_install": install}

    _apply(request, services.grant_create, "Granted.", parse)
    return _back("security-grants", project)


@login_required
@require_POST
@forbidden_as_page
def grant_revoke(request, name: str, pk: int):
    """Revokes what a grant row holds: its actions on its object (and its columns) from its
    subject, as the revoke statement does."""
    project = project_or_404(user=request.user, name=name)
    grant = grant_list(user=request.user, project=project).filter(pk=pk).first()
    if grant is None:
        raise Http404("No such grant.")
    _apply(request, services.grant_revoke, f"Revoked {', '.join(grant.actions)} on {grant.object_type} "
                                           f"{grant.object_name} from {grant.subject_label}.",
           lambda: {"project": project, "subject_user": grant.user, "subject_role": grant.role,
                    "object_type": grant.object_type, "object_name": grant.object_name, "actions": grant.actions,
                    "columns": grant.columns, "package_install": grant.package_install})
    return _back("security-grants", project)


# --- roles ------------------------------------------------------------------------------------

@login_required
@require_GET
def roles_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    roles = list(role_list(user=request.user, project=project))
    grants_of: dict[int, list[Grant]] = {}
    for grant in grant_list(user=request.user, project=project).filter(role__isnull=False):
        grants_of.setdefault(grant.role_id, []).append(grant)
    statements_of = {policy.role_id: len(json.loads(policy.document).get("Statement", []))
                     for policy in Policy.objects.restrict(request.user).filter(project=project, role__isnull=False)}
    clearance_of = dict(Clearance.objects.restrict(request.user).filter(project=project, role__isnull=False)
                        .values_list("role_id", "level"))
    rows = [{"role": role, "grants": grants_of.get(role.pk, []), "statements": statements_of.get(role.pk),
             "clearance": clearance_of.get(role.pk, 0)} for role in roles]
    return _page(request, project, "roles.html", "roles", rows=rows, role_types=RoleType.choices,
                 members=[membership.user for membership in member_list(user=request.user, project=project)])


def _role_or_404(request, project: Project, role_name: str):
    role = role_list(user=request.user, project=project).filter(name=role_name).first()
    if role is None:
        raise Http404("No such role.")
    return role


@login_required
@require_POST
@forbidden_as_page
def role_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    role_name = request.POST.get("name", "").strip()
    _apply(request, tenancy_services.role_create, f"Role {role_name} created.",
           lambda: {"project": project, "name": role_name, "role_type": request.POST.get("role_type", ""),
                    "description": request.POST.get("description", "")})
    return _back("security-roles", project)


@login_required
@require_POST
@forbidden_as_page
def role_drop(request, name: str, role: str):
    project = project_or_404(user=request.user, name=name)
    target = _role_or_404(request, project, role)
    _apply(request, tenancy_services.role_drop, f"Role {target.name} dropped.", lambda: {"role": target})
    return _back("security-roles", project)


@login_required
@require_POST
@forbidden_as_page
def role_assign(request, name: str, role: str):
    project = project_or_404(user=request.user, name=name)
    target = _role_or_404(request, project, role)

    def parse():
        subject = _subject(request, project, "user:" + request.POST.get("username", ""))
        return {"role": target, "user": subject["subject_user"]}

    _apply(request, tenancy_services.role_assign, f"{request.POST.get('username', '')} now holds {target.name}.",
           parse)
    return _back("security-roles", project, f"#role-{target.name}")


@login_required
@require_POST
@forbidden_as_page
def role_unassign(request, name: str, role: str, username: str):
    project = project_or_404(user=request.user, name=name)
    target = _role_or_404(request, project, role)
    try:
        assignment = role_assignment_get(user=request.user, role=target, username=username)
    except RoleAssignment.DoesNotExist:
        raise Http404("No such role holder.") from None
    _apply(request, tenancy_services.role_unassign, f"{username} no longer holds {target.name}.",
           lambda: {"assignment": assignment})
    return _back("security-roles", project, f"#role-{target.name}")


# --- policies ---------------------------------------------------------------------------------

def _pretty(document: str) -> str:
    return json.dumps(json.loads(document), indent=2)


@login_required
@require_GET
def policies_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    return _policies(request, project)


def _policies(request, project: Project, *, drafts: dict | None = None, status: int = 200, impact=None):
    """The project policy and each role's; ``drafts`` keeps what a refused save typed, by
    role name ("" for the project's)."""
    drafts = drafts or {}
    stored = {policy.role_id: policy for policy in
              Policy.objects.restrict(request.user).filter(project=project).select_related("updated_by")}
    editors = [{"role": None, "key": "", "policy": stored.get(None)}]
    editors += [{"role": role, "key": role.name, "policy": stored.get(role.pk)}
                for role in role_list(user=request.user, project=project)]
    for editor in editors:
        policy = editor["policy"]
        editor["text"] = drafts.get(editor["key"], _pretty(policy.document) if policy else "")
        editor["draft"] = editor["key"] in drafts
        editor["report"] = impact[1] if impact and impact[0] == editor["key"] else None
    response = _page(request, project, "policies.html", "policies", editors=editors)
    response.status_code = status
    return response


def _policy_check(project: Project, text: str, scope: str) -> dict:
    if not text.strip():
        return {"empty": True}
    try:
        parsed = policy_document_parse(text, scope=scope, project_name=project.name, tenant_name=project.tenant.name)
    except ValidationError as error:
        return {"errors": error.messages}
    return {"statements": len(parsed.statements)}


@login_required
@require_POST
def policy_validate(request, name: str):
    """The editor's check as the user types: the document's errors, each starting with the
    JSON path of the bad part, or how many statements it holds. Nothing is stored."""
    project = project_or_404(user=request.user, name=name)
    scope = request.POST.get("scope", "project")
    if scope not in ("project", "role", "exception"):
        scope = "project"
    # The protection form names its document after the service's argument.
    document = request.POST.get("document", request.POST.get("exception_policy", ""))
    return render(request, "permissions/security/_policy_check.html", _policy_check(project, document, scope))


@login_required
@require_POST
@forbidden_as_page
def policy_save(request, name: str):
    project = project_or_404(user=request.user, name=name)
    key = request.POST.get("role", "")
    role = _role_or_404(request, project, key) if key else None
    document = request.POST.get("document", "")
    owner = f"role {role.name}'s policy" if role else "The project policy"
    if request.POST.get("action") == "preview":
        try:
            report = impact_preview(actor=request.user, project=project, change=lambda: services.policy_put(
                actor=request.user, project=project, role=role, document=document))
        except ValidationError as error:
            messages.error(request, readable(error))
            return _policies(request, project, drafts={key: document}, status=400)
        return _policies(request, project, drafts={key: document}, impact=(key, report))
    if _apply(request, services.policy_put, f"{owner[0].upper()}{owner[1:]} is saved.",
              lambda: {"project": project, "role": role, "document": document}) is None:
        return _policies(request, project, drafts={key: document}, status=400)
    return _back("security-policies", project, f"#policy-{key or 'project'}")


# --- labels -----------------------------------------------------------------------------------

@login_required
@require_GET
def labels_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    tables = list(warehouse_tables(project).order_by("name").prefetch_related(
        Prefetch("columns", queryset=Column.objects.live().order_by("ordinal", "name"), to_attr="live_columns")))
    table_levels = dict(TableLabel.objects.filter(table__in=tables).values_list("table_id", "level"))
    for table in tables:
        table.level = table_levels.get(table.pk, 0)
        for column in table.live_columns:
            column.effective_level = column.sensitivity_level if column.sensitivity_level is not None else table.level
    clearances = Clearance.objects.restrict(request.user).filter(project=project)
    user_levels = dict(clearances.filter(user__isnull=False).values_list("user_id", "level"))
    role_levels = dict(clearances.filter(role__isnull=False).values_list("role_id", "level"))
    subjects = _subjects(request, project)
    for member in subjects["members"]:
        member.clearance = user_levels.get(member.pk, 0)
    for role in subjects["roles"]:
        role.clearance = role_levels.get(role.pk, 0)
    return _page(request, project, "labels.html", "labels", tables=tables, levels=LEVELS, now=timezone.now(),
                 label_grants=label_grant_list(user=request.user, project=project),
                 label_security=project_security(project).label_security, **subjects)


@login_required
@require_POST
@forbidden_as_page
def table_label_set(request, name: str):
    project = project_or_404(user=request.user, name=name)
    table_name = request.POST.get("table_name", "")
    _apply(request, services.table_label_set, f"Label of {table_name} set.",
           lambda: {"project": project, "table_name": table_name, "columns": _names(request.POST.get("columns", "")),
                    "level": _whole_number(request.POST.get("level"), "level", maximum=MAX_LEVEL)})
    return _back("security-labels", project, f"#table-{table_name.strip()}")


@login_required
@require_POST
@forbidden_as_page
def clearance_set(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.clearance_set, "Clearance set.",
           lambda: {"project": project, **_subject(request, project, request.POST.get("subject", "")),
                    "level": _whole_number(request.POST.get("level"), "level", maximum=MAX_LEVEL)})
    return _back("security-labels", project, "#clearances")


def _label_grant_days(value) -> int:
    days = _whole_number(value, "days", required=False)
    return services.LABEL_GRANT_DEFAULT_DAYS if days is None else days


@login_required
@require_POST
@forbidden_as_page
def label_grant_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.label_grant_create, "Label granted.",
           lambda: {"project": project, **_subject(request, project, request.POST.get("subject", "")),
                    "table_name": request.POST.get("table_name", ""),
                    "columns": _names(request.POST.get("columns", "")),
                    "level": _whole_number(request.POST.get("level"), "level", maximum=MAX_LEVEL),
                    "days": _label_grant_days(request.POST.get("days")),
                    "origin": Origin.UI})
    return _back("security-labels", project, "#label-grants")


@login_required
@require_POST
@forbidden_as_page
def label_grant_revoke(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    grant = label_grant_list(user=request.user, project=project).filter(pk=pk).first()
    if grant is None:
        raise Http404("No such label grant.")
    _apply(request, services.label_grant_revoke, f"Label grant on {grant.table.name} revoked from "
                                                 f"{grant.subject_label}.",
           lambda: {"project": project, "subject_user": grant.user, "subject_role": grant.role,
                    "table_name": grant.table.name, "columns": grant.columns})
    return _back("security-labels", project, "#label-grants")


@login_required
@require_POST
@forbidden_as_page
def label_grants_clear_expired(request, name: str):
    project = project_or_404(user=request.user, name=name)
    _apply(request, services.label_grants_clear_expired, "Expired label grants cleared.",
           lambda: {"project": project})
    return _back("security-labels", project, "#label-grants")


# --- packages ---------------------------------------------------------------------------------

@login_required
@require_GET
def packages_page(request, name: str):
    project = project_or_404(user=request.user, name=name)
    installed = {install.package_id for install in package_install_list(user=request.user, project=project)}
    installable = [allowance for allowance in PackageAllowance.objects.filter(consumer=project)
                   .select_related("package__project").order_by("package__project__name", "package__name")
                   if allowance.package_id not in installed]
    return _page(request, project, "packages.html", "packages", now=timezone.now(), levels=LEVELS,
                 packages=package_list(user=request.user, project=project),
                 installs=package_install_list(user=request.user, project=project).annotate(
                     grant_count=Count("grants")),
                 installable=installable, object_types=list(PACKAGE_DEFAULT_ACTIONS),
                 tables=warehouse_tables(project).order_by("name").values_list("name", flat=True))


def _package_or_404(request, project: Project, package_name: str):
    package = package_list(user=request.user, project=project).filter(name=package_name).first()
    if package is None:
        raise Http404("No such package.")
    return package


@login_required
@require_POST
@forbidden_as_page
def package_create(request, name: str):
    project = project_or_404(user=request.user, name=name)
    package_name = request.POST.get("name", "").strip()
    _apply(request, services.package_create, f"Package {package_name} created.",
           lambda: {"project": project, "name": package_name})
    return _back("security-packages", project)


@login_required
@require_POST
@forbidden_as_page
def package_object_add(request, name: str, package: str):
    project = project_or_404(user=request.user, name=name)
    target = _package_or_404(request, project, package)
    object_name = request.POST.get("object_name", "").strip()
    _apply(request, services.package_object_add, f"{object_name} added to {target.name}.",
           lambda: {"package": target, "object_type": request.POST.get("object_type", ""),
                    "object_name": object_name, "actions": _names(request.POST.get("actions", ""))})
    return _back("security-packages", project, f"#package-{target.name}")


@login_required
@require_POST
@forbidden_as_page
def package_object_remove(request, name: str, package: str):
    project = project_or_404(user=request.user, name=name)
    target = _package_or_404(request, project, package)
    object_name = request.POST.get("object_name", "").strip()
    _apply(request, services.package_object_remove, f"{object_name} removed from {target.name}.",
           lambda: {"package": target, "object_type": request.POST.get("object_type", ""),
                    "object_name": object_name})
    return _back("security-packages", project, f"#package-{target.name}")


@login_required
@require_POST
@forbidden_as_page
def package_allow(request, name: str, package: str):
    project = project_or_404(user=request.user, name=name)
    target = _package_or_404(request, project, package)
    consumer = request.POST.get("consumer_name", "").strip()
    _apply(request, services.package_allow, f"{consumer} may install {target.name}.",
           lambda: {"package": target, "consumer_name": consumer,
                    "label": _whole_number(request.POST.get("label") or "0", "label", maximum=MAX_LEVEL),
                    "expires_at": _days_from_now(request.POST.get("expires_days"), "expires_days")})
    return _back("security-packages", project, f"#package-{target.name}")


@login_required
@require_POST
@forbidden_as_page
def package_disallow(request, name: str, package: str):
    project = project_or_404(user=request.user, name=name)
    target = _package_or_404(request, project, package)
    consumer = request.POST.get("consumer_name", "").strip()
    _apply(request, services.package_disallow, f"{consumer} may no longer install {target.name}.",
           lambda: {"package": target, "consumer_name": consumer})
    return _back("security-packages", project, f"#package-{target.name}")


@login_required
@require_POST
@forbidden_as_page
def package_drop(request, name: str, package: str):
    project = project_or_404(user=request.user, name=name)
    target = _package_or_404(request, project, package)
    _apply(request, services.package_drop, f"Package {target.name} dropped.", lambda: {"package": target})
    return _back("security-packages", project)


@login_required
@require_POST
@forbidden_as_page
def package_install(request, name: str):
    project = project_or_404(user=request.user, name=name)
    provider, _, package_name = request.POST.get("package", "").strip().partition(".")
    _apply(request, services.package_install, f"Package {provider}.{package_name} installed.",
           lambda: {"consumer": project, "provider_name": provider, "package_name": package_name})
    return _back("security-packages", project, "#installed")


@login_required
@require_POST
@forbidden_as_page
def package_uninstall(request, name: str, pk: int):
    project = project_or_404(user=request.user, name=name)
    install = package_install_list(user=request.user, project=project).filter(pk=pk).first()
    if install is None:
        raise Http404("No such installed package.")
    _apply(request, services.package_uninstall, f"Package {install.package} uninstalled.",
           lambda: {"consumer": project, "provider_name": install.package.project.name,
                    "package_name": install.package.name})
    return _back("security-packages", project, "#installed")
