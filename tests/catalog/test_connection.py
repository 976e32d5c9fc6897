"""The "test connection" button against a real PostgreSQL server: every failure is named in
plain words, and the password never appears in a message, a failed run or a log line."""

import logging
import socket

import pytest
from django.db import connection

from apps.catalog import services
from apps.catalog.models import DataSourceKind, HarvestStatus, TLSMode
from tests.catalog.factories import harvest_now, make_postgresql_source
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

PASSWORD = "S3cret-do-not-leak-9f2"


@pytest.fixture
def owner_and_project():
    owner = make_owner()
    return owner, make_project(owner)


@pytest.fixture
def server():
    settings_dict = connection.settings_dict
    return {"host": settings_dict["HOST"] or "127.0.0.1", "port": int(settings_dict["PORT"] or 5432),
            "user": settings_dict["USER"], "password": PASSWORD, "dbname": "postgres"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _check(owner, project, server, **overrides):
    fields = dict(kind=DataSourceKind.POSTGRESQL, host=server["host"], port=server["port"],
                  database=server["dbname"], username=server["user"], password=PASSWORD, tls_mode=TLSMode.DISABLE)
    fields.update(overrides)
    return services.connection_parameters_test(actor=owner, project=project, **fields)


def test_a_good_connection_reports_the_server_version(owner_and_project, server):
    owner, project = owner_and_project
    data_source = make_postgresql_source(owner, project, server)
    check = services.data_source_test_connection(actor=owner, data_source=data_source)
    assert check.ok and "PostgreSQL" in check.message


@pytest.mark.parametrize("overrides, expected", [
    ({"port": "free"}, "connection refused): check the host and the port"),
    ({"host": "no-such-host.invalid"}, "The host name 'no-such-host.invalid' could not be resolved"),
    ({"database": "no_such_database"}, "has no database named 'no_such_database'"),
    ({"username": "no_such_role"}, "refused the credentials of user 'no_such_role'"),
    ({"tls_mode": TLSMode.REQUIRE}, "does not offer TLS, but the TLS mode 'require' requires it"),
], ids=["bad-port", "bad-host", "bad-database", "bad-credentials", "tls-required"])
def test_failures_are_named_without_the_password(owner_and_project, server, overrides, expected, caplog):
    owner, project = owner_and_project
    if overrides.get("port") == "free":
        overrides = dict(overrides, port=_free_port())
    if "tls_mode" in overrides:
        with connection.cursor() as cursor:
            cursor.execute("SHOW ssl")
            # The test servers (the machine's and the embedded one) run without TLS.
            assert cursor.fetchone()[0] == "off"

    with caplog.at_level(logging.DEBUG):
        check = _check(owner, project, server, **overrides)

    assert not check.ok
    assert expected in check.message
    assert PASSWORD not in check.message
    assert PASSWORD not in caplog.text


def test_a_failed_harvest_stores_the_reason_without_the_password(owner_and_project, server, caplog):
    owner, project = owner_and_project
    data_source = make_postgresql_source(owner, project, dict(server, port=_free_port()))

    with caplog.at_level(logging.DEBUG):
        run = harvest_now(owner, data_source)

    assert run.status == HarvestStatus.FAILED
    assert "connection refused" in run.error and PASSWORD not in run.error
    assert PASSWORD not in caplog.text
    data_source.refresh_from_db()
    assert data_source.last_harvest_status == HarvestStatus.FAILED
