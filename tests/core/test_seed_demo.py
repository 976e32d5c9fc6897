import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from apps.accounts.models import User
from apps.audit.models import Event
from apps.core import demo
from apps.tenancy.models import Environment, Membership, Project, RoleAssignment, TenantRoleAssignment
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities
from tests.factories import make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

ROWS = 25


def seed_demo(rows: int = ROWS) -> str:
    out = io.StringIO()
    call_command("seed_demo", rows=rows, stdout=out)
    return out.getvalue()


def warehouse_rows(sql: str) -> list[tuple]:
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def table_counts() -> dict[str, int]:
    return {spec.qualified: warehouse_rows(f"SELECT count(*) FROM {spec.qualified}")[0][0] for spec in demo.TABLES}


def roles_of(username: str) -> set[tuple[str, str]]:
    return set(
        RoleAssignment.objects.filter(user__username=username).values_list("role__project__name", "role__name")
    )


def state_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "projects": Project.objects.count(),
        "memberships": Membership.objects.count(),
        "role_assignments": RoleAssignment.objects.count(),
        "tenant_roles": TenantRoleAssignment.objects.count(),
        "events": Event.objects.count(),
    }


def test_seed_demo_creates_the_acme_tenant_with_its_four_users_and_passwords():
    output = seed_demo()

    alice = User.objects.get(username="alice")
    assert alice.is_primary and alice.tenant.name == "acme"
    for demo_user in demo.DEMO_USERS:
        user = User.objects.get(username=demo_user.username)
        assert user.tenant_id == alice.tenant_id
        assert user.check_password(demo_user.password)
        assert f"{demo_user.username} " in output and demo_user.password in output
    assert not User.objects.get(username="bob").is_primary
    assert set(TenantRoleAssignment.objects.values_list("user__username", "role")) == {("carol", "admin")}


def test_seed_demo_pairs_wonderland_dev_with_wonderland_and_separates_dev_from_prod():
    seed_demo()

    projects = {p.name: p for p in Project.objects.all()}
    assert set(projects) == {"wonderland", "wonderland_dev", "secretgarden"}
    assert projects["wonderland"].environment == Environment.PROD
    assert projects["secretgarden"].environment == Environment.PROD
    assert projects["wonderland_dev"].environment == Environment.DEV
    assert projects["wonderland_dev"].prod_project == projects["wonderland"]
    assert all(p.owner.username == "alice" for p in projects.values())

    assert roles_of("bob") == {("wonderland_dev", "role_project_dev"), ("wonderland", "role_project_dev")}
    dev_role = RoleAssignment.objects.get(user__username="bob", role__project__name="wonderland_dev").role
    prod_role = RoleAssignment.objects.get(user__username="bob", role__project__name="wonderland").role
    table_actions = {
        role.project.name: next(p["actions"] for p in role.privileges if p["object_type"] == "table")
        for role in (dev_role, prod_role)
    }
    # The developer writes in the dev project and only reads its production pair.
    assert table_actions["wonderland_dev"] == ["All"]
    assert table_actions["wonderland"] == ["Describe", "Select"]

    assert roles_of("dave") == {(name, "role_project_auditor") for name in projects}
    assert Capability.AUDIT in project_capabilities(User.objects.get(username="dave"), projects["secretgarden"])
    assert roles_of("carol") == {("wonderland", "analyst")}
    active = set(Membership.objects.filter(is_active=True).values_list("user__username", "project__name"))
    assert {("carol", name) for name in projects} <= active
    assert ("bob", "secretgarden") not in active


def test_seed_demo_fills_the_warehouse_with_the_requested_row_counts():
    seed_demo()

    assert table_counts() == {
        "wonderland.customers": ROWS,
        "wonderland.orders": 3 * ROWS,
        "wonderland.employees": 500,
        "wonderland_dev.customers_sample": ROWS,
        "wonderland_dev.daily_sales": 90,
        "secretgarden.plants": 60,
        "secretgarden.visitors": 200,
    }
    columns = [
        row[0] for row in warehouse_rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'wonderland' AND table_name = 'customers' ORDER BY ordinal_position"
        )
    ]
    assert columns == ["id", "name", "mobile", "email", "national_id", "bank_card", "address", "birthday"]
    # Every order points at an existing customer (there is a foreign key, and it holds).
    assert warehouse_rows(
        "SELECT count(*) FROM wonderland.orders o LEFT JOIN wonderland.customers c ON c.id = o.customer_id "
        "WHERE c.id IS NULL"
    ) == [(0,)]
    assert warehouse_rows("SELECT min(salary) > 0 FROM wonderland.employees") == [(True,)]


def test_second_seed_changes_nothing_and_says_so():
    seed_demo()
    before_state, before_tables = state_counts(), table_counts()
    first_customers = warehouse_rows("SELECT * FROM wonderland.customers ORDER BY id LIMIT 5")

    output = seed_demo()

    assert "nothing changed" in output
    assert "created" not in output and "loaded" not in output
    assert state_counts() == before_state
    assert table_counts() == before_tables
    assert warehouse_rows("SELECT * FROM wonderland.customers ORDER BY id LIMIT 5") == first_customers


