"""A small warehouse for the gateway's tests: a project ``shop`` with real tables and rows,
catalogued, a reader with grants, a masking rule on the mobile numbers, and helpers to run
statements as someone."""

import re
from html import unescape
from types import SimpleNamespace

from django.db import connections
from django.utils import timezone

from apps.catalog.harvest import warehouse_tables_sync
from apps.catalog.models import Column
from apps.gateway.services import query_run
from apps.masking.services import masking_rule_create
from apps.permissions.console import statement_run
from apps.tenancy.services import member_add
from tests.factories import make_owner, make_project, make_subaccount

CUSTOMERS = [
    (1, "Alice", "13812345678", "alice@example.com", "EU", 5200),
    (2, "Bob", "13987654321", "bob@example.org", "US", 4100),
    (3, "Carol", "13711112222", "carol@example.net", "EU", 6100),
    (4, "Dave", "13633334444", "dave@example.com", "APAC", 3900),
]
ORDERS = [(10, 1, 120), (11, 1, 80), (12, 2, 45), (13, 3, 300), (14, 4, 15)]


def warehouse_execute(sql: str, params=None) -> None:
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(sql, params)


def make_tables(project, *, customers=CUSTOMERS, orders=ORDERS) -> None:
    schema = project.schema_name
    warehouse_execute(f'CREATE TABLE "{schema}".customers (id integer PRIMARY KEY, name text, mobile text, '
                      f'email text, region text, salary numeric(10,2))')
    warehouse_execute(f'CREATE TABLE "{schema}".orders (id integer PRIMARY KEY, customer_id integer, '
                      f'amount numeric(10,2))')
    with connections["warehouse"].cursor() as cursor:
        cursor.executemany(f'INSERT INTO "{schema}".customers VALUES (%s, %s, %s, %s, %s, %s)', customers)
        cursor.executemany(f'INSERT INTO "{schema}".orders VALUES (%s, %s, %s)', orders)
    warehouse_tables_sync(project=project, names=frozenset({"customers", "orders"}), summary="test tables")


def column(project, table: str, name: str) -> Column:
    return Column.objects.get(table__data_source__project=project, table__name=table, name=name, is_dropped=False)


def console(actor, project, *statements: str) -> None:
    for text in statements:
        result = statement_run(actor=actor, project=project, text=text)
        assert result.ok, (text, result.output)


def make_shop(name: str | None = None, owner=None):
    """``owner``'s project with ``reader`` (Select on both tables, mobile masked to first 3 /
    last 4 for everyone) and ``stranger`` (a member with no grants)."""
    owner = owner or make_owner()
    project = make_project(owner, name)
    reader, stranger = make_subaccount(owner), make_subaccount(owner)
    for user in (reader, stranger):
        member_add(actor=owner, project=project, user=user)
    make_tables(project)
    console(owner, project, f"grant select on table customers to user {reader.principal_name}",
            f"grant select on table orders to user {reader.principal_name}")
    rule = masking_rule_create(actor=owner, project=project, column=column(project, "customers", "mobile"),
                               name="mobile numbers", algorithm="mobile_phone", params={})
    return SimpleNamespace(owner=owner, project=project, reader=reader, stranger=stranger, rule=rule,
                           now=timezone.now())


def run(user, project, sql: str, **kwargs):
    return query_run(actor=user, project=project, sql=sql, **kwargs)


def customers_add(project, rows) -> None:
    """More rows in ``project``'s customers table, straight into the warehouse (the catalog
    already knows the table)."""
    with connections["warehouse"].cursor() as cursor:
        cursor.executemany(f'INSERT INTO "{project.schema_name}".customers VALUES (%s, %s, %s, %s, %s, %s)', rows)


def warehouse_rows(sql: str, params=None) -> list[tuple]:
    """What the warehouse holds, read as Warden (no gateway, no masking)."""
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def make_filtered_reader(shop, expression: str = "region = 'EU'"):
    """A new member of ``shop``'s project with Select and Update on customers and Select on
    orders, who sees only the customers rows ``expression`` lets through."""
    from apps.catalog.models import Table
    from apps.masking.row_filters import row_filter_create

    reader = make_subaccount(shop.owner)
    member_add(actor=shop.owner, project=shop.project, user=reader)
    console(shop.owner, shop.project, f"grant select, update on table customers to user {reader.principal_name}",
            f"grant select on table orders to user {reader.principal_name}")
    table = Table.objects.get(data_source__project=shop.project, name="customers", is_dropped=False)
    row_filter_create(actor=shop.owner, project=shop.project, table=table, name="filtered_reader",
                      expression=expression, user=reader)
    return reader


def result_grid(page: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and the body rows' cells of the first table in an HTML page, as text."""
    def text(cell: str) -> str:
        return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip())

    head = page[page.index("<thead>"):page.index("</thead>")]
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return ([text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", head)],
            [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
             for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)])
