"""Row filters' services and selectors: the condition check (sqlglot, the allow-list, the
table's own columns, PostgreSQL's plan), who may write them, their audit and version bump,
and which conditions the gateway applies to whom."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections

from apps.audit.models import Event
from apps.masking.models import RowFilter
from apps.masking.row_filters import (
    Subject,
    row_filter_conditions,
    row_filter_create,
    row_filter_delete,
    row_filter_list,
    row_filter_update,
)
from apps.tenancy.models import Project
from apps.tenancy.services import member_add, role_assign
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table, make_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def row_filter_world() -> SimpleNamespace:
    """``make_world`` plus ``accounts`` (id, region, amount, email) and ``payments`` (id,
    amount); all four tables exist in the warehouse too, so PostgreSQL can plan conditions."""
    world = make_world()
    schema = world.project.schema_name
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{schema}"."customers" (id integer, mobile text, email text)')
        cursor.execute(f'CREATE TABLE "{schema}"."orders" (id integer, amount numeric)')
        cursor.execute(f'CREATE TABLE "{schema}"."accounts" (id integer, region text, amount numeric, email text)')
        cursor.execute(f'CREATE TABLE "{schema}"."payments" (id integer, amount numeric)')
    world.accounts = make_table(world.project, "accounts", columns=("id", "region", "amount", "email"))
    world.payments = make_table(world.project, "payments", columns=("id", "amount"))
    return world


def create(world, expression="region = 'EU'", *, actor=None, table=None, name="eu_only", **subject):
    subject = subject or {"role": world.analyst}
    return row_filter_create(actor=actor or world.owner, project=world.project, table=table or world.accounts,
                             name=name, expression=expression, **subject)


def state(world):
    project = Project.objects.get(pk=world.project.pk)
    return (list(RowFilter.objects.values_list("pk", "expression", "enabled")), Event.objects.count(),
            project.security_version)


@pytest.fixture
def world():
    return row_filter_world()


# --- the condition ----------------------------------------------------------------------------

def test_a_condition_is_stored_with_every_column_a_quoted_bare_name(world):
    row_filter = create(world, "Region = 'EU' and accounts.amount > 10 -- Europe only")

    assert row_filter.expression == "\"region\" = 'EU' AND \"amount\" > 10"


@pytest.mark.parametrize("expression", [
    "region in ('EU', 'US')",
    "upper(region) like 'E%'",
    "amount between 1 and 5 or region is null",
    "coalesce(email, '') <> ''",
    "region ~ '^E' and not (id = 3)",
    "\"accounts\".\"id\"::text = '1'",
])
def test_conditions_within_the_allow_list_over_the_tables_columns_are_accepted(world, expression):
    row_filter = create(world, expression)

    assert RowFilter.objects.get(pk=row_filter.pk).expression == row_filter.expression


INVALID_CONDITIONS = [
    ("subquery", "id in (select id from payments)", "subquery"),
    ("exists", "exists (select 1)", "subquery"),
    ("function_off_the_allow_list", "pg_read_file(region) = 'x'", "pg_read_file is not allowed"),
    ("catalog_lookup_cast", "region::regclass is not null", "regclass is not allowed"),
    ("unknown_column", "nosuch = 1", "accounts has no column nosuch"),
    ("unquoted_string", "region = EU", "a string goes in single quotes"),
    ("other_tables_column", "payments.amount > 1", "payments.amount is a column of another table"),
    ("other_schemas_column", "public.accounts.region = 'x'", "another schema's column"),
    ("two_statements", "region = 'EU'; region = 'US'", "';' may not appear"),
    ("injection", "1=1; drop table x", "';' may not appear"),
    ("a_statement", "select 1", "not a statement (SELECT)"),
    ("aggregate", "count(*) > 1", "aggregate"),
    ("window", "row_number() over () = 1", "window function"),
    ("parameter", "region = $1", "parameters"),
    ("placeholder", "region = %(x)s", "parameters"),
    ("syntax", "region = ", "does not parse: an operand is missing"),
    ("unclosed_string", "region = 'EU", "never closed"),
    ("empty", "   ", "Write a condition"),
    ("type_error", "region > 5", "PostgreSQL refuses the condition: operator does not exist: text > integer"),
    ("bad_literal", "amount = 'lots'", "PostgreSQL refuses the condition: invalid input syntax for type numeric"),
    ("not_boolean", "amount + 1", "argument of WHERE must be type boolean"),
]


@pytest.mark.parametrize("expression, message", [case[1:] for case in INVALID_CONDITIONS],
                         ids=[case[0] for case in INVALID_CONDITIONS])
def test_an_invalid_condition_is_a_field_error_and_changes_nothing(world, expression, message):
    before = state(world)

    with pytest.raises(ValidationError) as raised:
        create(world, expression)

    assert list(raised.value.message_dict) == ["expression"]
    assert message in raised.value.message_dict["expression"][0]
    assert state(world) == before


def test_the_stored_condition_selects_the_rows_postgresql_would(world):
    row_filter = create(world, "region = 'EU' or amount > 100")
    table = f'"{world.project.schema_name}"."accounts"'
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'EU', 1, 'a'), (2, 'US', 500, 'b'), (3, 'US', 5, 'c')")
        cursor.execute(f"SELECT id FROM (SELECT * FROM {table}) AS t WHERE ({row_filter.expression}) ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [1, 2]


# --- the rest of a filter ---------------------------------------------------------------------

def test_a_table_must_be_a_live_warehouse_table_of_the_project(world):
    other = make_project(world.owner)
    elsewhere = make_table(other, "accounts", columns=("region",))
    world.payments.is_dropped = True
    world.payments.save()

    for table in (elsewhere, world.payments):
        with pytest.raises(ValidationError) as raised:
            create(world, table=table)
        assert list(raised.value.message_dict) == ["table"]
    assert not RowFilter.objects.exists()


def test_a_subject_is_one_member_one_role_of_the_project_or_everyone(world):
    outsider = make_subaccount(world.owner)
    foreign_role = make_project(world.owner).roles.first()

    for subject in ({"user": outsider}, {"role": foreign_role}, {"user": world.bob, "role": world.analyst},
                    {"everyone": False, "user": None}):
        with pytest.raises(ValidationError) as raised:
            create(world, **subject)
        assert list(raised.value.message_dict) == ["subject"]
    assert not RowFilter.objects.exists()


def test_names_are_unique_per_table_in_any_case(world):
    create(world)

    with pytest.raises(ValidationError) as raised:
        create(world, name="EU_ONLY", everyone=True)
    with pytest.raises(ValidationError) as bad_name:
        create(world, name="eu only", everyone=True)

    assert "already has a row filter named EU_ONLY" in raised.value.message_dict["name"][0]
    assert list(bad_name.value.message_dict) == ["name"]
    assert create(world, name="eu_only", table=world.payments, everyone=True, expression="amount > 0")


# --- who may, audit, version ------------------------------------------------------------------

def test_the_security_administrator_may_write_filters_and_admins_and_members_may_not(world):
    row_filter = create(world, actor=world.security)

    for actor in (world.admin, world.carol):
        before = state(world)
        with pytest.raises(PermissionDenied):
            create(world, actor=actor, name="other")
        with pytest.raises(PermissionDenied):
            row_filter_update(actor=actor, row_filter=row_filter, enabled=False)
        with pytest.raises(PermissionDenied):
            row_filter_delete(actor=actor, row_filter=row_filter)
        assert state(world) == before


def test_every_change_is_audited_and_bumps_the_security_version(world):
    version = Project.objects.get(pk=world.project.pk).security_version

    row_filter = create(world)
    row_filter_update(actor=world.owner, row_filter=row_filter, expression="region in ('EU', 'CH')",
                      subject=Subject(everyone=True), description="Europe")
    row_filter_update(actor=world.owner, row_filter=row_filter, enabled=False)
    row_filter_delete(actor=world.owner, row_filter=row_filter)

    events = list(Event.objects.filter(action__startswith="masking.row_filter").order_by("pk"))
    assert [event.action for event in events] == ["masking.row_filter_create", "masking.row_filter_update",
                                                  "masking.row_filter_update", "masking.row_filter_delete"]
    assert events[0].details["subject"] == "role analyst" and events[0].details["expression"] == "\"region\" = 'EU'"
    assert events[1].details["changes"]["subject"] == {"from": "role analyst", "to": "everyone"}
    assert events[1].details["changes"]["expression"]["to"] == "\"region\" IN ('EU', 'CH')"
    assert events[2].details["changes"] == {"enabled": {"from": True, "to": False}}
    assert events[3].details["name"] == "eu_only"
    assert Project.objects.get(pk=world.project.pk).security_version == version + 4
    assert not RowFilter.objects.exists()


def test_an_update_that_changes_nothing_records_nothing(world):
    row_filter = create(world)
    before = state(world)

    row_filter_update(actor=world.owner, row_filter=row_filter, expression="REGION = 'EU'", enabled=True)

    assert state(world) == before


def test_an_invalid_update_keeps_the_filter_as_it_was(world):
    row_filter = create(world)
    before = state(world)

    with pytest.raises(ValidationError) as raised:
        row_filter_update(actor=world.owner, row_filter=row_filter, expression="nosuch = 1", enabled=False)

    assert list(raised.value.message_dict) == ["expression"]
    assert state(world) == before


# --- which conditions apply to whom -----------------------------------------------------------

def test_a_filter_applies_to_its_user_to_holders_of_its_role_and_to_everyone(world):
    role_assign(actor=world.owner, role=world.analyst, user=world.carol)
    create(world, "region = 'EU'", name="bob_eu", user=world.bob)
    create(world, "region = 'US'", name="analysts_us", role=world.analyst)
    create(world, "amount > 0", table=world.payments, name="positive", everyone=True)
    tables = [world.accounts, world.payments, world.customers]

    assert row_filter_conditions(user=world.bob, tables=tables) == {
        world.accounts.pk: "(\"region\" = 'EU')", world.payments.pk: "(\"amount\" > 0)"}
    assert row_filter_conditions(user=world.carol, tables=tables) == {
        world.accounts.pk: "(\"region\" = 'US')", world.payments.pk: "(\"amount\" > 0)"}
    assert row_filter_conditions(user=world.admin, tables=tables) == {world.payments.pk: "(\"amount\" > 0)"}


def test_a_reader_named_by_several_filters_sees_the_rows_any_of_them_lets_through(world):
    role_assign(actor=world.owner, role=world.analyst, user=world.bob)
    create(world, "region = 'EU'", name="a_direct", user=world.bob)
    create(world, "region = 'US' or amount > 10", name="b_role", role=world.analyst)
    create(world, "id = 1", name="c_all", everyone=True)

    conditions = row_filter_conditions(user=world.bob, tables=[world.accounts])

    assert conditions == {world.accounts.pk: "(\"region\" = 'EU') OR (\"region\" = 'US' OR \"amount\" > 10) OR "
                                             "(\"id\" = 1)"}


def test_disabled_filters_are_ignored(world):
    row_filter = create(world, user=world.bob)
    create(world, "id = 1", name="everyone_disabled", everyone=True)
    row_filter_update(actor=world.owner, row_filter=RowFilter.objects.get(name="everyone_disabled"), enabled=False)

    assert row_filter_conditions(user=world.bob, tables=[world.accounts]) == {
        world.accounts.pk: f"({row_filter.expression})"}
    row_filter_update(actor=world.owner, row_filter=row_filter, enabled=False)
    assert row_filter_conditions(user=world.bob, tables=[world.accounts]) == {}


def test_a_role_held_in_another_project_does_not_name_its_holder_here(world):
    other_owner = make_owner()
    other = make_project(other_owner)
    dave = make_subaccount(other_owner)
    member_add(actor=other_owner, project=other, user=dave)
    create(world, user=world.bob)

    assert row_filter_conditions(user=dave, tables=[world.accounts]) == {}


def test_conditions_take_one_query_whatever_the_number_of_tables(world, django_assert_num_queries):
    role_assign(actor=world.owner, role=world.analyst, user=world.carol)
    tables = [world.accounts, world.payments, world.customers, world.orders]
    create(world, name="one", role=world.analyst)
    create(world, "amount > 0", table=world.payments, name="two", everyone=True)
    create(world, "amount > 1", table=world.orders, name="three", user=world.carol)

    with django_assert_num_queries(1):
        few = row_filter_conditions(user=world.carol, tables=tables[:1])
    with django_assert_num_queries(1):
        many = row_filter_conditions(user=world.carol, tables=tables)

    assert list(few) == [world.accounts.pk]
    assert set(many) == {world.accounts.pk, world.payments.pk, world.orders.pk}


def test_the_list_shows_a_projects_filters_to_those_who_see_it_only(world):
    create(world)
    create(world, "amount > 0", table=world.payments, name="positive", everyone=True)

    assert [row.name for row in row_filter_list(user=world.carol, project=world.project)] == ["eu_only", "positive"]
    assert [row.name for row in row_filter_list(user=world.carol, project=world.project,
                                                table=world.payments)] == ["positive"]
    assert not row_filter_list(user=make_owner(), project=world.project).exists()
