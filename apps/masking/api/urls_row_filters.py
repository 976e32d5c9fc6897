from apps.core.routers import OptionalSlashRouter
from apps.masking.api.row_filters import RowFilterViewSet

router = OptionalSlashRouter()
router.register(r"projects/(?P<project_name>[^/.]+)/row-filters", RowFilterViewSet, basename="project-row-filter")

urlpatterns = router.urls
