from apps.core.routers import OptionalSlashRouter
from apps.masking.api.jobs import MaskingJobViewSet

router = OptionalSlashRouter()
router.register(r"projects/(?P<project_name>[^/.]+)/masking/jobs", MaskingJobViewSet, basename="project-masking-job")

urlpatterns = router.urls
