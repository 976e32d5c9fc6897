from django.urls import path

from apps.masking import views

app_name = "masking"

# "tenant/" comes before the project pages, so it is the tenant page even for a project of that name.
urlpatterns = [
    path("tenant/", views.tenant_rules_page, name="tenant"),
    path("tenant/rules/new/", views.tenant_rule_create, name="tenant-rule-create"),
    path("tenant/rules/<int:pk>/edit/", views.tenant_rule_update, name="tenant-rule-update"),
    path("tenant/rules/<int:pk>/delete/", views.tenant_rule_delete, name="tenant-rule-delete"),
    path("tenant/preview/", views.tenant_preview, name="tenant-preview"),
    path("algorithms/parameters/", views.algorithm_parameters, name="parameters"),
    path("<str:name>/", views.rules_page, name="rules"),
    path("<str:name>/rules/new/", views.rule_create, name="rule-create"),
    path("<str:name>/rules/<int:pk>/edit/", views.rule_update, name="rule-update"),
    path("<str:name>/rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("<str:name>/preview/", views.preview, name="preview"),
    path("<str:name>/unmask/new/", views.unmask_create, name="unmask-create"),
    path("<str:name>/unmask/<int:pk>/revoke/", views.unmask_revoke, name="unmask-revoke"),
]
