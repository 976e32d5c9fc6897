"""The demo tenant: accounts, projects, roles and a warehouse full of fake personal data.

``seed(rows=...)`` is what ``manage.py seed_demo`` and ``make run`` call. Every change goes
through the tenancy services (so it is validated and audited like any other), and every step
first looks whether its result is already there: a second run changes nothing.

The warehouse data is generated deterministically: Faker with a fixed seed fills small pools
(names, streets, cities), and one ``random.Random`` per table, also seeded, combines them
row by row. Row *n* of a table is therefore the same on every machine and every run, and
does not depend on how many rows are asked for. Rows are loaded with COPY.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterator

from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.utils import timezone
from faker import Faker

from apps import audit
from apps.audit.models import Channel
from apps.catalog import services as catalog_services
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import DataSourceKind, Table
from apps.masking import services as masking_services
from apps.masking.models import MaskingRule
from apps.permissions.console import statement_run
from apps.permissions.selectors import project_security
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import (
    Environment,
    Membership,
    Project,
    RoleAssignment,
    Tenant,
    TenantRoleAssignment,
    TenantRoleName,
)
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import workspace_role_get

User = get_user_model()

TENANT_NAME = "acme"
DEFAULT_ROWS = 100_000
SEED = 20240601


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    persona: str


# Fixed, documented demo passwords; they pass the password validators in config/settings.py.
OWNER = DemoUser("alice", "alice-wonderland-1", "tenant owner (primary account)")
DEMO_USERS = (
    OWNER,
    DemoUser("bob", "bob-builds-in-dev-2", "member: developer, writes in wonderland_dev, reads in wonderland "
                                           "up to level 2 (and its mobile numbers, level 3, for a month)"),
    DemoUser("carol", "carol-approves-3", "approver: tenant Admin, member of every project, analyst of wonderland's "
                                          "orders"),
    DemoUser("dave", "dave-audits-all-4", "auditor: workspace auditor of every project"),
)

# name, environment, prod pair, description
PROJECTS = (
    ("wonderland", Environment.PROD, None, "Production customer data of Wonderland Ltd."),
    ("wonderland_dev", Environment.DEV, "wonderland", "Development pair of wonderland: build and debug here."),
    ("secretgarden", Environment.PROD, None, "Another production project; data must not leak into it."),
)

# username -> [(project, workspace role or None for a plain member)]
MEMBERS = {
    "bob": [("wonderland_dev", WorkspaceRole.DEVELOPER), ("wonderland", WorkspaceRole.DEVELOPER)],
    "carol": [("wonderland", None), ("wonderland_dev", None), ("secretgarden", None)],
    "dave": [
        ("wonderland", WorkspaceRole.AUDITOR),
        ("wonderland_dev", WorkspaceRole.AUDITOR),
        ("secretgarden", WorkspaceRole.AUDITOR),
    ],
}
TENANT_ROLES = {"carol": TenantRoleName.ADMIN}


class DemoSeedError(RuntimeError):
    """The database holds something under the demo's names that the demo did not make."""


@dataclass
class SeedReport:
    changes: list[str] = field(default_factory=list)
    tables: list[tuple[str, int, bool]] = field(default_factory=list)  # (schema.table, rows, loaded now)

    @property
    def changed(self) -> bool:
        return bool(self.changes) or any(loaded for _, _, loaded in self.tables)


# --- accounts, projects, roles -------------------------------------------------------------

def seed_accounts(report: SeedReport) -> dict[str, User]:
    tenant = Tenant.objects.filter(name=TENANT_NAME).first()
    if tenant is None:
        if User.objects.filter(username=OWNER.username).exists():
            raise DemoSeedError(f"User {OWNER.username} exists in another tenant.")
        owner = tenancy_services.tenant_signup(
            tenant_name=TENANT_NAME, username=OWNER.username, password=OWNER.password,
            email=f"{OWNER.username}@acme.example",
        )
        report.changes.append(f"tenant {TENANT_NAME} with its owner {OWNER.username}")
    else:
        owner = User.objects.filter(tenant=tenant, is_primary=True).first()
        if owner is None or owner.username != OWNER.username:
            raise DemoSeedError(f"Tenant {TENANT_NAME} exists but its primary account is not {OWNER.username}.")
    users = {OWNER.username: owner}
    for demo_user in DEMO_USERS[1:]:
        user = User.objects.filter(username=demo_user.username).first()
        if user is None:
            user = tenancy_services.subaccount_create(
                actor=owner, username=demo_user.username, password=demo_user.password,
                email=f"{demo_user.username}@acme.example",
            )
            report.changes.append(f"user {demo_user.username}")
        elif user.tenant_id != owner.tenant_id:
            raise DemoSeedError(f"User {demo_user.username} exists in another tenant.")
        users[demo_user.username] = user
    for username, role in TENANT_ROLES.items():
        user = users[username]
        if not TenantRoleAssignment.objects.filter(tenant_id=owner.tenant_id, user=user, role=role).exists():
            tenancy_services.tenant_role_assign(actor=owner, user=user, role=role)
            report.changes.append(f"tenant role {role} for {username}")
    return users


