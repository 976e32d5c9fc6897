from django.urls import path

from apps.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.data_map, name="data-map"),
    path("search/", views.catalog_search_page, name="search"),
    path("sources/new/", views.data_source_create, name="data-source-create"),
    path("sources/<int:pk>/", views.data_source_detail, name="data-source-detail"),
    path("sources/<int:pk>/test/", views.data_source_test, name="data-source-test"),
    path("sources/<int:pk>/harvest/", views.data_source_harvest, name="data-source-harvest"),
    path("projects/<str:name>/harvest/", views.project_harvest, name="project-harvest"),
    path("harvests/<int:pk>/", views.harvest_run_detail, name="harvest-run-detail"),
    path("tables/<int:pk>/", views.table_detail, name="table-detail"),
    path("tables/<int:pk>/metadata/", views.table_metadata_update, name="table-metadata-update"),
    path("columns/<int:pk>/classify/", views.column_classify, name="column-classify"),
]
