"""Writes through the gateway: each needs its action, DDL updates the catalog in the same
transaction, writes record lineage, and copies keep their data's labels."""

import pytest

from apps.audit.models import Event
from apps.catalog.models import LineageEdge, Table
from apps.gateway.services import QueryDenied, QueryFailed
from apps.gateway.sql import QueryRefused
from tests.conftest import both_databases
from tests.gateway.world import column, console, make_shop, run

pytestmark = both_databases


def _table(project, name):
    return Table.objects.filter(data_source__project=project, name=name, is_dropped=False).first()


def test_create_table_as_select_catalogues_the_table_records_lineage_and_keeps_masked_values():
    shop = make_shop()
    console(shop.owner, shop.project, f"grant createtable on project {shop.project.name} to user "
                                      f"{shop.reader.principal_name}")
    result = run(shop.reader, shop.project, "create table contacts as select id, upper(name) as who, mobile "
                                            "from customers")
    assert result.rows_written == 4
    table = _table(shop.project, "contacts")
    assert table is not None and table.owner == shop.reader
    assert [c.name for c in table.columns.order_by("ordinal")] == ["id", "who", "mobile"]
    edges = {(e.source_column.name, e.target_column.name) for e in LineageEdge.objects.filter(target_table=table)
             .exclude(source_column=None)}
    assert edges == {("id", "id"), ("name", "who"), ("mobile", "mobile")}
    # The creator reads its own table; the copy holds what the reader saw, masked.
    copy = run(shop.reader, shop.project, "select mobile from contacts order by id")
    assert copy.rows[0] == ["138****5678"]


def test_create_table_as_select_inherits_the_source_columns_labels():
    shop = make_shop()
    console(shop.owner, shop.project, "set label 2 to table customers(salary)")
    run(shop.owner, shop.project, "create table pay as select id, salary * 2 as double_pay from customers")
    assert column(shop.project, "pay", "double_pay").sensitivity_level == 2
    assert column(shop.project, "pay", "id").sensitivity_level is None


def test_create_table_needs_createtable_and_a_denied_create_leaves_nothing():
    shop = make_shop()
    with pytest.raises(QueryDenied) as denied:
        run(shop.reader, shop.project, "create table scratch (a int)")
    assert denied.value.denied[0].request.action == "CreateTable"
    assert _table(shop.project, "scratch") is None
    event = Event.objects.filter(action="gateway.query", actor=shop.reader).latest("id")
    assert event.decision == "deny" and event.details["kind"] == "create_table"


def test_insert_update_delete_need_update_and_count_rows():
    shop = make_shop()
    with pytest.raises(QueryDenied):
        run(shop.reader, shop.project, "insert into orders values (99, 1, 5)")
    console(shop.owner, shop.project, f"grant update on table orders to user {shop.reader.principal_name}")
    assert run(shop.reader, shop.project, "insert into orders values (99, 1, 5), (98, 2, 6)").rows_written == 2
    assert run(shop.reader, shop.project, "update orders set amount = amount + 1 where id >= 98").rows_written == 2
    assert run(shop.reader, shop.project, "delete from orders where id = 99").rows_written == 1
    assert run(shop.reader, shop.project, "select count(*) from orders").rows == [[6]]


def test_delete_decides_on_masked_values():
    shop = make_shop()
    console(shop.owner, shop.project, f"grant update on table customers to user {shop.reader.principal_name}")
    assert run(shop.reader, shop.project, "delete from customers where mobile = '13812345678'").rows_written == 0
    assert run(shop.reader, shop.project, "delete from customers where mobile = '138****5678'").rows_written == 1


def test_insert_select_records_lineage_into_the_written_table():
    shop = make_shop()
    run(shop.owner, shop.project, "create table totals (customer_id int, total numeric)")
    run(shop.owner, shop.project, "insert into totals select customer_id, sum(amount) from orders group by 1")
    table = _table(shop.project, "totals")
    edges = {(e.source_table.name, e.source_column.name, e.target_column.name)
             for e in LineageEdge.objects.filter(target_table=table).exclude(source_column=None)}
    assert edges == {("orders", "customer_id", "customer_id"), ("orders", "amount", "total")}


def test_drop_table_needs_drop_and_marks_the_catalog_table_dropped():
    shop = make_shop()
    with pytest.raises(QueryDenied):
        run(shop.reader, shop.project, "drop table orders")
    run(shop.owner, shop.project, "drop table orders")
    assert _table(shop.project, "orders") is None
    with pytest.raises(QueryRefused, match="no table"):
        run(shop.owner, shop.project, "select * from orders")


def test_a_failing_write_changes_nothing_in_the_warehouse_or_the_catalog():
    shop = make_shop()
    with pytest.raises(QueryFailed, match="division by zero"):
        run(shop.owner, shop.project, "create table broken as select id / 0 as x from customers")
    assert _table(shop.project, "broken") is None
    with pytest.raises(QueryRefused, match="no table"):
        run(shop.owner, shop.project, "select * from broken")


def test_no_write_down_stops_labelled_data_flowing_into_a_lower_table():
    shop = make_shop()
    console(shop.owner, shop.project, "set LabelSecurity=true", "set NoWriteDown=true",
            "set label 3 to table customers(salary)", f"set label 3 to user {shop.reader.principal_name}",
            f"grant update on table orders to user {shop.reader.principal_name}")
    with pytest.raises(QueryDenied) as denied:
        run(shop.reader, shop.project, "insert into orders select id, id, salary from customers")
    check = denied.value.denied[0]
    assert check.request.action == "Update" and check.request.read_level == 3
    assert str(check.decision.step) == "label_security"
    # Data read at a lower level may go there.
    assert run(shop.reader, shop.project, "insert into orders select id + 100, id, 1 from customers").rows_written == 4
