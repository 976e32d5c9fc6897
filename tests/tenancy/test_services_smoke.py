import pytest
from django.db import connections

from tests.factories import make_owner, make_project, make_subaccount


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_project_create_makes_schema_roles_and_owner_membership():
    owner = make_owner()
    project = make_project(owner, name="wonderland_x")
    with connections["warehouse"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", ["wonderland_x"])
        assert cursor.fetchone() == (1,)
    assert project.memberships.get().user == owner
    assert {"super_administrator", "admin", "role_project_dev"} <= set(project.roles.values_list("name", flat=True))
    bob = make_subaccount(owner)
    assert bob.tenant_id == owner.tenant_id and not bob.is_primary
