from django.urls import path

from apps.catalog import views, views_vocabulary

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
    path("columns/<int:pk>/metadata/", views.column_metadata_update, name="column-metadata-update"),
    path("tables/<int:pk>/lineage/", views.lineage_edge_create, name="lineage-edge-create"),
    path("lineage/<int:pk>/delete/", views.lineage_edge_delete, name="lineage-edge-delete"),
    # The vocabulary: categories, glossary, tags and sensitive types.
    path("categories/", views_vocabulary.category_tree, name="category-tree"),
    path("categories/<int:pk>/", views_vocabulary.category_detail, name="category-detail"),
    path("categories/<int:pk>/delete/", views_vocabulary.category_delete, name="category-delete"),
    path("glossary/", views_vocabulary.glossary, name="glossary"),
    path("glossary/<int:pk>/", views_vocabulary.glossary_term, name="glossary-term"),
    path("glossary/<int:pk>/delete/", views_vocabulary.glossary_term_delete, name="glossary-term-delete"),
    path("tags/", views_vocabulary.tag_list, name="tags"),
    path("tags/<int:pk>/delete/", views_vocabulary.tag_delete, name="tag-delete"),
    path("sensitive-types/", views_vocabulary.sensitive_type_list, name="sensitive-types"),
    path("sensitive-types/<int:pk>/", views_vocabulary.sensitive_type_detail, name="sensitive-type"),
    path("sensitive-types/<int:pk>/delete/", views_vocabulary.sensitive_type_delete, name="sensitive-type-delete"),
]
