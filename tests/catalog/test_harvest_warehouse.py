"""Incremental harvests of a project's warehouse schema."""

import pytest

from apps.audit.models import Event
from apps.catalog import hooks, services
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import Column, DataSourceKind, HarvestStatus, Table, TableKind
from tests.catalog.factories import harvest_now
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def _changes(run, obj, change):
    return sorted(
        (entry["table"], entry.get("column")) for entry in run.changes
        if entry["object"] == obj and entry["change"] == change
    )


@pytest.fixture
def project_with_tables(warehouse_sql):
    owner = make_owner()
    project = make_project(owner)
    schema = project.schema_name
    warehouse_sql(
        f"CREATE TABLE {schema}.customers (id bigint PRIMARY KEY, name text NOT NULL, mobile varchar(20), "
        "email text)",
        f"COMMENT ON TABLE {schema}.customers IS 'Everyone who ever bought'",
        f"COMMENT ON COLUMN {schema}.customers.mobile IS 'Mobile phone, E.164'",
        f"CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_id bigint, amount numeric(12, 2))",
        f"INSERT INTO {schema}.orders SELECT g, g, g * 1.5 FROM generate_series(1, 40) g",
        f"ANALYZE {schema}.orders",
        f"CREATE VIEW {schema}.big_orders AS SELECT id, amount FROM {schema}.orders WHERE amount > 10",
    )
    return owner, project


def test_first_harvest_registers_the_warehouse_and_catalogs_the_projects_schema(project_with_tables):
    owner, project = project_with_tables
    other = make_project(owner)  # another schema of the same warehouse stays out

    run = services.project_harvest_start(actor=owner, project=project)
    assert run.data_source.kind == DataSourceKind.WAREHOUSE
    assert harvest_run_execute(run_id=run.pk) == HarvestStatus.SUCCEEDED
    run.refresh_from_db()

    assert run.status == HarvestStatus.SUCCEEDED and run.progress == 100
    tables = {t.name: t for t in Table.objects.filter(data_source=run.data_source)}
    assert set(tables) == {"customers", "orders", "big_orders"}
    assert {t.schema for t in tables.values()} == {project.schema_name} != {other.schema_name}
    assert tables["big_orders"].kind == TableKind.VIEW
    assert tables["customers"].comment == "Everyone who ever bought"
    assert tables["orders"].row_estimate == 40
    columns = {c.name: c for c in tables["customers"].columns.all()}
    assert [c.name for c in tables["customers"].columns.order_by("ordinal")] == ["id", "name", "mobile", "email"]
    assert columns["mobile"].data_type == "character varying(20)"
    assert columns["mobile"].comment == "Mobile phone, E.164"
    assert columns["name"].nullable is False and columns["email"].nullable is True

    assert _changes(run, "table", "added") == [("big_orders", None), ("customers", None), ("orders", None)]
    assert run.counts["tables_added"] == 3 and run.counts["tables_seen"] == 3 and run.counts["columns_seen"] == 9
    event = Event.objects.filter(action="catalog.harvest").latest("id")
    assert event.project_id == project.pk and event.actor_id == owner.pk
    assert event.details["status"] == "succeeded" and event.details["tables_added"] == 3


def test_second_harvest_records_added_changed_and_dropped_objects(project_with_tables, warehouse_sql):
    owner, project = project_with_tables
    schema = project.schema_name
    data_source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, data_source)
    customers = Table.objects.get(data_source=data_source, name="customers")
    email = customers.columns.get(name="email")

    warehouse_sql(
        f"ALTER TABLE {schema}.customers ADD COLUMN birthday date",
        f"ALTER TABLE {schema}.customers DROP COLUMN email",
        f"ALTER TABLE {schema}.customers ALTER COLUMN mobile TYPE varchar(32)",
        f"COMMENT ON COLUMN {schema}.customers.name IS 'Full name'",
        f"DROP VIEW {schema}.big_orders",
        f"CREATE TABLE {schema}.employees (id bigint, salary numeric)",
    )
    run = harvest_now(owner, data_source)

    assert run.status == HarvestStatus.SUCCEEDED
    assert _changes(run, "table", "added") == [("employees", None)]
    assert _changes(run, "table", "dropped") == [("big_orders", None)]
    assert _changes(run, "column", "added") == [("customers", "birthday")]
    assert _changes(run, "column", "dropped") == [("customers", "email")]
    assert _changes(run, "column", "changed") == [("customers", "mobile"), ("customers", "name")]
    mobile_change = next(e for e in run.changes if e.get("column") == "mobile")
    assert mobile_change["fields"] == {"data_type": {"from": "character varying(20)",
                                                     "to": "character varying(32)"}}
    assert run.counts == {"tables_added": 1, "tables_dropped": 1, "columns_added": 1, "columns_dropped": 1,
                          "columns_changed": 2, "tables_seen": 3, "columns_seen": 9}

    email.refresh_from_db()
    assert email.is_dropped and email.dropped_at is not None
    big_orders = Table.objects.get(data_source=data_source, name="big_orders")
    assert big_orders.is_dropped and big_orders.dropped_at is not None
    # The dropped view's columns go with it.
    assert set(big_orders.columns.values_list("is_dropped", flat=True)) == {True}
    assert not Table.objects.get(pk=customers.pk).is_dropped
    # Nothing is deleted.
    assert Column.objects.filter(table=customers).count() == 5

    # A third harvest with nothing changed records nothing.
    quiet = harvest_now(owner, data_source)
    assert quiet.changes == [] and quiet.counts == {"tables_seen": 3, "columns_seen": 9}


