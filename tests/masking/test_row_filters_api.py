"""/api/v1/projects/{project}/row-filters: list, create, retrieve, update and delete a
project's row filters; field errors, other tenants' 404 and non-managers' 403."""

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from apps.audit.models import Event
from apps.masking.models import RowFilter
from apps.masking.row_filters import row_filter_create
from tests.factories import make_owner, make_project
from tests.masking.test_row_filters import row_filter_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    world = row_filter_world()
    world.url = f"/api/v1/projects/{world.project.name}/row-filters"
    world.eu_only = row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name="eu_only",
                                      expression="region = 'EU'", role=world.analyst)
    return world


def test_members_list_and_read_a_projects_filters(world, api_client_for):
    client = api_client_for(world.carol)

    listed = client.get(world.url)
    one = client.get(f"{world.url}/{world.eu_only.pk}")

    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert one.status_code == 200
    assert one.json() == {**one.json(), "id": world.eu_only.pk, "name": "eu_only", "table": "accounts",
                          "subject_kind": "role", "subject": "analyst", "expression": "\"region\" = 'EU'",
                          "enabled": True, "created_by": world.owner.username}


def test_a_manager_creates_updates_and_deletes_a_filter(world, api_client_for):
    client = api_client_for(world.security)

    created = client.post(world.url, {"table": "accounts", "name": "bob_small", "subject_kind": "user",
                                      "subject": world.bob.username, "expression": "amount < 10"}, format="json")
    row_id = created.json()["id"]
    updated = client.patch(f"{world.url}/{row_id}", {"expression": "amount < 20", "enabled": False,
                                                     "subject_kind": "everyone"}, format="json")
    deleted = client.delete(f"{world.url}/{row_id}")

    assert created.status_code == 201, created.json()
    assert created.json()["subject"] == world.bob.principal_name and created.json()["expression"] == "\"amount\" < 10"
    assert updated.status_code == 200, updated.json()
    assert (updated.json()["expression"], updated.json()["enabled"], updated.json()["subject_kind"],
            updated.json()["subject"]) == ("\"amount\" < 20", False, "everyone", None)
    assert deleted.status_code == 204
    assert list(RowFilter.objects.values_list("name", flat=True)) == ["eu_only"]
    assert [event.channel for event in Event.objects.filter(action__startswith="masking.row_filter_")
            .exclude(details__name="eu_only")] == ["api", "api", "api"]


@pytest.mark.parametrize("body, field, message", [
    ({"expression": "pg_read_file(region) = 'x'"}, "expression", "function pg_read_file is not allowed"),
    ({"expression": "region > 5"}, "expression", "operator does not exist"),
    ({"table": "nosuch"}, "table", "No table named nosuch"),
    ({"subject_kind": "role", "subject": "nosuch"}, "subject", "No role named nosuch"),
    ({"name": "eu only"}, "name", "letters, digits"),
    ({"subject_kind": "group"}, "subject_kind", "not a valid choice"),
])
def test_invalid_input_is_a_400_naming_the_field_and_creates_nothing(world, api_client_for, body, field, message):
    data = {"table": "accounts", "name": "other", "subject_kind": "everyone", "expression": "id = 1", **body}

    response = api_client_for(world.owner).post(world.url, data, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert message.lower() in response.json()["error"]["fields"][field][0].lower()
    assert RowFilter.objects.count() == 1


def test_an_invalid_update_is_a_400_and_changes_nothing(world, api_client_for):
    response = api_client_for(world.owner).patch(f"{world.url}/{world.eu_only.pk}",
                                                 {"expression": "nosuch = 1", "enabled": False}, format="json")

    assert response.status_code == 400 and "expression" in response.json()["error"]["fields"]
    assert RowFilter.objects.get().enabled is True


def test_members_who_do_not_manage_security_are_refused_writes_whatever_they_send(world, api_client_for):
    data = {"table": "accounts", "name": "other", "subject_kind": "everyone", "expression": "id = 1"}
    for user in (world.carol, world.admin):
        client = api_client_for(user)
        assert client.post(world.url, data, format="json").status_code == 403
        assert client.post(world.url, {**data, "table": "nosuch"}, format="json").status_code == 403
        assert client.patch(f"{world.url}/{world.eu_only.pk}", {"enabled": False}, format="json").status_code == 403
        assert client.patch(f"{world.url}/{world.eu_only.pk}", {"subject_kind": "role", "subject": "nosuch"},
                            format="json").status_code == 403
        assert client.delete(f"{world.url}/{world.eu_only.pk}").status_code == 403
    assert RowFilter.objects.get().enabled is True


def test_another_tenant_sees_nothing_of_the_project_and_changes_nothing(world, api_client_for):
    stranger = api_client_for(make_owner())
    item = f"{world.url}/{world.eu_only.pk}"

    responses = [stranger.get(world.url), stranger.get(item), stranger.patch(item, {"enabled": False}, format="json"),
                 stranger.delete(item),
                 stranger.post(world.url, {"table": "accounts", "name": "x", "subject_kind": "everyone",
                                           "expression": "id = 1"}, format="json")]

    assert [response.status_code for response in responses] == [404] * 5
    assert RowFilter.objects.get().enabled is True


def test_a_filter_of_another_project_is_not_found_under_this_one(world, api_client_for):
    other = make_project(world.owner)

    response = api_client_for(world.owner).get(f"/api/v1/projects/{other.name}/row-filters/{world.eu_only.pk}")

    assert response.status_code == 404


def test_the_row_filter_endpoints_are_described_without_warnings():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.masking.api.urls_row_filters"))])
    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._warn_cache)
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths["/api/v1/projects/{project_name}/row-filters/"]) == {"get", "post"}
    assert set(paths["/api/v1/projects/{project_name}/row-filters/{id}/"]) == {"get", "put", "patch", "delete"}
