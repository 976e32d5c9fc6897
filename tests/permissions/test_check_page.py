"""The "check access" page: the decision and its trace as a readable list."""

import pytest

from tests.factories import client_for, make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def test_the_owner_sees_the_trace_of_a_members_column_read(column_grant_world):
    owner, project, bob, _, grant = column_grant_world
    page = client_for(owner).get(f"/security/{project.name}/check/", {
        "principal": bob.principal_name, "action": "Select", "object": "customers", "columns": "id, mobile",
    }).content.decode()

    assert 'id="decision-outcome">Denied' in page
    assert "<code>mobile</code>" in page
    assert "IP whitelist" in page and "LabelSecurity" in page


def test_a_member_asking_about_someone_else_gets_a_message_not_a_decision(column_grant_world):
    _, project, bob, carol, _ = column_grant_world
    response = client_for(bob).get(f"/security/{project.name}/check/", {
        "principal": carol.principal_name, "action": "Select", "object": "customers"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "own access" in page and 'id="decision"' not in page


def test_bad_input_is_readable_and_other_tenants_get_404(column_grant_world):
    owner, project, bob, _, _ = column_grant_world
    page = client_for(owner).get(f"/security/{project.name}/check/", {
        "principal": bob.principal_name, "action": "Selekt", "object": "customers"}).content.decode()

    assert "no table action" in page and 'id="decision"' not in page
    assert client_for(make_owner()).get(f"/security/{project.name}/check/").status_code == 404
