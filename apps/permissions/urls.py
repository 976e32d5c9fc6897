from django.urls import path

from apps.permissions import views

app_name = "permissions"

urlpatterns = [
    path("<str:name>/check/", views.access_check_page, name="check"),
]

urlpatterns += [
    path("<str:name>/versions/", views.version_list_page, name="versions"),
    path("<str:name>/versions/diff/", views.version_diff_page, name="versions-diff"),
    path("<str:name>/versions/<int:number>/", views.version_page, name="version"),
]

urlpatterns += [
    path("<str:name>/console/", views.console_page, name="console"),
]
