"""GET /api/v1/catalog/search: ranked hits, facets, pagination, field errors, who sees what,
and its OpenAPI description."""

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from apps.catalog.models import SensitiveType
from apps.tenancy import services as tenancy_services
from tests.catalog.test_search_selector import searchable  # noqa: F401 - a fixture
from tests.factories import make_owner, make_project, make_subaccount

URL = "/api/v1/catalog/search"
both_databases = pytest.mark.django_db(databases=["default", "warehouse"])


@both_databases
def test_owner_gets_ranked_hits_with_facets(searchable, api_client_for):  # noqa: F811
    owner, project, data_source, _ = searchable
    response = api_client_for(owner).get(URL, {"q": "customers"})
    assert response.status_code == 200, response.content
    body = response.json()
    first = body["results"][0]
    assert first["kind"] == "table" and first["qualified_name"] == f"{project.schema_name}.customers"
    assert first["project"] == project.name and first["data_source"] == data_source.name
    assert first["level"] == 5 and [t["code"] for t in first["sensitive_types"]] == ["mobile_phone"]
    assert body["count"] == len(body["results"]) and body["page"] == 1
    assert body["facets"]["project"] == [{"value": project.pk, "label": project.name, "count": body["count"]}]
    orders = next(hit for hit in body["results"] if hit["table"] == "orders" and hit["kind"] == "table")
    start, end = orders["highlights"][0]
    assert orders["snippet"][start:end] == "customers"


@both_databases
def test_filters_and_pages(searchable, api_client_for):  # noqa: F811
    owner, project, *_ = searchable
    client = api_client_for(owner)
    mobile_phone = SensitiveType.objects.get(tenant=None, code="mobile_phone")
    body = client.get(f"{URL}/", {"sensitive_type": mobile_phone.pk, "kind": "column", "level": 5}).json()
    assert [hit["qualified_name"] for hit in body["results"]] == [f"{project.schema_name}.customers.mobile"]
    first = client.get(URL, {"q": "id", "page_size": 3}).json()
    second = client.get(URL, {"q": "id", "page_size": 3, "page": 2}).json()
    assert first["count"] == second["count"] == 4
    assert len(first["results"]) == 3 and len(second["results"]) == 1


@both_databases
def test_bad_parameters_are_field_errors(searchable, api_client_for):  # noqa: F811
    owner, *_ = searchable
    response = api_client_for(owner).get(URL, {"level": 12, "page": 0, "q": "x" * 201})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"level", "page", "q"}
    response = api_client_for(owner).get(URL, {"project": "no_such_project"})
    assert response.status_code == 400 and "project" in response.json()["error"]["fields"]


@both_databases
def test_anonymous_is_refused(api_client_for):
    response = api_client_for(None).get(URL, {"q": "customers"})
    assert response.status_code in (401, 403)
    assert "error" in response.json()


@both_databases
def test_other_tenant_and_non_member_see_nothing_of_ours(searchable, api_client_for):  # noqa: F811
    owner, project, *_ = searchable
    stranger = make_owner()
    make_project(stranger)
    for user in (stranger, make_subaccount(owner)):
        client = api_client_for(user)
        body = client.get(URL, {"q": "customers"}).json()
        assert body["count"] == 0 and body["results"] == [] and body["facets"]["project"] == []
        assert client.get(URL, {"project": project.name}).status_code == 400


@both_databases
def test_member_and_tenant_admin_see_the_project(searchable, api_client_for):  # noqa: F811
    owner, project, *_ = searchable
    member = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=member)
    admin = make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=admin, role="admin")
    for user in (member, admin):
        body = api_client_for(user).get(URL, {"q": "custmer"}).json()
        assert body["results"][0]["qualified_name"] == f"{project.schema_name}.customers"


def test_search_schema_is_clean_and_valid():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.catalog.api.urls_search"))])
    schema = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._warn_cache)
    validate_schema(schema)
    operation = schema["paths"]["/api/v1/catalog/search/"]["get"]
    assert {"q", "project", "data_source", "level", "sensitive_type", "owner", "category", "kind", "page",
            "page_size", "include_dropped"} == {p["name"] for p in operation["parameters"]}
    assert set(schema["paths"]["/api/v1/catalog/search/"]) == {"get"}