def seed_projects(report: SeedReport, owner: User) -> dict[str, Project]:
    projects: dict[str, Project] = {}
    for name, environment, prod_name, description in PROJECTS:
        project = Project.objects.filter(name=name).first()
        if project is None:
            project = tenancy_services.project_create(
                actor=owner, name=name, environment=environment, description=description,
                prod_project=projects[prod_name] if prod_name else None,
            )
            report.changes.append(f"project {name} ({environment})")
        elif project.tenant_id != owner.tenant_id:
            raise DemoSeedError(f"Project {name} exists in another tenant.")
        projects[name] = project
    return projects


def seed_members(report: SeedReport, owner: User, users: dict[str, User], projects: dict[str, Project]) -> None:
    for username, placements in MEMBERS.items():
        user = users[username]
        for project_name, workspace_role in placements:
            project = projects[project_name]
            if not Membership.objects.filter(project=project, user=user, is_active=True).exists():
                tenancy_services.member_add(actor=owner, project=project, user=user)
                report.changes.append(f"{username} joins {project_name}")
            if workspace_role is None:
                continue
            role = workspace_role_get(project=project, workspace_role=workspace_role)
            if not RoleAssignment.objects.filter(role=role, user=user).exists():
                tenancy_services.role_assign(actor=owner, role=role, user=user)
                report.changes.append(f"{username} becomes {role.name} in {project_name}")


# --- fake personal data ----------------------------------------------------------------------

# Real US area codes, so the numbers look like numbers a recognizer would meet.
AREA_CODES = (
    201, 202, 206, 212, 213, 214, 215, 303, 305, 310, 312, 404, 415, 503, 512, 602, 617, 646,
    702, 713, 718, 773, 805, 818, 858, 917, 919, 925, 949, 972,
)
LEVELS = ("Associate", "Specialist", "Senior Specialist", "Lead", "Manager", "Director")
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Support", "Operations", "Legal", "People")
ORDER_STATUSES = ("paid", "paid", "paid", "shipped", "shipped", "delivered", "delivered", "refunded", "cancelled")
PRODUCTS = (
    ("Tea set", Decimal("49.90")), ("Pocket watch", Decimal("129.00")), ("Playing cards", Decimal("9.50")),
    ("Rabbit plush", Decimal("24.99")), ("Looking glass", Decimal("89.00")), ("Croquet mallet", Decimal("35.00")),
    ("Jam tarts (6)", Decimal("12.00")), ("Top hat", Decimal("65.00")), ("Mushroom lamp", Decimal("42.50")),
    ("Chess board", Decimal("74.00")),
)
PLANTS = (
    ("Rosa", "Rose"), ("Lavandula", "Lavender"), ("Digitalis", "Foxglove"), ("Papaver", "Poppy"),
    ("Hedera", "Ivy"), ("Quercus", "Oak"), ("Salix", "Willow"), ("Lilium", "Lily"), ("Tulipa", "Tulip"),
    ("Viola", "Violet"), ("Bellis", "Daisy"), ("Taxus", "Yew"),
)


class Pools:
    """Values Faker makes once per run (deterministically), for the generators to combine."""

    def __init__(self, seed: int = SEED):
        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.first_names = [fake.first_name() for _ in range(600)]
        self.last_names = [fake.last_name() for _ in range(900)]
        self.streets = [fake.street_address() for _ in range(3000)]
        self.places = [f"{fake.city()}, {fake.state_abbr(include_territories=False)} {fake.zipcode()}"
                       for _ in range(800)]
        self.email_domains = sorted({fake.free_email_domain() for _ in range(50)})


