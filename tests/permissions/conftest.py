"""Fixtures shared by the permissions tests that need the database."""

import pytest
from django.utils import timezone

from apps.catalog.models import Table
from apps.catalog.services import warehouse_source_ensure
from apps.permissions.models import Grant
from apps.tenancy.services import member_add, security_version_bump
from tests.factories import make_owner, make_project, make_subaccount


@pytest.fixture
def column_grant_world():
    """(owner, project, bob, carol, grant): bob may select column id of customers (id, mobile)."""
    owner = make_owner()
    project = make_project(owner)
    bob, carol = make_subaccount(owner), make_subaccount(owner)
    for user in (bob, carol):
        member_add(actor=owner, project=project, user=user)
    now = timezone.now()
    table = Table.objects.create(data_source=warehouse_source_ensure(project=project), schema=project.schema_name,
                                 name="customers", first_seen_at=now, last_seen_at=now)
    for ordinal, name in enumerate(["id", "mobile"], start=1):
        table.columns.create(name=name, ordinal=ordinal, data_type="text", first_seen_at=now, last_seen_at=now)
    grant = Grant.objects.create(project=project, user=bob, object_type="table", object_name="customers",
                                 table=table, columns=["id"], actions=["Select"])
    security_version_bump(project, actor=owner, summary="grant select on table customers (id) to bob")
    return owner, project, bob, carol, grant
