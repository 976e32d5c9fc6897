from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "apps.permissions"
    label = "permissions"
    verbose_name = "Permissions"

    def ready(self):
        from apps.catalog import hooks as catalog_hooks
        from apps.permissions import hooks, table_access, versions
        from apps.tenancy import hooks as tenancy_hooks

        catalog_hooks.on_objects_dropped.append(hooks.objects_dropped)
        tenancy_hooks.on_security_changed.append(versions.version_record)
        catalog_hooks.table_access_panels.append(table_access.table_access_panel)
        tenancy_hooks.member_badges.append(hooks.member_clearance_badges)
