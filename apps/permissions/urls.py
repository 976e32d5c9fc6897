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

from apps.permissions import views_security as security  # noqa: E402

urlpatterns += [
    path("<str:name>/", security.security_overview, name="security"),
    path("<str:name>/settings/flag/", security.flag_set, name="security-flag-set"),
    path("<str:name>/settings/protection/", security.protection_set, name="security-protection-set"),
    path("<str:name>/trusted/add/", security.trusted_project_add, name="security-trusted-add"),
    path("<str:name>/portal-permissions/assign/", security.portal_permission_assign,
         name="security-portal-permission-assign"),
    path("<str:name>/portal-permissions/remove/", security.portal_permission_remove,
         name="security-portal-permission-remove"),
    path("<str:name>/trusted/remove/", security.trusted_project_remove, name="security-trusted-remove"),
    path("<str:name>/whitelist/", security.ip_whitelist_set, name="security-ip-whitelist-set"),
    path("<str:name>/whitelist/tenant/", security.tenant_ip_whitelist_set, name="security-tenant-ip-whitelist-set"),
    path("<str:name>/grants/", security.grants_page, name="security-grants"),
    path("<str:name>/grants/new/", security.grant_create, name="security-grant-create"),
    path("<str:name>/grants/<int:pk>/revoke/", security.grant_revoke, name="security-grant-revoke"),
    path("<str:name>/roles/", security.roles_page, name="security-roles"),
    path("<str:name>/roles/new/", security.role_create, name="security-role-create"),
    path("<str:name>/roles/<str:role>/drop/", security.role_drop, name="security-role-drop"),
    path("<str:name>/roles/<str:role>/assign/", security.role_assign, name="security-role-assign"),
    path("<str:name>/roles/<str:role>/unassign/<str:username>/", security.role_unassign,
         name="security-role-unassign"),
    path("<str:name>/policies/", security.policies_page, name="security-policies"),
    path("<str:name>/policies/validate/", security.policy_validate, name="security-policy-validate"),
    path("<str:name>/policies/save/", security.policy_save, name="security-policy-save"),
    path("<str:name>/labels/", security.labels_page, name="security-labels"),
    path("<str:name>/labels/table/", security.table_label_set, name="security-table-label-set"),
    path("<str:name>/labels/clearance/", security.clearance_set, name="security-clearance-set"),
    path("<str:name>/labels/grants/new/", security.label_grant_create, name="security-label-grant-create"),
    path("<str:name>/labels/grants/<int:pk>/revoke/", security.label_grant_revoke,
         name="security-label-grant-revoke"),
    path("<str:name>/labels/grants/clear-expired/", security.label_grants_clear_expired,
         name="security-label-grants-clear"),
    path("<str:name>/packages/", security.packages_page, name="security-packages"),
    path("<str:name>/packages/new/", security.package_create, name="security-package-create"),
    path("<str:name>/packages/install/", security.package_install, name="security-package-install"),
    path("<str:name>/packages/installed/<int:pk>/uninstall/", security.package_uninstall,
         name="security-package-uninstall"),
    path("<str:name>/packages/<str:package>/objects/add/", security.package_object_add,
         name="security-package-object-add"),
    path("<str:name>/packages/<str:package>/objects/remove/", security.package_object_remove,
         name="security-package-object-remove"),
    path("<str:name>/packages/<str:package>/allow/", security.package_allow, name="security-package-allow"),
    path("<str:name>/packages/<str:package>/disallow/", security.package_disallow,
         name="security-package-disallow"),
    path("<str:name>/packages/<str:package>/drop/", security.package_drop, name="security-package-drop"),
]
