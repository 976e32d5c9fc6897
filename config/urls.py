from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.tenancy.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.catalog.api.urls_lineage")),
    path("", include("apps.catalog.api.urls_search")),
    path("", include("apps.catalog.api.urls_vocabulary")),
    path("", include("apps.permissions.api.urls")),
    path("", include("apps.masking.api.urls")),
    path("", include("apps.masking.api.urls_row_filters")),
    path("", include("apps.masking.api.urls_jobs")),
    path("", include("apps.gateway.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("apps.accounts.urls")),
    path("audit/", include("apps.audit.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("security/", include("apps.permissions.urls")),
    path("masking/", include("apps.masking.urls")),
    path("masking/", include("apps.masking.urls_row_filters")),
    path("masking/", include("apps.masking.urls_jobs")),
    path("query/", include("apps.gateway.urls")),
    path("", include("apps.tenancy.urls")),
]
