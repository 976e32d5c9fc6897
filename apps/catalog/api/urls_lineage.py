from apps.catalog.api import views_lineage
from apps.core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("catalog/data-sources", views_lineage.DataSourceViewSet, basename="catalog-data-source")
router.register("catalog/harvest-runs", views_lineage.HarvestRunViewSet, basename="catalog-harvest-run")
router.register("catalog/tables", views_lineage.TableViewSet, basename="catalog-table")
router.register("catalog/columns", views_lineage.ColumnViewSet, basename="catalog-column")
router.register("catalog/lineage/edges", views_lineage.LineageEdgeViewSet, basename="catalog-lineage-edge")
router.register("catalog/lineage", views_lineage.LineageGraphViewSet, basename="catalog-lineage")

urlpatterns = router.urls
