"""Harvests of a real MariaDB/MySQL database (the server named by MYSQL_URL), and its
connection errors. Collected only when MYSQL_URL is set (tests/catalog/mysql_gate.py)."""

import socket

import pytest

from apps.audit.models import Event
from apps.catalog import services
from apps.catalog.models import DataSourceKind, HarvestStatus, Table, TableKind, TLSMode
from tests.catalog.factories import harvest_now
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

WRONG_PASSWORD = "Wr0ng-mysql-pa55word"


def _source(owner, project, server, **overrides):
    fields = dict(kind=DataSourceKind.MYSQL, name="shop", host=server["host"], port=server["port"],
                  database=server["database"], username=server["user"], password=server["password"],
                  tls_mode=TLSMode.PREFER)
    fields.update(overrides)
    return services.data_source_create(actor=owner, project=project, **fields)


def test_mysql_harvest_reads_tables_views_columns_and_comments_then_follows_changes(scratch_mysql):
    server, run_sql = scratch_mysql
    run_sql(
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL COMMENT 'Full name', "
        "mobile VARCHAR(20), email TEXT) COMMENT 'People who bought'",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DECIMAL(12,2))",
        "CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 10",
    )
    owner = make_owner()
    data_source = _source(owner, make_project(owner), server)

    first = harvest_now(owner, data_source)

    assert first.status == HarvestStatus.SUCCEEDED, first.error
    assert first.progress == 100
    tables = {t.name: t for t in Table.objects.filter(data_source=data_source)}
    assert set(tables) == {"customers", "orders", "big_orders"}
    assert {t.schema for t in tables.values()} == {server["database"]}
    assert tables["customers"].comment == "People who bought"
    assert tables["big_orders"].kind == TableKind.VIEW and tables["big_orders"].comment == ""
    assert tables["orders"].kind == TableKind.TABLE
    columns = {c.name: c for c in tables["customers"].columns.all()}
    assert [c.name for c in tables["customers"].columns.order_by("ordinal")] == ["id", "name", "mobile", "email"]
    assert columns["name"].data_type == "varchar(100)" and columns["name"].comment == "Full name"
    assert columns["name"].nullable is False and columns["mobile"].nullable is True
    assert first.counts["tables_added"] == 3 and first.counts["columns_seen"] == 8

    run_sql("ALTER TABLE customers ADD COLUMN birthday DATE", "ALTER TABLE customers DROP COLUMN email",
            "ALTER TABLE customers MODIFY mobile VARCHAR(32)", "DROP VIEW big_orders")
    second = harvest_now(owner, data_source)

    summary = sorted((e["object"], e["change"], e["table"], e.get("column")) for e in second.changes)
    assert summary == [
        ("column", "added", "customers", "birthday"),
        ("column", "changed", "customers", "mobile"),
        ("column", "dropped", "customers", "email"),
        ("table", "dropped", "big_orders", None),
    ]
    assert Table.objects.get(pk=tables["big_orders"].pk).is_dropped
    assert tables["customers"].columns.get(name="email").is_dropped
    assert tables["customers"].columns.get(name="mobile").data_type == "varchar(32)"


def test_mysql_wrong_password_is_reported_without_the_password(scratch_mysql):
    server, _ = scratch_mysql
    owner = make_owner()
    data_source = _source(owner, make_project(owner), server, password=WRONG_PASSWORD)

    check = services.data_source_test_connection(actor=owner, data_source=data_source)

    assert not check.ok
    assert f"refused the credentials of user '{server['user']}'" in check.message
    assert WRONG_PASSWORD not in check.message

    run = harvest_now(owner, data_source)
    assert run.status == HarvestStatus.FAILED
    assert "refused the credentials" in run.error and WRONG_PASSWORD not in run.error
    event = Event.objects.filter(action="catalog.harvest").latest("id")
    assert event.details["status"] == "failed" and WRONG_PASSWORD not in str(event.details)


def test_mysql_bad_port_unknown_database_and_required_tls_have_clear_messages(scratch_mysql):
    server, _ = scratch_mysql
    owner = make_owner()
    project = make_project(owner)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]

    def check(**overrides):
        fields = dict(kind=DataSourceKind.MYSQL, host=server["host"], port=server["port"],
                      database=server["database"], username=server["user"], password=WRONG_PASSWORD + "x",
                      tls_mode=TLSMode.DISABLE)
        fields.update(overrides)
        result = services.connection_parameters_test(actor=owner, project=project, **fields)
        assert not result.ok
        assert WRONG_PASSWORD not in result.message
        return result.message

    assert "connection refused" in check(host="127.0.0.1", port=free_port)
    assert "no database named 'no_such_db'" in check(database="no_such_db", password=server["password"])
    if _server_offers_tls(server):
        # A test server's certificate is self-signed: encryption works, verification does not.
        assert "certificate could not be verified" in check(tls_mode=TLSMode.VERIFY_FULL,
                                                            password=server["password"])
    else:
        assert "does not offer TLS" in check(tls_mode=TLSMode.REQUIRE, password=server["password"])


def _server_offers_tls(server) -> bool:
    import pymysql

    with pymysql.connect(host=server["host"], port=server["port"], user=server["user"],
                         password=server["password"], database=server["database"]) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW VARIABLES LIKE 'have_ssl'")
            row = cursor.fetchone()
    return bool(row) and row[1] == "YES"
