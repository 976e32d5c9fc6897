"""/api/v1/projects/{project}/security/...: the security model of one project.

The project is found among those the caller may see (404 otherwise); every write is one
service call with the acting user."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from apps.core.api import RestrictedViewSet
from apps.core.web import readable
from apps.permissions import rollback
from apps.permissions.access import AccessQuestion, access_check
from apps.permissions.api import serializers
from apps.permissions.console import StatementFailed, statement_preview, statement_run
from apps.permissions.impact import impact_preview
from apps.permissions.models import SecurityVersion
from apps.permissions.selectors import portal_permission_list
from apps.permissions.services import portal_permission_assign, portal_permission_remove
from apps.tenancy import selectors as tenancy_selectors
from apps.tenancy.api.views import PROJECT_PARAMETER
from apps.tenancy.models import Project


class ProjectSecurityViewSet(RestrictedViewSet):
    queryset = Project.objects.all()

    def project(self) -> Project:
        return tenancy_selectors.project_or_404(user=self.request.user, name=self.kwargs["project_name"])

    @extend_schema(summary="Check an access: the engine's decision with its trace", parameters=[PROJECT_PARAMETER],
                   request=serializers.AccessCheckSerializer, responses=serializers.DecisionSerializer)
    def check(self, request, *args, **kwargs):
        project = self.project()
        params = serializers.AccessCheckSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        question = AccessQuestion(
            principal=data["principal"], action=data["action"], object_type=data["object_type"],
            object_name=data["object"], columns=tuple(data["columns"]), source_ip=data["source_ip"],
            at=data["time"], task_type=data["task_type"], network=data["network"],
            destination_project=data["destination_project"], via_project=data["via_project"],
            read_level=data["read_level"],
        )
        decision = access_check(actor=request.user, project=project, question=question, request=request)
        return Response(serializers.DecisionSerializer(decision.as_dict()).data)


NUMBER_PARAMETER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="A version number.")
DIFF_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True, description="The older version."),
    OpenApiParameter("to", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True, description="The newer version."),
]
ROLLBACK_OUTCOME = PolymorphicProxySerializer(
    component_name="RollbackOutcome", resource_type_field_name=None,
    serializers=[serializers.RollbackResultSerializer, serializers.ImpactReportSerializer])


class SecurityVersionViewSet(RestrictedViewSet):
    """The versions of a project's security state: read by those who manage the project's
    members or security or audit it; rolled back by those who manage its security."""

    queryset = SecurityVersion.objects.all()
    serializer_class = serializers.SecurityVersionSerializer

    def project(self) -> Project:
        return tenancy_selectors.project_or_404(user=self.request.user, name=self.kwargs["project_name"])

    def version(self, project: Project) -> SecurityVersion:
        try:
            return rollback.version_get(user=self.request.user, project=project, number=int(self.kwargs["number"]))
        except SecurityVersion.DoesNotExist:
            raise Http404 from None

    @extend_schema(summary="List the versions of the project's security state, newest first",
                   parameters=[PROJECT_PARAMETER], responses=serializers.SecurityVersionSerializer(many=True))
    def list(self, request, *args, **kwargs):
        versions = rollback.version_list(user=request.user, project=self.project()).select_related("actor__tenant")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(serializers.SecurityVersionSerializer(page, many=True).data)

    @extend_schema(summary="One version: who changed what, as statement-like lines",
                   parameters=[PROJECT_PARAMETER, NUMBER_PARAMETER],
                   responses=serializers.SecurityVersionDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        version = self.version(self.project())
        version.added_lines, version.removed_lines = rollback.version_lines(version)
        return Response(serializers.SecurityVersionDetailSerializer(version).data)

    @extend_schema(summary="What changed between two versions", parameters=[PROJECT_PARAMETER, *DIFF_PARAMETERS],
                   responses=serializers.VersionsDiffSerializer)
    def diff(self, request, *args, **kwargs):
        project = self.project()
        params = serializers.VersionsDiffQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        older, newer = params.validated_data["from"], params.validated_data["to"]
        added, removed = rollback.versions_diff_lines(user=request.user, project=project, older=older, newer=newer)
        return Response(serializers.VersionsDiffSerializer(
            {"from": older, "to": newer, "added": added, "removed": removed}).data)

    @extend_schema(summary="Roll the project's security state back to this version (or preview the impact)",
                   parameters=[PROJECT_PARAMETER, NUMBER_PARAMETER], request=serializers.RollbackRequestSerializer,
                   responses=ROLLBACK_OUTCOME)
    def roll_back(self, request, *args, **kwargs):
        project = self.project()
        version = self.version(project)
        params = serializers.RollbackRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)

        def change():
            return rollback.security_rollback(actor=request.user, project=project, number=version.number,
                                              request=request)

        if params.validated_data["preview"]:
            report = impact_preview(actor=request.user, project=project, change=change)
            return Response(serializers.ImpactReportSerializer(report.as_dict()).data)
        return Response(serializers.RollbackResultSerializer(change().as_dict()).data)


class SecurityStatementViewSet(ProjectSecurityViewSet):
    """POST .../security/statements: one statement run as the caller (``console.statement_run``)."""

    def dispatch(self, request, *args, **kwargs):
        # statement_run rolls a failed statement back itself and keeps the audit event of the
        # attempt, which RestrictedViewSet's rollback of every 4xx answer would erase.
        return GenericViewSet.dispatch(self, request, *args, **kwargs)

    @extend_schema(summary="Run one MaxCompute security statement", parameters=[PROJECT_PARAMETER],
                   request=serializers.StatementSerializer,
                   responses={200: serializers.StatementResultSerializer, 400: serializers.StatementResultSerializer,
                              403: serializers.StatementResultSerializer})
    def run(self, request, *args, **kwargs):
        project = self.project()
        params = serializers.StatementSerializer(data=request.data)
        if not params.is_valid():
            return Response({"ok": False, "error": readable(ValidationError(params.errors)), "position": None},
                            status=status.HTTP_400_BAD_REQUEST)
        text = params.validated_data["statement"]
        if params.validated_data["preview"]:
            try:
                report = statement_preview(actor=request.user, project=project, text=text)
            except StatementFailed as failed:
                result = failed.result
            except PermissionDenied as error:
                return Response({"ok": False, "error": str(error)}, status=status.HTTP_403_FORBIDDEN)
            else:
                return Response({"ok": True, "preview": serializers.ImpactReportSerializer(report.as_dict()).data})
        else:
            result = statement_run(actor=request.user, project=project, text=text, request=request)
        if result.ok:
            return Response({"ok": True, "output": result.output})
        if result.refused:
            return Response({"ok": False, "error": result.error}, status=status.HTTP_403_FORBIDDEN)
        return Response({"ok": False, "error": result.error, "position": result.position},
                        status=status.HTTP_400_BAD_REQUEST)


class PortalPermissionViewSet(ProjectSecurityViewSet):
    """/api/v1/projects/{project}/security/portal-permissions: who may read the project's
    audit log (audit_project) and approve access requests on its tables (approve_access)."""

    def _arguments(self, project: Project, data) -> dict:
        params = serializers.PortalPermissionSerializer(data=data)
        params.is_valid(raise_exception=True)
        user = tenancy_selectors.member_list(user=self.request.user, project=project, include_removed=True).filter(
            user__username=params.validated_data["username"]).first()
        if user is None:
            raise ValidationError({"username": f"No member of {project.name} is called "
                                               f"{params.validated_data['username']}."})
        return {"user": user.user, "permission": params.validated_data["permission"],
                "table_name": params.validated_data["table"]}

    @extend_schema(summary="Who holds the portal's object permissions in the project",
                   parameters=[PROJECT_PARAMETER], responses=serializers.PortalPermissionSerializer(many=True))
    def list(self, request, *args, **kwargs):
        project = self.project()
        return Response([{"permission": holder["permission"], "username": holder["user"].username,
                          "table": holder["table"]} for holder in portal_permission_list(project=project)])

    @extend_schema(summary="Give a member a portal permission", parameters=[PROJECT_PARAMETER],
                   request=serializers.PortalPermissionSerializer,
                   responses={201: serializers.PortalPermissionSerializer})
    def create(self, request, *args, **kwargs):
        project = self.project()
        arguments = self._arguments(project, request.data)
        portal_permission_assign(actor=request.user, project=project, request=request, **arguments)
        return Response({"permission": arguments["permission"], "username": arguments["user"].username,
                         "table": arguments["table_name"]}, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Take a portal permission back", parameters=[PROJECT_PARAMETER],
                   request=serializers.PortalPermissionSerializer, responses={204: None})
    def remove(self, request, *args, **kwargs):
        project = self.project()
        portal_permission_remove(actor=request.user, project=project, request=request,
                                 **self._arguments(project, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)
