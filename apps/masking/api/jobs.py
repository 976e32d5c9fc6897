"""/api/v1/projects/{project}/masking/jobs: static masking jobs copying the project's tables
(``apps.masking.jobs``).

The project is found among those the caller may see (404 otherwise), and so is each job;
whoever sees the project sees its jobs and their progress. Starting one asks ``authorize``
(403 with the decision's reason when it refuses); cancelling is for the requester and the
project's security administrators."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api import RestrictedViewSet
from apps.masking import jobs
from apps.masking.models import MaskingJob
from apps.masking.selectors import masking_job_list
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.api.views import PROJECT_PARAMETER, ProjectScopedMixin
from apps.tenancy.models import Project
from apps.tenancy.selectors import project_get


class MaskingJobSerializer(serializers.ModelSerializer):
    source_table = serializers.CharField(source="source_table.name", read_only=True)
    target_project = serializers.CharField(source="target_project.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)

    class Meta:
        model = MaskingJob
        fields = ["id", "source_table", "target_project", "target_name", "status", "progress", "progress_message",
                  "rows_total", "rows_copied", "masked_columns", "cancel_requested", "error", "requested_by",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class MaskingJobStartSerializer(serializers.Serializer):
    source_table = serializers.CharField(max_length=128, help_text="A table of the project's warehouse schema.")
    target_project = serializers.CharField(max_length=63, required=False, allow_blank=True, default="",
                                           help_text="Where the copy goes; this project when left out.")
    target_name = serializers.CharField(max_length=63, help_text="The copy's name, a new table of the target "
                                                                 "project.")


ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The job's id.")


def source_table_get(project: Project, name: str):
    """A live warehouse table of ``project`` named ``name``; a field error otherwise."""
    table = warehouse_tables(project).filter(name=name.strip()).first()
    if table is None:
        raise serializers.ValidationError({"source_table": f"No table named {name!r} in project {project.name}."})
    return table


def target_project_get(user, project: Project, name: str) -> Project:
    """The project named ``name`` among those ``user`` sees (``project`` when blank)."""
    if not name.strip():
        return project
    try:
        return project_get(user=user, name=name.strip())
    except Project.DoesNotExist:
        raise serializers.ValidationError({"target_project": f"No project named {name!r}."}) from None


@extend_schema_view(
    list=extend_schema(summary="List the masking jobs copying the project's tables", parameters=[PROJECT_PARAMETER]),
    retrieve=extend_schema(summary="One masking job, with its progress", parameters=[PROJECT_PARAMETER, ID_PARAMETER]),
    create=extend_schema(summary="Start a masked copy of one of the project's tables", parameters=[PROJECT_PARAMETER],
                         request=MaskingJobStartSerializer, responses={201: MaskingJobSerializer}),
    cancel=extend_schema(summary="Cancel a masking job (what it copied is dropped)",
                         parameters=[PROJECT_PARAMETER, ID_PARAMETER], request=None,
                         responses=MaskingJobSerializer),
)
class MaskingJobViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    queryset = MaskingJob.objects.all()
    serializer_class = MaskingJobSerializer
    ordering_fields = ["created_at"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MaskingJob.objects.none()
        return masking_job_list(user=self.request.user, project=self.project)

    def _respond(self, job: MaskingJob, status_code=status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = MaskingJobStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = jobs.masking_job_start(
            actor=request.user, source_table=source_table_get(self.project, data["source_table"]),
            target_project=target_project_get(request.user, self.project, data["target_project"]),
            target_name=data["target_name"], request=request)
        return self._respond(job, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        job = jobs.masking_job_cancel(actor=request.user, job=self.get_object(), request=request)
        return self._respond(job)
