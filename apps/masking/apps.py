from django.apps import AppConfig


class MaskingConfig(AppConfig):
    name = "apps.masking"
    label = "masking"
    verbose_name = "Masking"

    def ready(self):
        from apps.masking.row_filters import RowFilterStatements
        from apps.permissions import hooks as permission_hooks

        permission_hooks.statement_extensions.append(RowFilterStatements())
