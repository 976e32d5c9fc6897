from rest_framework.routers import DefaultRouter

from apps.tenancy.api import views

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("users", views.UserViewSet, basename="user")
router.register("tenant-roles", views.TenantRoleViewSet, basename="tenant-role")
router.register("projects", views.ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_name>[^/.]+)/members", views.MemberViewSet, basename="project-member")
router.register(r"projects/(?P<project_name>[^/.]+)/roles", views.RoleViewSet, basename="project-role")

urlpatterns = router.urls
