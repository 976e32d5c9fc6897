from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        # Registers the OpenAPI description of AccessKey signing with drf-spectacular.
        from apps.accounts import schema  # noqa: F401
