"""POST /api/v1/projects/{project}/security/check: the engine's decision with its trace, for
oneself or (for those who manage or audit the project) for anyone."""

import pytest

from tests.factories import make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def _url(project):
    return f"/api/v1/projects/{project.name}/security/check"


def test_the_owner_sees_why_a_member_may_read_one_column_and_not_another(column_grant_world, api_client_for):
    owner, project, bob, _, grant = column_grant_world
    client = api_client_for(owner)

    allowed = client.post(_url(project), {"principal": bob.principal_name, "action": "select",
                                          "object": "customers", "columns": ["id"]}, format="json")
    denied = client.post(_url(project), {"principal": bob.principal_name, "action": "Select",
                                         "object": "customers", "columns": ["id", "mobile"]}, format="json")

    assert allowed.status_code == 200, allowed.json()
    assert allowed.data["allowed"] is True and allowed.data["step"] == "acl"
    acl = next(step for step in allowed.data["trace"] if step["step"] == "acl")
    assert acl["rule"] == {"kind": "grant", "id": grant.pk}
    assert denied.data["allowed"] is False and denied.data["denied_columns"] == ["mobile"]


def test_a_member_checks_their_own_access_but_not_someone_elses(column_grant_world, api_client_for):
    _, project, bob, carol, _ = column_grant_world
    client = api_client_for(bob)

    own = client.post(_url(project), {"principal": bob.principal_name, "action": "Select", "object": "customers",
                                      "columns": ["id"]}, format="json")
    other = client.post(_url(project), {"principal": carol.principal_name, "action": "Select",
                                        "object": "customers"}, format="json")

    assert own.status_code == 200 and own.data["allowed"] is True
    assert other.status_code == 403
    assert "own access" in other.json()["error"]["message"]


def test_another_tenants_project_is_not_found(column_grant_world, api_client_for):
    _, project, bob, _, _ = column_grant_world
    stranger = make_owner()

    response = api_client_for(stranger).post(_url(project), {"principal": bob.principal_name, "action": "Select",
                                                             "object": "customers"}, format="json")

    assert response.status_code == 404


def test_bad_input_is_a_field_error(column_grant_world, api_client_for):
    owner, project, bob, _, _ = column_grant_world
    client = api_client_for(owner)

    response = client.post(_url(project), {"principal": bob.principal_name, "action": "selekt",
                                           "object": "customers", "source_ip": "10.0.0.300"}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"action", "source_ip"}
    assert "Select" in fields["action"][0]