def _mobile(rng: random.Random) -> str:
    return f"+1-{rng.choice(AREA_CODES)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def _ssn(rng: random.Random) -> str:
    area = rng.randint(1, 899)
    if area == 666:
        area = 667
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _luhn_complete(partial: str) -> str:
    total = 0
    for index, digit in enumerate(reversed(partial)):
        value = int(digit)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return partial + str((10 - total % 10) % 10)


def _bank_card(rng: random.Random) -> str:
    prefix = "4" if rng.random() < 0.6 else str(rng.randint(51, 55))
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(15 - len(prefix)))
    return _luhn_complete(body)


def _date_between(rng: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    return start + datetime.timedelta(days=rng.randint(0, (end - start).days))


def _person(rng: random.Random, pools: Pools) -> tuple[str, str, str]:
    first, last = rng.choice(pools.first_names), rng.choice(pools.last_names)
    separator = rng.choice((".", "_", ""))
    email = f"{first}{separator}{last}{rng.randint(1, 99)}@{rng.choice(pools.email_domains)}".lower()
    return f"{first} {last}", email, _mobile(rng)


def _address(rng: random.Random, pools: Pools) -> str:
    return f"{rng.choice(pools.streets)}, {rng.choice(pools.places)}"


def customer_rows(count: int, pools: Pools, salt: str = "customers") -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:{salt}")
    for customer_id in range(1, count + 1):
        name, email, mobile = _person(rng, pools)
        birthday = _date_between(rng, datetime.date(1940, 1, 1), datetime.date(2006, 12, 31))
        yield (customer_id, name, mobile, email, _ssn(rng), _bank_card(rng), _address(rng, pools), birthday)


def order_rows(count: int, *, customers: int) -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:orders")
    start = datetime.date(2023, 1, 1)
    for order_id in range(1, count + 1):
        product, price = rng.choice(PRODUCTS)
        quantity = rng.choice((1, 1, 1, 1, 2, 2, 3, 5))
        yield (order_id, rng.randint(1, customers), _date_between(rng, start, datetime.date(2025, 12, 31)),
               product, quantity, price * quantity, rng.choice(ORDER_STATUSES))


def employee_rows(count: int, pools: Pools) -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:employees")
    for employee_id in range(1, count + 1):
        name, _, mobile = _person(rng, pools)
        email = f"{name.replace(' ', '.').lower()}{employee_id}@wonderland.example"
        salary = Decimal(rng.randrange(42_000, 240_000, 500))
        department = rng.choice(DEPARTMENTS)
        yield (employee_id, name, email, mobile, department, f"{department} {rng.choice(LEVELS)}", salary,
               _date_between(rng, datetime.date(2008, 1, 1), datetime.date(2025, 6, 30)), _ssn(rng),
               _bank_card(rng))


def daily_sales_rows(count: int) -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:daily_sales")
    for offset in range(count):
        orders = rng.randint(80, 400)
        yield (datetime.date(2025, 1, 1) + datetime.timedelta(days=offset), orders,
               Decimal(orders * rng.randint(3000, 9000)) / 100)


def plant_rows(count: int) -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:plants")
    for plant_id in range(1, count + 1):
        genus, common = PLANTS[(plant_id - 1) % len(PLANTS)]
        yield (plant_id, f"{common} no. {plant_id}", genus, f"Bed {rng.choice('ABCDEFG')}{rng.randint(1, 20)}",
               _date_between(rng, datetime.date(2015, 3, 1), datetime.date(2025, 5, 31)))


def visitor_rows(count: int, pools: Pools) -> Iterator[tuple]:
    rng = random.Random(f"{SEED}:visitors")
    for visitor_id in range(1, count + 1):
        name, email, mobile = _person(rng, pools)
        visited_on = _date_between(rng, datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))
        yield (visitor_id, name, email, mobile, visited_on)


# --- warehouse tables ------------------------------------------------------------------------

@dataclass(frozen=True)
class TableSpec:
    schema: str
    name: str
    columns: str  # the column list of CREATE TABLE
    count: Callable[[int], int]  # requested --rows -> this table's row count
    # (this table's row count, requested --rows, pools) -> the rows
    rows: Callable[[int, int, Pools], Iterator[tuple]]
    # Tables whose rows point at this one: reloading this table reloads them too.
    referenced_by: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


