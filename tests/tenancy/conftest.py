from dataclasses import dataclass

import pytest

from apps.tenancy import services
from tests.factories import make_owner, make_project, make_subaccount



@dataclass
class World:
    """Tenant A with its owner, a tenant Admin, a project member and a non-member, one prod
    project; tenant B with its owner and a project of its own."""

    owner: object
    admin: object
    member: object
    stranger: object
    project: object
    other_owner: object
    other_project: object


@pytest.fixture
def world():
    owner = make_owner(tenant_name="acme_t", username="alice")
    admin = make_subaccount(owner, username="adam")
    services.tenant_role_assign(actor=owner, user=admin, role="admin")
    member = make_subaccount(owner, username="bob")
    stranger = make_subaccount(owner, username="sam")
    project = make_project(owner, name="wonderland_t", description="prod data")
    services.member_add(actor=owner, project=project, user=member)
    other_owner = make_owner(tenant_name="globex_t", username="otto")
    other_project = make_project(other_owner, name="globex_data")
    return World(owner, admin, member, stranger, project, other_owner, other_project)
