from django.urls import path

from apps.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/switch/", views.project_switch, name="project-switch"),
    path("projects/<str:name>/", views.project_detail, name="project-detail"),
    path("projects/<str:name>/edit/", views.project_update, name="project-update"),
    path("projects/<str:name>/members/", views.member_add, name="project-member-add"),
    path("projects/<str:name>/members/<str:username>/remove/", views.member_remove, name="project-member-remove"),
    path("projects/<str:name>/roles/", views.role_create, name="project-role-create"),
    path("projects/<str:name>/roles/assign/", views.role_assign, name="project-role-assign"),
    path("projects/<str:name>/roles/<str:role>/drop/", views.role_drop, name="project-role-drop"),
    path("projects/<str:name>/roles/<str:role>/holders/<str:username>/remove/", views.role_unassign,
         name="project-role-unassign"),
    path("users/", views.user_list, name="user-list"),
    path("users/new/", views.user_create, name="user-create"),
    path("users/tenant-roles/", views.tenant_role_assign, name="tenant-role-assign"),
    path("users/tenant-roles/<int:pk>/remove/", views.tenant_role_unassign, name="tenant-role-unassign"),
    path("users/<str:username>/active/", views.user_set_active, name="user-set-active"),
]
