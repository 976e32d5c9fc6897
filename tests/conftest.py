import os
import uuid

import pytest

from tests.flushing import allow_flushing_audit_log

allow_flushing_audit_log()


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test gets its own Redis key prefix: xdist workers share one Redis, and login
    throttling and nonces live there."""
    settings.CACHES = {
        "default": dict(settings.CACHES["default"], KEY_PREFIX=f"test-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    }


# Tests that create projects touch the warehouse database too (one schema per project).
both_databases = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def api_client_for():
    """``api_client_for(user)`` returns a DRF test client acting as ``user`` (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
