"""The environment another process (a Celery worker, ``manage.py shell``) needs to work on
this test's databases and Redis, as the test process sees them."""

import os

from django.conf import settings
from django.db import connection


def _database_url(alias_settings, name: str) -> str:
    password = f":{alias_settings['PASSWORD']}" if alias_settings.get("PASSWORD") else ""
    return f"postgresql://{alias_settings['USER']}{password}@{alias_settings['HOST']}:{alias_settings['PORT']}/{name}"


def environment_of_this_test() -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=_database_url(settings.DATABASES["default"], connection.settings_dict["NAME"]),
        WAREHOUSE_URL=_database_url(settings.DATABASES["warehouse"], settings.DATABASES["warehouse"]["NAME"]),
        REDIS_URL=settings.REDIS_URL,
        WARDEN_MASTER_KEY=settings.WARDEN_MASTER_KEY,
    )
