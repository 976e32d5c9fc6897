import os
import uuid

import pytest

from tests.flushing import allow_flushing_audit_log

pytest_plugins = ["tests.catalog.mysql_gate"]

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
    """``api_client_for(user)`` returns a client that signs every request with one of
    ``user``'s AccessKeys, as a REST client does (None: an anonymous client)."""
    from tests.signing import signed_client_for

    return signed_client_for


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Accounts are made through the real services, and argon2 costs a good part of a second
    a password by design. Tests marked ``argon2`` keep the project's real hashers."""
    if request.node.get_closest_marker("argon2") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
