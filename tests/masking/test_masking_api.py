"""/api/v1/masking/algorithms, /preview, /rules and /api/v1/projects/{project}/masking/rules
and /unmask-grants: the owner, a security administrator, a plain member, another tenant."""

from datetime import timedelta

import pytest
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from apps.audit.models import Event
from apps.masking.algorithms import ALGORITHMS
from apps.masking.models import MaskingRule, UnmaskGrant
from tests.factories import make_owner
from tests.masking.factories import (
    KEEP_ALGORITHM,
    TEXT_ALGORITHM,
    MaskingRuleFactory,
    UnmaskGrantFactory,
    make_masking_world,
)

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

TENANT_RULES = "/api/v1/masking/rules"


@pytest.fixture
def world():
    world = make_masking_world()
    world.rules = f"/api/v1/projects/{world.project.name}/masking/rules"
    world.grants = f"/api/v1/projects/{world.project.name}/masking/unmask-grants"
    return world


def results(response) -> list:
    return response.json()["results"]


def test_anonymous_requests_are_refused(api_client_for, world):
    client = api_client_for(None)
    for method, url in (("get", "/api/v1/masking/algorithms"), ("post", "/api/v1/masking/preview"),
                        ("get", TENANT_RULES), ("get", world.rules), ("post", world.grants)):
        assert getattr(client, method)(url, {}, format="json").status_code == 401, url


def test_the_algorithms_are_listed_with_their_parameters(api_client_for, world):
    response = api_client_for(world.carol).get("/api/v1/masking/algorithms")

    assert response.status_code == 200
    listed = {algorithm["code"]: algorithm for algorithm in response.json()}
    assert set(listed) == set(ALGORITHMS)
    assert [parameter["name"] for parameter in listed[KEEP_ALGORITHM]["parameters"]] == [
        parameter.name for parameter in ALGORITHMS[KEEP_ALGORITHM].parameters]
    assert "text" in listed[TEXT_ALGORITHM]["applies_to"]


def test_a_preview_masks_samples_with_the_tenants_key(api_client_for, world):
    client = api_client_for(world.carol)
    body = {"algorithm": TEXT_ALGORITHM, "samples": ["+1-415-555-0100", "+1-415-555-0100", "alice"]}

    masked = client.post("/api/v1/masking/preview", body, format="json").json()["masked"]
    stranger = api_client_for(make_owner()).post("/api/v1/masking/preview", body, format="json").json()["masked"]

    assert masked[0] == masked[1] != masked[2]
    assert "+1-415-555-0100" not in masked
    assert stranger[0] != masked[0]


def test_a_preview_with_bad_parameters_is_a_400_naming_the_field(api_client_for, world):
    response = api_client_for(world.carol).post("/api/v1/masking/preview", {
        "algorithm": "no_such_algorithm", "samples": ["x"]}, format="json")

    assert response.status_code == 400
    assert "algorithm" in response.json()["error"]["fields"]


# --- tenant-wide rules ---------------------------------------------------------------------------

def test_the_owner_manages_tenant_rules(api_client_for, world):
    client = api_client_for(world.owner)

    created = client.post(TENANT_RULES, {"name": "mobiles", "sensitive_type": "mobile_phone",
                                         "algorithm": TEXT_ALGORITHM}, format="json")
    assert created.status_code == 201, created.json()
    rule_id = created.json()["id"]
    assert (created.json()["scope"], created.json()["sensitive_type"]) == ("tenant", "mobile_phone")

    assert [rule["id"] for rule in results(client.get(TENANT_RULES))] == [rule_id]
    patched = client.patch(f"{TENANT_RULES}/{rule_id}", {"enabled": False}, format="json")
    assert (patched.status_code, patched.json()["enabled"]) == (200, False)
    assert client.delete(f"{TENANT_RULES}/{rule_id}").status_code == 204
    assert not MaskingRule.objects.exists()
    assert Event.objects.filter(action__startswith="masking.rule_").count() == 3


def test_a_member_reads_tenant_rules_but_may_not_change_them(api_client_for, world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant)
    client = api_client_for(world.security)

    assert [item["id"] for item in results(client.get(TENANT_RULES))] == [rule.pk]
    assert client.post(TENANT_RULES, {"name": "x", "sensitive_type": "mobile_phone", "algorithm": TEXT_ALGORITHM},
                       format="json").status_code == 403
    assert client.patch(f"{TENANT_RULES}/{rule.pk}", {"enabled": False}, format="json").status_code == 403
    assert client.delete(f"{TENANT_RULES}/{rule.pk}").status_code == 403
    rule.refresh_from_db()
    assert rule.enabled and MaskingRule.objects.count() == 1


def test_another_tenant_sees_nothing_and_gets_404(api_client_for, world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant)
    project_rule = MaskingRuleFactory.for_type("email", project=world.project)
    grant = UnmaskGrantFactory.on(world.customers, user=world.carol)
    client = api_client_for(make_owner())

    assert results(client.get(TENANT_RULES)) == []
    assert client.get(f"{TENANT_RULES}/{rule.pk}").status_code == 404
    assert client.patch(f"{TENANT_RULES}/{rule.pk}", {"enabled": False}, format="json").status_code == 404
    assert client.delete(f"{TENANT_RULES}/{rule.pk}").status_code == 404
    assert client.get(world.rules).status_code == 404
    assert client.delete(f"{world.rules}/{project_rule.pk}").status_code == 404
    assert client.post(world.grants, {"table": "customers", "user": world.carol.username, "expires_at": None},
                       format="json").status_code == 404
    assert client.post(f"{world.grants}/{grant.pk}/revoke").status_code == 404
    assert MaskingRule.objects.count() == 2 and UnmaskGrant.objects.count() == 1


