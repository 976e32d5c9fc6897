from django.urls import path

from apps.masking import views_jobs as views

app_name = "masking_jobs"

urlpatterns = [
    path("<str:name>/jobs/", views.jobs_page, name="list"),
    path("<str:name>/jobs/new/", views.job_start, name="start"),
    path("<str:name>/jobs/<int:pk>/cancel/", views.job_cancel, name="cancel"),
]