CUSTOMER_COLUMNS = """
    id bigint PRIMARY KEY, name text NOT NULL, mobile text NOT NULL, email text NOT NULL,
    national_id text NOT NULL, bank_card text NOT NULL, address text NOT NULL, birthday date NOT NULL
"""

TABLES = (
    TableSpec("wonderland", "customers", CUSTOMER_COLUMNS,
              count=lambda rows: rows, rows=lambda n, requested, pools: customer_rows(n, pools),
              referenced_by=("wonderland.orders",)),
    TableSpec("wonderland", "orders", """
        id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES wonderland.customers (id),
        order_date date NOT NULL, product text NOT NULL, quantity integer NOT NULL,
        amount numeric(12, 2) NOT NULL, status text NOT NULL
    """, count=lambda rows: 3 * rows, rows=lambda n, requested, pools: order_rows(n, customers=requested)),
    TableSpec("wonderland", "employees", """
        id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, mobile text NOT NULL,
        department text NOT NULL, title text NOT NULL, salary numeric(12, 2) NOT NULL, hire_date date NOT NULL,
        national_id text NOT NULL, bank_card text NOT NULL
    """, count=lambda rows: 500, rows=lambda n, requested, pools: employee_rows(n, pools)),
    # The dev project gets a sample with the same shape, to build and debug against.
    TableSpec("wonderland_dev", "customers_sample", CUSTOMER_COLUMNS,
              count=lambda rows: min(rows, 1000),
              rows=lambda n, requested, pools: customer_rows(n, pools, salt="customers_sample")),
    TableSpec("wonderland_dev", "daily_sales", """
        sales_date date PRIMARY KEY, orders integer NOT NULL, revenue numeric(12, 2) NOT NULL
    """, count=lambda rows: 90, rows=lambda n, requested, pools: daily_sales_rows(n)),
    TableSpec("secretgarden", "plants", """
        id bigint PRIMARY KEY, name text NOT NULL, genus text NOT NULL, bed text NOT NULL, planted_on date NOT NULL
    """, count=lambda rows: 60, rows=lambda n, requested, pools: plant_rows(n)),
    TableSpec("secretgarden", "visitors", """
        id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, mobile text NOT NULL, visited_on date NOT NULL
    """, count=lambda rows: 200, rows=lambda n, requested, pools: visitor_rows(n, pools)),
)


def _row_count(cursor, spec: TableSpec) -> int | None:
    cursor.execute("SELECT to_regclass(%s)", [spec.qualified])
    if cursor.fetchone()[0] is None:
        return None
    # Identifiers come from TABLES above, never from input.
    cursor.execute(f"SELECT count(*) FROM {spec.qualified}")
    return cursor.fetchone()[0]


