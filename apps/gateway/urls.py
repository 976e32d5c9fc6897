from django.urls import path

from apps.gateway import views

app_name = "gateway"

# "leak-trace" has a hyphen, which no project name has: it cannot shadow a project's page.
urlpatterns = [
    path("leak-trace/", views.leak_trace_page, name="leak-trace"),
    path("tables/<int:pk>/preview/", views.table_preview, name="table-preview"),
    path("tables/<int:pk>/recent-access/", views.table_recent_access, name="table-recent-access"),
    path("<str:project_name>/", views.query_page, name="query"),
    path("<str:project_name>/export/", views.export_download, name="export"),
    path("<str:project_name>/upload/", views.table_upload, name="upload"),
]