def test_reappearing_table_and_column_are_revived_with_their_sensitivity(project_with_tables, warehouse_sql):
    owner, project = project_with_tables
    schema = project.schema_name
    data_source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, data_source)
    mobile = Column.objects.get(table__data_source=data_source, table__name="customers", name="mobile")
    Column.objects.filter(pk=mobile.pk).update(sensitivity_level=5)
    orders = Table.objects.get(data_source=data_source, name="orders")

    warehouse_sql(f"ALTER TABLE {schema}.customers DROP COLUMN mobile", f"DROP VIEW {schema}.big_orders",
                  f"DROP TABLE {schema}.orders")
    dropped = harvest_now(owner, data_source)
    assert _changes(dropped, "table", "dropped") == [("big_orders", None), ("orders", None)]

    warehouse_sql(f"ALTER TABLE {schema}.customers ADD COLUMN mobile text",
                  f"CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_id bigint, amount numeric(12, 2))")
    revived = harvest_now(owner, data_source)

    assert _changes(revived, "table", "revived") == [("orders", None)]
    assert _changes(revived, "column", "revived") == [("customers", "mobile")]
    # A revived table's columns come back with it, not one by one.
    assert not [e for e in revived.changes if e["object"] == "column" and e["table"] == "orders"]
    mobile.refresh_from_db()
    orders.refresh_from_db()
    assert not mobile.is_dropped and mobile.dropped_at is None and mobile.data_type == "text"
    assert mobile.sensitivity_level == 5
    assert not orders.is_dropped
    assert set(orders.columns.values_list("is_dropped", flat=True)) == {False}


def test_hooks_see_dropped_objects_inside_the_harvest_transaction(project_with_tables, warehouse_sql,
                                                                  monkeypatch):
    owner, project = project_with_tables
    schema = project.schema_name
    data_source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, data_source)
    seen = []

    def record_drop(*, data_source, tables, columns):
        # Inside the transaction: the rows already say dropped.
        seen.append((sorted(t.name for t in tables), sorted(str(c) for c in columns),
                     sorted(Table.objects.filter(pk__in=[t.pk for t in tables]).values_list("is_dropped", flat=True))))

    monkeypatch.setattr(hooks, "on_objects_dropped", [record_drop])
    warehouse_sql(f"DROP VIEW {schema}.big_orders", f"ALTER TABLE {schema}.customers DROP COLUMN email")
    harvest_now(owner, data_source)

    assert seen == [(["big_orders"], [f"{schema}.big_orders.amount", f"{schema}.big_orders.id",
                                      f"{schema}.customers.email"], [True])]


def test_a_failing_hook_rolls_the_harvest_back_and_fails_the_run(project_with_tables, warehouse_sql, monkeypatch):
    owner, project = project_with_tables
    data_source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, data_source)

    def refuse(**kwargs):
        raise RuntimeError("grants could not be removed")

    monkeypatch.setattr(hooks, "on_objects_dropped", [refuse])
    warehouse_sql(f"DROP VIEW {project.schema_name}.big_orders")
    run = harvest_now(owner, data_source)

    assert run.status == HarvestStatus.FAILED
    assert "grants could not be removed" in run.error
    assert not Table.objects.get(data_source=data_source, name="big_orders").is_dropped
    data_source.refresh_from_db()
    assert data_source.last_harvest_status == HarvestStatus.FAILED
