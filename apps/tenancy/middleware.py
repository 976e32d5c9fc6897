SESSION_KEY = "project"


def project_name_in_url(request) -> str | None:
    """The project a web page is about, when its URL names one."""
    match = getattr(request, "resolver_match", None)
    if match is None or request.path.startswith("/api/"):
        return None
    name = match.kwargs.get("project_name")
    if name is None and match.namespace == "tenancy" and (match.url_name or "").startswith("project-"):
        name = match.kwargs.get("name")
    return name


def current_project_name(request) -> str | None:
    """The project the page is about, else the one last opened in this session."""
    session = getattr(request, "session", None)
    return project_name_in_url(request) or (session.get(SESSION_KEY) if session is not None else None)


class CurrentProjectMiddleware:
    """Remembers the project last opened (session key ``project``) for the switcher.

    A project is remembered only after a page of it answered 200, so the session never
    holds the name of a project the user could not see.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        name = project_name_in_url(request)
        if session is not None and name and response.status_code == 200 and session.get(SESSION_KEY) != name:
            session[SESSION_KEY] = name
        return response
