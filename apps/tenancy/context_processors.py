from apps.tenancy import selectors
from apps.tenancy.middleware import current_project_name


def switcher(request):
    """The navbar's tenant name and project switcher: only projects the user may see."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    projects = list(selectors.project_list(user=user).select_related(None).only("name", "environment"))
    current_name = current_project_name(request)
    return {
        "switcher_tenant": user.tenant,
        "switcher_projects": projects,
        "current_project": next((p for p in projects if p.name == current_name), None),
    }
