from django.urls import re_path

from apps.accounts.api.views import AccessKeyViewSet, MeView
from apps.core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("access-keys", AccessKeyViewSet, basename="access-key")

urlpatterns = [
    re_path(r"^me/?$", MeView.as_view(), name="me"),
    *router.urls,
]