def test_seed_with_more_rows_reloads_customers_and_orders_keeping_the_first_rows():
    seed_demo(rows=10)
    first = warehouse_rows("SELECT * FROM wonderland.customers ORDER BY id")
    employees = warehouse_rows("SELECT * FROM wonderland.employees ORDER BY id LIMIT 3")
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first()

    output = seed_demo(rows=30)

    assert table_counts()["wonderland.customers"] == 30
    assert table_counts()["wonderland.orders"] == 90
    assert warehouse_rows("SELECT * FROM wonderland.customers ORDER BY id LIMIT 10") == first
    assert warehouse_rows("SELECT * FROM wonderland.employees ORDER BY id LIMIT 3") == employees
    assert "kept   wonderland.employees" in output
    reloaded = Event.objects.filter(id__gt=last_event).values_list("action", "target_repr")
    assert sorted(reloaded) == [
        ("demo.table_load", "wonderland.customers"),
        ("demo.table_load", "wonderland.orders"),
        ("demo.table_load", "wonderland_dev.customers_sample"),
    ]


def test_generated_data_is_deterministic_and_independent_of_the_row_count():
    first = list(demo.customer_rows(50, demo.Pools()))
    again = list(demo.customer_rows(200, demo.Pools()))

    assert again[:50] == first
    assert len({row[1] for row in first}) > 40  # names vary
    assert list(demo.order_rows(5, customers=50)) == list(demo.order_rows(5, customers=50))


def test_seeded_rows_are_the_generated_rows():
    seed_demo()

    expected = list(demo.customer_rows(3, demo.Pools()))
    actual = warehouse_rows("SELECT * FROM wonderland.customers ORDER BY id LIMIT 3")
    assert actual == expected


def test_generated_personal_data_has_realistic_formats():
    rows = list(demo.customer_rows(300, demo.Pools()))

    for _, name, mobile, email, national_id, bank_card, address, _ in rows:
        assert re.fullmatch(r"\+1-\d{3}-\d{3}-\d{4}", mobile)
        assert re.fullmatch(r"[a-z._]+\d+@[a-z0-9.-]+\.[a-z]+", email), email
        assert re.fullmatch(r"(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}", national_id)
        assert len(bank_card) == 16 and luhn_valid(bank_card)
        assert re.search(r", [A-Z]{2} \d{5}$", address)
        assert " " in name


def luhn_valid(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_seed_refuses_an_acme_tenant_that_someone_else_owns():
    make_owner(tenant_name="acme", username="mallory")
    before = state_counts()

    with pytest.raises(CommandError, match="primary account is not alice"):
        seed_demo()

    assert state_counts() == before
    assert not User.objects.filter(username="alice").exists()


def test_seed_rejects_a_row_count_below_one():
    with pytest.raises(CommandError, match="at least 1"):
        seed_demo(rows=0)
    assert not Project.objects.exists()


def test_seed_reports_a_taken_username_as_a_command_error():
    make_owner(tenant_name="elsewhere", username="alice")

    with pytest.raises(CommandError, match="alice"):
        seed_demo()

    assert not Project.objects.exists()
    assert not User.objects.filter(username="bob").exists()


def test_the_demo_harvests_its_tables_and_secures_wonderland_and_the_engine_follows():
    from django.utils import timezone

    from apps.catalog.models import Table
    from apps.permissions.conditions import RequestContext
    from apps.permissions.decision import AccessRequest
    from apps.permissions.runtime import decide

    seed_demo()
    second = seed_demo()

    assert Table.objects.filter(data_source__project__name="wonderland", is_dropped=False).count() == 3
    assert "nothing changed" in second

    def select(user, table, columns, **kwargs):
        principal = User.objects.get(username=user).principal_name
        return decide(AccessRequest(principal=principal, project="wonderland", action="Select", object_type="table",
                                    object_name=table, columns=columns,
                                    context=RequestContext(current_time=timezone.now()), **kwargs))

    assert select("bob", "customers", ("id", "name", "mobile")).allowed
    refused = select("bob", "customers", ("id", "national_id"))
    assert (refused.allowed, refused.step, refused.denied_columns) == (False, "label_security", ("national_id",))
    assert select("carol", "orders", ("id", "amount")).allowed
    assert select("carol", "customers", ("id",)).step == "default"
    leaving = select("bob", "customers", ("id",), destination_project="secretgarden")
    assert (leaving.allowed, leaving.step) == (False, "project_protection")


def test_the_demo_masks_wonderland_for_its_readers_through_the_gateway():
    from apps.gateway.services import query_run

    seed_demo()
    wonderland = Project.objects.get(name="wonderland")
    bob, carol = User.objects.get(username="bob"), User.objects.get(username="carol")
    result = query_run(actor=bob, project=wonderland, sql="select mobile, email from customers order by id limit 1")
    [(mobile, email)] = result.rows
    clear_mobile, clear_email = warehouse_rows("select mobile, email from wonderland.customers order by id limit 1")[0]
    assert mobile != clear_mobile and mobile[:3] == clear_mobile[:3] and mobile[-4:] == clear_mobile[-4:]
    assert email == clear_email  # bob's unmask grant
    assert result.masked_columns == ["mobile"]
    earliest = "select min(order_date)::text from orders"
    orders = query_run(actor=carol, project=wonderland, sql=earliest)
    assert orders.rows[0][0] >= "2025-01-01" and orders.prepared.row_filtered == ["wonderland.orders"]
    alice = User.objects.get(username="alice")
    assert query_run(actor=alice, project=wonderland, sql=earliest).rows[0][0] < "2025-01-01"
