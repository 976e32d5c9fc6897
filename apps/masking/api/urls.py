from django.urls import re_path

from apps.core.routers import OptionalSlashRouter
from apps.masking.api import views

PROJECT = r"projects/(?P<project_name>[^/.]+)/masking"

router = OptionalSlashRouter()
router.register("masking/algorithms", views.AlgorithmViewSet, basename="masking-algorithm")
router.register("masking/rules", views.TenantMaskingRuleViewSet, basename="masking-tenant-rule")
router.register(rf"{PROJECT}/rules", views.ProjectMaskingRuleViewSet, basename="project-masking-rule")
router.register(rf"{PROJECT}/unmask-grants", views.UnmaskGrantViewSet, basename="project-unmask-grant")

urlpatterns = [
    re_path(r"^masking/preview/?$", views.PreviewViewSet.as_view({"post": "create"}), name="masking-preview"),
    *router.urls,
]
