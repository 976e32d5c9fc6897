from apps.core.routers import OptionalSlashRouter

from apps.tenancy.api import views

router = OptionalSlashRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("tenant-roles", views.TenantRoleViewSet, basename="tenant-role")
router.register("projects", views.ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_name>[^/.]+)/members", views.MemberViewSet, basename="project-member")
router.register(r"projects/(?P<project_name>[^/.]+)/roles", views.RoleViewSet, basename="project-role")

urlpatterns = router.urls
