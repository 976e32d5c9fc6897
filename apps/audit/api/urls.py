from django.urls import re_path

from apps.audit.api.views import ChainVerifyView, EventViewSet
from apps.core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("audit/events", EventViewSet, basename="audit-event")

urlpatterns = [
    re_path(r"^audit/verify/?$", ChainVerifyView.as_view(), name="audit-verify"),
    *router.urls,
]
