"""Fixtures shared by the permissions tests that need the database."""

import pytest

from apps.permissions.models import Grant
from apps.tenancy.services import member_add, security_version_bump
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table


@pytest.fixture
def column_grant_world():
    """(owner, project, bob, carol, grant): bob may select column id of customers (id, mobile)."""
    owner = make_owner()
    project = make_project(owner)
    bob, carol = make_subaccount(owner), make_subaccount(owner)
    for user in (bob, carol):
        member_add(actor=owner, project=project, user=user)
    table = make_table(project, "customers", columns=("id", "mobile"))
    grant = Grant.objects.create(project=project, user=bob, object_type="table", object_name="customers",
                                 table=table, columns=["id"], actions=["Select"])
    security_version_bump(project, actor=owner, summary="grant select on table customers (id) to bob")
    return owner, project, bob, carol, grant
