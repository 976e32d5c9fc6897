from apps.catalog.api import views_search
from apps.core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("catalog/search", views_search.CatalogSearchViewSet, basename="catalog-search")

urlpatterns = router.urls