def _load(cursor, spec: TableSpec, rows: Iterator[tuple]) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {spec.qualified} CASCADE")
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {spec.schema}")
    cursor.execute(f"CREATE TABLE {spec.qualified} ({spec.columns})")
    with cursor.copy(f"COPY {spec.qualified} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"ANALYZE {spec.qualified}")


def seed_tables(report: SeedReport, projects: dict[str, Project], rows: int) -> None:
    """Create and fill the demo tables; a table that already holds its row count is kept.

    All tables are (re)loaded in one warehouse transaction, so an interrupted seed leaves the
    previous tables, not half-filled ones.
    """
    connection = connections["warehouse"]
    pools: Pools | None = None
    reload: set[str] = set()
    # The audit events commit with the tables they describe.
    with transaction.atomic(), transaction.atomic(using="warehouse"):
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            for spec in TABLES:
                wanted = spec.count(rows)
                if spec.qualified not in reload and _row_count(cursor, spec) == wanted:
                    report.tables.append((spec.qualified, wanted, False))
                    continue
                reload.update(spec.referenced_by)
                if pools is None:
                    pools = Pools()
                _load(cursor, spec, spec.rows(wanted, rows, pools))
                report.tables.append((spec.qualified, wanted, True))
                audit.record(None, "demo.table_load", spec.qualified, project=projects[spec.schema],
                             channel=Channel.SYSTEM, details={"rows": wanted})


# --- the Data Map and the security model -------------------------------------------------------

# Run by alice in wonderland, in this order, through the console (the same services as the
# pages and the API), the first time only: wonderland's personal columns are labelled, bob
# (a developer, who reads prod) is cleared to level 2 and may read the level-3 mobile numbers
# for a month, carol's analyst role reads orders, and no data leaves wonderland.
SECURITY_STATEMENTS = (
    "set LabelSecurity=true",
    "set label 3 to table customers(mobile, national_id, bank_card)",
    "set label 2 to table customers(name, email, address, birthday)",
    "set label 3 to table employees(salary, national_id, bank_card)",
    "set label 2 to user RAM$acme:bob",
    "grant label 3 on table customers(mobile) to user RAM$acme:bob with exp 30",
    "create role analyst",
    "grant select, describe on table orders to role analyst",
    "grant analyst to RAM$acme:carol",
    "set ProjectProtection=true",
)


def seed_catalog(report: SeedReport, owner: User, projects: dict[str, Project]) -> None:
    """Harvest each demo project's warehouse schema once, here and now, so its tables are in
    the Data Map and the security statements can name them."""
    for project in projects.values():
        if Table.objects.filter(data_source__project=project, data_source__kind=DataSourceKind.WAREHOUSE).exists():
            continue
        run = catalog_services.project_harvest_start(actor=owner, project=project)
        harvest_run_execute(run_id=run.pk)
        report.changes.append(f"Data Map of {project.name}")


def seed_security(report: SeedReport, owner: User, projects: dict[str, Project]) -> None:
    wonderland = projects["wonderland"]
    if project_security(wonderland).label_security:
        return
    for statement in SECURITY_STATEMENTS:
        result = statement_run(actor=owner, project=wonderland, text=statement)
        if not result.ok:
            raise DemoSeedError(f"wonderland: {statement}: {result.error}")
    report.changes.append("wonderland's labels, clearances, grants and protection")


# wonderland's masking: (table, column, algorithm, parameters).
MASKED_COLUMNS = (
    ("customers", "mobile", "mobile_phone", {}),
    ("customers", "email", "email", {}),
    ("customers", "national_id", "national_id", {}),
    ("customers", "bank_card", "bank_card", {}),
    ("customers", "address", "address", {}),
    ("employees", "mobile", "mobile_phone", {}),
    ("employees", "salary", "bucket", {"width": "1000"}),
)
MASKING_STATEMENTS = (
    "CREATE ROW FILTER recent_orders ON TABLE orders TO ROLE analyst WHERE order_date >= DATE '2025-01-01'",
)


def seed_masking(report: SeedReport, owner: User, projects: dict[str, Project]) -> None:
    """Mask wonderland's personal columns for every reader, show bob its customers' emails
    in clear for 30 days, and let the analysts see this year's orders only."""
    wonderland = projects["wonderland"]
    if MaskingRule.objects.filter(project=wonderland).exists():
        return
    tables = {table.name: table for table in Table.objects.filter(data_source__project=wonderland, is_dropped=False)}
    for table_name, column_name, algorithm, params in MASKED_COLUMNS:
        masking_services.masking_rule_create(
            actor=owner, project=wonderland, column=tables[table_name].columns.get(name=column_name),
            name=f"{table_name}.{column_name}", algorithm=algorithm, params=params)
    masking_services.unmask_grant_create(
        actor=owner, project=wonderland, table=tables["customers"], columns=["email"],
        user=User.objects.get(username="bob", tenant=owner.tenant),
        expires_at=timezone.now() + datetime.timedelta(days=30), reason="Demo: customer support follow-up")
    for statement in MASKING_STATEMENTS:
        result = statement_run(actor=owner, project=wonderland, text=statement)
        if not result.ok:
            raise DemoSeedError(f"wonderland: {statement}: {result.error}")
    report.changes.append("wonderland's masking rules, an unmask grant and a row filter")


def seed(*, rows: int = DEFAULT_ROWS) -> SeedReport:
    """Make (or find) the whole demo; the report says what this run changed."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    report = SeedReport()
    with transaction.atomic():
        users = seed_accounts(report)
        projects = seed_projects(report, users[OWNER.username])
        seed_members(report, users[OWNER.username], users, projects)
    seed_tables(report, projects, rows)
    seed_catalog(report, users[OWNER.username], projects)
    with transaction.atomic():
        seed_security(report, users[OWNER.username], projects)
    with transaction.atomic():
        seed_masking(report, users[OWNER.username], projects)
    return report
