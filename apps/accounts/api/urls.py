from django.urls import re_path
from rest_framework.routers import DefaultRouter

from apps.accounts.api.views import AccessKeyViewSet, MeView

router = DefaultRouter()
# DRF's constructor turns any truthy trailing_slash into "/"; set it afterwards so both
# /api/v1/access-keys and /api/v1/access-keys/ answer (a redirect would drop a signed POST).
router.trailing_slash = "/?"
router.include_root_view = False
router.register("access-keys", AccessKeyViewSet, basename="access-key")

urlpatterns = [
    re_path(r"^me/?$", MeView.as_view(), name="me"),
    *router.urls,
]
