from django.urls import re_path

from apps.permissions.api import views

PROJECT = r"^projects/(?P<project_name>[^/.]+)/security"

urlpatterns = [
    re_path(rf"{PROJECT}/check/?$", views.ProjectSecurityViewSet.as_view({"post": "check"}),
            name="project-security-check"),
]

VERSIONS = rf"{PROJECT}/versions"

urlpatterns += [
    re_path(rf"{VERSIONS}/?$", views.SecurityVersionViewSet.as_view({"get": "list"}),
            name="project-security-versions"),
    re_path(rf"{VERSIONS}/diff/?$", views.SecurityVersionViewSet.as_view({"get": "diff"}),
            name="project-security-versions-diff"),
    re_path(rf"{VERSIONS}/(?P<number>[0-9]+)/?$", views.SecurityVersionViewSet.as_view({"get": "retrieve"}),
            name="project-security-version"),
    re_path(rf"{VERSIONS}/(?P<number>[0-9]+)/rollback/?$",
            views.SecurityVersionViewSet.as_view({"post": "roll_back"}), name="project-security-version-rollback"),
]

urlpatterns += [
    re_path(rf"{PROJECT}/statements/?$", views.SecurityStatementViewSet.as_view({"post": "run"}),
            name="project-security-statements"),
]

urlpatterns += [
    re_path(rf"{PROJECT}/portal-permissions/?$",
            views.PortalPermissionViewSet.as_view({"get": "list", "post": "create"}),
            name="project-security-portal-permissions"),
    re_path(rf"{PROJECT}/portal-permissions/remove/?$", views.PortalPermissionViewSet.as_view({"post": "remove"}),
            name="project-security-portal-permission-remove"),
]
