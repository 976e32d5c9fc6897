from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.audit.api.views import ChainVerifyView, EventViewSet

router = SimpleRouter()
# DRF's constructor only takes a bool; with "/?" both /audit/events and /audit/events/ answer.
router.trailing_slash = "/?"
router.register("audit/events", EventViewSet, basename="audit-event")

urlpatterns = [
    re_path(r"^audit/verify/?$", ChainVerifyView.as_view(), name="audit-verify"),
    *router.urls,
]
