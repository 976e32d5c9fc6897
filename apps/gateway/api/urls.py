from django.urls import re_path

from apps.gateway.api import views

urlpatterns = [
    re_path(r"^projects/(?P<project_name>[^/.]+)/queries/?$", views.QueryView.as_view(), name="project-queries"),
    re_path(r"^projects/(?P<project_name>[^/.]+)/exports/?$", views.ExportView.as_view(), name="project-exports"),
    re_path(r"^projects/(?P<project_name>[^/.]+)/tables/(?P<table_name>[^/]+)/uploads/?$",
            views.UploadView.as_view(), name="project-table-uploads"),
    re_path(r"^leak-traces/?$", views.LeakTraceView.as_view(), name="leak-traces"),
]
