"""The people and tables the lineage tests share (no tests here).

Tenant A: its owner, a tenant Admin, a project member, and a sub-account who is in neither
project; project ``main`` with tables raw, stage, mart (columns id, mobile, email each), and
project ``side`` (the member is not in it) with table feed. Tenant B: its owner, who is also a
member of ``main`` (another tenant's primary account may be), and project ``far`` with table
copy."""

from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import Column, Table
from apps.tenancy import services as tenancy_services
from tests.factories import make_owner, make_project, make_subaccount


def make_table(project, name: str, columns=("id", "mobile", "email")) -> Table:
    now = timezone.now()
    table = Table.objects.create(data_source=services.warehouse_source_ensure(project=project),
                                 schema=project.schema_name, name=name, first_seen_at=now, last_seen_at=now)
    for ordinal, column in enumerate(columns, start=1):
        table.columns.create(name=column, ordinal=ordinal, data_type="text", first_seen_at=now, last_seen_at=now)
    return table


@dataclass
class LineageWorld:
    owner: object
    admin: object
    member: object
    stranger: object
    other_owner: object
    main: object
    side: object
    far: object
    tables: dict = field(default_factory=dict)

    def column(self, table: str, name: str) -> Column:
        return self.tables[table].columns.get(name=name)


@pytest.fixture
def lineage_world():
    owner = make_owner()
    admin = make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=admin, role="admin")
    member = make_subaccount(owner)
    stranger = make_subaccount(owner)
    main = make_project(owner)
    side = make_project(owner)
    tenancy_services.member_add(actor=owner, project=main, user=member)
    other_owner = make_owner()
    far = make_project(other_owner)
    tenancy_services.member_add(actor=owner, project=main, user=other_owner)
    world = LineageWorld(owner, admin, member, stranger, other_owner, main, side, far)
    for project, name in ((main, "raw"), (main, "stage"), (main, "mart"), (side, "feed"), (far, "copy")):
        world.tables[name] = make_table(project, name)
    return world
