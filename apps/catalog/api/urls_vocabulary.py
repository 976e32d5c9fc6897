from django.urls import re_path

from apps.catalog.api import views_vocabulary as views
from apps.core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("catalog/categories", views.CategoryViewSet, basename="catalog-category")
router.register("catalog/glossary-terms", views.GlossaryTermViewSet, basename="catalog-glossary-term")
router.register("catalog/tags", views.TagViewSet, basename="catalog-tag")
router.register("catalog/sensitive-types", views.SensitiveTypeViewSet, basename="catalog-sensitive-type")

# Write-only companions of the tables and columns read API (apps.catalog.api.urls_lineage):
# plain paths, so neither router's detail routes shadow the other's.
urlpatterns = router.urls + [
    re_path(r"^catalog/tables/(?P<pk>[0-9]+)/metadata/?$",
            views.TableMetadataViewSet.as_view({"patch": "partial_update"}), name="catalog-table-metadata"),
    re_path(r"^catalog/columns/(?P<pk>[0-9]+)/metadata/?$",
            views.ColumnMetadataViewSet.as_view({"patch": "partial_update"}), name="catalog-column-metadata"),
]
