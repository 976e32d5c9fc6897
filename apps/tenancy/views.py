"""Pages for projects, members, roles and the tenant's accounts.

Views stay thin: they find objects through the selectors (another tenant's project is 404),
hand the input to one service, and turn a ValidationError into a readable message and a
PermissionDenied into a 403 page that says why."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.web import apply_service, forbidden_as_page, form_errors
from apps.tenancy import forms, hooks, selectors, services
from apps.tenancy.models import Environment, Membership, Project, Role, RoleAssignment, RoleKind, TenantRoleAssignment
from apps.tenancy.roles import ROLE_CAPABILITIES, WORKSPACE_ROLE_PRIVILEGES, Capability, WorkspaceRole

User = get_user_model()



# --- projects ----------------------------------------------------------------------------

@require_GET
def home(request):
    return redirect("tenancy:project-list")


@login_required
@require_GET
def project_list(request):
    projects = list(selectors.project_list(user=request.user))
    return render(request, "tenancy/project_list.html", {
        "projects": projects,
        "may_create": selectors.is_tenant_admin(request.user),
    })


@login_required
@require_GET
def project_switch(request):
    name = request.GET.get("project", "")
    if not name:
        return redirect("tenancy:project-list")
    return redirect("tenancy:project-detail", name=selectors.project_or_404(user=request.user, name=name).name)


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def project_create(request):
    prod_choices = [
        project.name for project in selectors.project_list(user=request.user)
        if project.environment == Environment.PROD and project.tenant_id == request.user.tenant_id
    ]
    form = forms.ProjectCreateForm(request.POST or None, prod_choices=prod_choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prod_project = selectors.project_or_404(user=request.user, name=data["prod_project"]) if data["prod_project"] else None
            project = services.project_create(
                actor=request.user, name=data["name"], environment=data["environment"],
                description=data["description"], prod_project=prod_project, request=request,
            )
        except ValidationError as error:
            for field, field_messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_messages)
        else:
            messages.success(request, f"Project {project.name} created with its schema and roles.")
            return redirect("tenancy:project-detail", name=project.name)
    elif request.method == "GET" and not selectors.is_tenant_admin(request.user):
        raise PermissionDenied("Only the tenant's owner and administrators create projects.")
    return render(request, "tenancy/project_form.html", {"form": form}, status=400 if form.errors else 200)


def _workspace_role_guide(project: Project) -> list[dict]:
    """What each workspace role grants here and in the other environment (apps.tenancy.roles)."""
    guide = []
    for role in WorkspaceRole:
        dev, prod = WORKSPACE_ROLE_PRIVILEGES[role]
        guide.append({
            "name": role.value, "label": role.label, "dev": dev, "prod": prod,
            "here": dev if project.environment == Environment.DEV else prod,
            "capabilities": sorted(Capability(c).label for c in ROLE_CAPABILITIES.get(role.value, ())),
        })
    return guide


@login_required
@require_GET
def project_detail(request, name: str):
    project = selectors.project_or_404(user=request.user, name=name)
    capabilities = selectors.project_capabilities(request.user, project)
    members = list(selectors.member_list(user=request.user, project=project))
    badges = hooks.badges_of_members(project=project, users=[membership.user for membership in members])
    for membership in members:
        membership.badges = badges.get(membership.user_id, [])
    roles = list(selectors.role_list(user=request.user, project=project))
    return render(request, "tenancy/project_detail.html", {
        "project": project,
        "capabilities": capabilities,
        "may_manage_members": Capability.MANAGE_MEMBERS in capabilities,
        "may_manage_roles": Capability.MANAGE_ROLES in capabilities,
        "may_assign_admin_roles": Capability.ASSIGN_ADMIN_ROLES in capabilities,
        "members": members,
        "builtin_roles": [r for r in roles if r.kind == RoleKind.BUILTIN],
        "workspace_roles": [r for r in roles if r.kind == RoleKind.WORKSPACE],
        "custom_roles": [r for r in roles if r.kind == RoleKind.CUSTOM],
        "roles": roles,
        "workspace_guide": _workspace_role_guide(project),
        "role_create_form": forms.RoleCreateForm(),
    })


def _back_to(project: Project):
    return redirect("tenancy:project-detail", name=project.name)


@login_required
@require_POST
@forbidden_as_page
def project_update(request, name: str):
    project = selectors.project_or_404(user=request.user, name=name)
    form = forms.ProjectUpdateForm(request.POST)
    if form.is_valid():
        apply_service(request, services.project_update, "Description saved.", project=project,
               description=form.cleaned_data["description"])
    return _back_to(project)


@login_required
@require_POST
@forbidden_as_page
def member_add(request, name: str):
    project = selectors.project_or_404(user=request.user, name=name)
    form = forms.UsernameForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _back_to(project)
    username = form.cleaned_data["username"].strip()
    try:
        user = selectors.member_candidate_get(project=project, username=username)
    except User.DoesNotExist:
        messages.error(request, f"No account named '{username}' can be added to {project.name}.")
        return _back_to(project)
    apply_service(request, services.member_add, f"{user.username} is now a member of {project.name}.",
           project=project, user=user)
    return _back_to(project)


@login_required
@require_POST
@forbidden_as_page
def member_remove(request, name: str, username: str):
    project = selectors.project_or_404(user=request.user, name=name)
    try:
        membership = selectors.membership_get(user=request.user, project=project, username=username)
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None
    apply_service(request, services.member_remove,
           f"{username} was removed from {project.name}; their grants are kept for a later re-add.",
           membership=membership)
    return _back_to(project)


@login_required
@require_POST
@forbidden_as_page
def role_create(request, name: str):
    project = selectors.project_or_404(user=request.user, name=name)
    form = forms.RoleCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _back_to(project)
    apply_service(request, services.role_create, f"Role {form.cleaned_data['name']} created.", project=project,
           **form.cleaned_data)
    return _back_to(project)


def _role_or_404(request, project: Project, role_name: str) -> Role:
    try:
        return selectors.role_get(user=request.user, project=project, name=role_name)
    except Role.DoesNotExist:
        raise Http404("No such role.") from None


@login_required
@require_POST
@forbidden_as_page
def role_drop(request, name: str, role: str):
    project = selectors.project_or_404(user=request.user, name=name)
    role_obj = _role_or_404(request, project, role)
    apply_service(request, services.role_drop, f"Role {role_obj.name} dropped.", role=role_obj)
    return _back_to(project)


@login_required
@require_POST
@forbidden_as_page
def role_assign(request, name: str):
    project = selectors.project_or_404(user=request.user, name=name)
    form = forms.RoleAssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _back_to(project)
    role = _role_or_404(request, project, form.cleaned_data["role"])
    username = form.cleaned_data["username"].strip()
    try:
        user = selectors.member_candidate_get(project=project, username=username)
    except User.DoesNotExist:
        messages.error(request, f"No account named '{username}' is a member of {project.name}.")
        return _back_to(project)
    apply_service(request, services.role_assign, f"{user.username} now holds {role.name}.", role=role, user=user)
    return _back_to(project)


@login_required
@require_POST
@forbidden_as_page
def role_unassign(request, name: str, role: str, username: str):
    project = selectors.project_or_404(user=request.user, name=name)
    role_obj = _role_or_404(request, project, role)
    try:
        assignment = selectors.role_assignment_get(user=request.user, role=role_obj, username=username)
    except RoleAssignment.DoesNotExist:
        raise Http404("No such role assignment.") from None
    apply_service(request, services.role_unassign, f"{username} no longer holds {role_obj.name}.", assignment=assignment)
    return _back_to(project)


# --- accounts of the tenant ----------------------------------------------------------------

@login_required
@require_GET
def user_list(request):
    tenant_roles = selectors.tenant_roles_of(request.user)
    return render(request, "tenancy/user_list.html", {
        "accounts": list(selectors.user_list(user=request.user)),
        "assignments": list(selectors.tenant_role_list(user=request.user)),
        "may_manage": bool(tenant_roles),
        "is_owner": request.user.is_primary,
        "create_form": forms.SubaccountCreateForm(),
        "role_form": forms.TenantRoleAssignForm(),
    })


@login_required
@require_POST
@forbidden_as_page
def user_create(request):
    form = forms.SubaccountCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
    else:
        apply_service(request, services.subaccount_create, f"Sub-account {form.cleaned_data['username']} created.",
               **form.cleaned_data)
    return redirect("tenancy:user-list")


def _account_or_404(request, username: str):
    try:
        return selectors.user_get(user=request.user, username=username)
    except User.DoesNotExist:
        raise Http404("No such account.") from None


@login_required
@require_POST
@forbidden_as_page
def user_set_active(request, username: str):
    account = _account_or_404(request, username)
    form = forms.ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
    else:
        is_active = form.cleaned_data["is_active"]
        apply_service(request, services.subaccount_set_active,
               f"{account.username} {'enabled' if is_active else 'disabled'}.", user=account, is_active=is_active)
    return redirect("tenancy:user-list")


@login_required
@require_POST
@forbidden_as_page
def tenant_role_assign(request):
    form = forms.TenantRoleAssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("tenancy:user-list")
    account = _account_or_404(request, form.cleaned_data["username"].strip())
    apply_service(request, services.tenant_role_assign, f"{account.username} now holds tenant role "
           f"{form.cleaned_data['role']}.", user=account, role=form.cleaned_data["role"])
    return redirect("tenancy:user-list")


@login_required
@require_POST
@forbidden_as_page
def tenant_role_unassign(request, pk: int):
    try:
        assignment = selectors.tenant_role_list(user=request.user).get(pk=pk)
    except TenantRoleAssignment.DoesNotExist:
        raise Http404("No such tenant role assignment.") from None
    apply_service(request, services.tenant_role_unassign,
           f"{assignment.user.username} no longer holds tenant role {assignment.role}.", assignment=assignment)
    return redirect(reverse("tenancy:user-list"))