def test_an_unknown_sensitive_type_is_a_400(api_client_for, world):
    response = api_client_for(world.owner).post(TENANT_RULES, {"name": "x", "sensitive_type": "nope",
                                                               "algorithm": TEXT_ALGORITHM}, format="json")

    assert response.status_code == 400
    assert "sensitive_type" in response.json()["error"]["fields"]


# --- project rules -------------------------------------------------------------------------------

def test_a_security_administrator_creates_type_and_column_rules(api_client_for, world):
    client = api_client_for(world.security)

    by_type = client.post(world.rules, {"name": "emails", "sensitive_type": "email", "algorithm": TEXT_ALGORITHM},
                          format="json")
    by_column = client.post(world.rules, {"name": "mobile", "table": "customers", "column": "MOBILE",
                                          "algorithm": KEEP_ALGORITHM}, format="json")

    assert (by_type.status_code, by_type.json()["scope"]) == (201, "project")
    assert (by_column.status_code, by_column.json()["scope"], by_column.json()["column"]) == (201, "column", "mobile")
    listed = results(client.get(world.rules))
    assert {rule["name"] for rule in listed} == {"emails", "mobile"}


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "table": "customers", "column": "nope", "algorithm": TEXT_ALGORITHM}, "column"),
    ({"name": "x", "table": "nope", "column": "mobile", "algorithm": TEXT_ALGORITHM}, "table"),
    ({"name": "x", "sensitive_type": "email", "algorithm": "nope"}, "algorithm"),
    ({"name": "x", "algorithm": TEXT_ALGORITHM}, "sensitive_type"),
    ({"sensitive_type": "email", "algorithm": TEXT_ALGORITHM}, "name"),
    ({"name": "x", "table": "customers", "column": "birthday", "algorithm": KEEP_ALGORITHM}, "algorithm"),
])
def test_bad_rules_are_400s_with_field_errors(api_client_for, world, body, field):
    response = api_client_for(world.security).post(world.rules, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not MaskingRule.objects.exists()


def test_a_duplicate_rule_is_a_400_not_a_500(api_client_for, world):
    client = api_client_for(world.security)
    body = {"name": "emails", "sensitive_type": "email", "algorithm": TEXT_ALGORITHM}
    client.post(world.rules, body, format="json")

    response = client.post(world.rules, body, format="json")

    assert response.status_code == 400
    assert "sensitive_type" in response.json()["error"]["fields"]


def test_a_plain_member_reads_project_rules_but_may_not_write(api_client_for, world):
    rule = MaskingRuleFactory.for_type("email", project=world.project)
    client = api_client_for(world.carol)

    assert [item["id"] for item in results(client.get(world.rules))] == [rule.pk]
    assert client.post(world.rules, {"name": "x", "sensitive_type": "mobile_phone", "algorithm": TEXT_ALGORITHM},
                       format="json").status_code == 403
    assert client.delete(f"{world.rules}/{rule.pk}").status_code == 403
    assert MaskingRule.objects.count() == 1


def test_a_tenant_rule_is_not_reachable_under_a_project(api_client_for, world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant)

    assert api_client_for(world.owner).delete(f"{world.rules}/{rule.pk}").status_code == 404


# --- unmask grants -------------------------------------------------------------------------------

def test_a_security_administrator_grants_lists_and_revokes(api_client_for, world):
    client = api_client_for(world.security)
    expires = (timezone.now() + timedelta(days=7)).isoformat()

    created = client.post(world.grants, {"table": "customers", "columns": ["mobile"], "role": "ANALYST",
                                         "expires_at": expires, "reason": "audit"}, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["role"], body["columns"], body["origin"], body["granted_by"]) == (
        "analyst", ["mobile"], "api", world.security.username)
    assert [grant["id"] for grant in results(client.get(world.grants))] == [body["id"]]
    assert client.post(f"{world.grants}/{body['id']}/revoke").status_code == 204
    assert not UnmaskGrant.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"table": "customers", "user": "nobody", "expires_at": None}, "user"),
    ({"table": "customers", "role": "nope", "expires_at": None}, "role"),
    ({"table": "nope", "user": "CAROL", "expires_at": None}, "table"),
    ({"table": "customers", "user": "CAROL", "columns": ["nope"], "expires_at": None}, "columns"),
    ({"table": "customers", "user": "CAROL", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"table": "customers", "user": "CAROL"}, "expires_at"),
])
def test_bad_grants_are_400s_with_field_errors(api_client_for, world, body, field):
    if body.get("user") == "CAROL":
        body = {**body, "user": world.carol.username}

    response = api_client_for(world.security).post(world.grants, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not UnmaskGrant.objects.exists()


def test_a_plain_member_may_not_grant_or_revoke(api_client_for, world):
    grant = UnmaskGrantFactory.on(world.customers, user=world.carol)
    client = api_client_for(world.carol)

    assert client.post(world.grants, {"table": "customers", "user": world.carol.username, "expires_at": None},
                       format="json").status_code == 403
    assert client.post(f"{world.grants}/{grant.pk}/revoke").status_code == 403
    assert UnmaskGrant.objects.count() == 1


def test_the_masking_api_schema_is_clean_and_valid():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.masking.api.urls"))])
    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._warn_cache)
    validate_schema(schema)
    assert "/api/v1/projects/{project_name}/masking/unmask-grants/{id}/revoke/" in schema["paths"]
