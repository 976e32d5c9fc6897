from django.apps import AppConfig


class MaskingConfig(AppConfig):
    name = "apps.masking"
    label = "masking"
    verbose_name = "Masking"

    def ready(self):
        from apps.masking.facts import FACT_LINES, ROLLBACK_REASON, masking_facts
        from apps.masking.row_filters import RowFilterStatements
        from apps.permissions import hooks as permission_hooks

        permission_hooks.statement_extensions.append(RowFilterStatements())
        permission_hooks.security_fact_providers.append(masking_facts)
        permission_hooks.fact_describers.update(FACT_LINES)
        permission_hooks.fact_rollback_reasons.update(dict.fromkeys(FACT_LINES, ROLLBACK_REASON))
