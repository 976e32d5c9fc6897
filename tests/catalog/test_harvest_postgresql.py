"""Harvest of a second PostgreSQL database: a scratch database on the test server."""

import pytest

from apps.catalog.models import HarvestStatus, Table, TableKind
from tests.catalog.factories import harvest_now, make_postgresql_source
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def test_external_postgresql_harvest_covers_every_user_schema_but_not_system_ones(scratch_postgresql):
    server, run_sql = scratch_postgresql
    run_sql(
        "CREATE SCHEMA sales",
        "CREATE TABLE sales.invoices (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10, 2))",
        "COMMENT ON COLUMN sales.invoices.customer IS 'Customer name'",
        "INSERT INTO sales.invoices SELECT g, 'c' || g, g FROM generate_series(1, 25) g",
        "ANALYZE sales.invoices",
        "CREATE TABLE public.events (id bigint, ip inet, at timestamptz)",
        "CREATE MATERIALIZED VIEW sales.totals AS SELECT customer, sum(total) AS total FROM sales.invoices "
        "GROUP BY customer",
        "CREATE TABLE public.measurements (id bigint, taken date) PARTITION BY RANGE (taken)",
        "CREATE TABLE public.measurements_2025 PARTITION OF public.measurements "
        "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    )
    owner = make_owner()
    data_source = make_postgresql_source(owner, make_project(owner), server)

    run = harvest_now(owner, data_source)

    assert run.status == HarvestStatus.SUCCEEDED, run.error
    tables = {t.qualified_name: t for t in Table.objects.filter(data_source=data_source)}
    # A partitioned table stands for its partitions; pg_catalog and information_schema stay out.
    assert set(tables) == {"sales.invoices", "sales.totals", "public.events", "public.measurements"}
    assert tables["sales.totals"].kind == TableKind.VIEW
    assert tables["sales.invoices"].row_estimate == 25
    customer = tables["sales.invoices"].columns.get(name="customer")
    assert customer.comment == "Customer name" and customer.data_type == "text" and not customer.nullable
    assert tables["public.events"].columns.get(name="ip").data_type == "inet"

    run_sql("DROP TABLE public.events", "ALTER TABLE sales.invoices ADD COLUMN paid_at timestamptz")
    second = harvest_now(owner, data_source)
    summary = sorted((e["object"], e["change"], e["schema"], e["table"], e.get("column")) for e in second.changes)
    assert summary == [("column", "added", "sales", "invoices", "paid_at"), ("table", "dropped", "public", "events",
                                                                              None)]
    assert Table.objects.get(pk=tables["public.events"].pk).is_dropped
