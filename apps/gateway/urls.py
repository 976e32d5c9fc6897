from django.urls import path

from apps.gateway import views

app_name = "gateway"

urlpatterns = [
    path("tables/<int:pk>/preview/", views.table_preview, name="table-preview"),
    path("tables/<int:pk>/recent-access/", views.table_recent_access, name="table-recent-access"),
    path("<str:project_name>/", views.query_page, name="query"),
]
