from django.urls import path

from apps.masking import views_row_filters as views

app_name = "row_filters"

urlpatterns = [
    path("<str:name>/row-filters/", views.row_filters_page, name="list"),
    path("<str:name>/row-filters/new/", views.row_filter_create, name="create"),
    path("<str:name>/row-filters/<int:pk>/enabled/", views.row_filter_enabled_set, name="enabled-set"),
    path("<str:name>/row-filters/<int:pk>/delete/", views.row_filter_delete, name="delete"),
]
