"""/api/v1/catalog/categories, /glossary-terms, /tags, /sensitive-types and the metadata
edits of tables and columns: anonymous, another tenant, a plain member, admins and the owner."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import services, vocabulary
from apps.catalog.models import Category, GlossaryTerm, SensitiveType, Table, Tag
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import TenantRoleName
from apps.tenancy.roles import ADMIN
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

CATEGORIES = "/api/v1/catalog/categories"
TERMS = "/api/v1/catalog/glossary-terms"
TAGS = "/api/v1/catalog/tags"
TYPES = "/api/v1/catalog/sensitive-types"


def make_table(project, name="customers"):
    now = timezone.now()
    table = Table.objects.create(data_source=services.warehouse_source_ensure(project=project), schema=project.name,
                                 name=name, first_seen_at=now, last_seen_at=now)
    table.columns.create(name="mobile", ordinal=1, data_type="text", first_seen_at=now, last_seen_at=now)
    return table


@pytest.fixture
def world():
    """A tenant with a project and a table; its owner, a tenant admin, a project admin, a
    plain member; and another tenant's owner."""
    owner = make_owner()
    project = make_project(owner)
    tenant_admin, project_admin, plain = make_subaccount(owner), make_subaccount(owner), make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=tenant_admin, role=TenantRoleName.ADMIN)
    for user in (project_admin, plain):
        tenancy_services.member_add(actor=owner, project=project, user=user)
    tenancy_services.role_assign(actor=owner, role=project.roles.get(name=ADMIN), user=project_admin)
    return {"owner": owner, "tenant_admin": tenant_admin, "project_admin": project_admin, "plain": plain,
            "stranger": make_owner(), "project": project, "table": make_table(project)}


def test_anonymous_requests_are_refused(api_client_for, world):
    client = api_client_for(None)
    category = vocabulary.category_create(actor=world["owner"], name="Finance")
    for method, url in (("get", CATEGORIES), ("get", f"{CATEGORIES}/tree"), ("post", CATEGORIES),
                        ("delete", f"{CATEGORIES}/{category.pk}"), ("get", TERMS), ("get", TAGS), ("get", TYPES),
                        ("patch", f"/api/v1/catalog/tables/{world['table'].pk}/metadata")):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 401, (method, url)
    assert Category.objects.count() == 1


def test_categories_crud_and_tree(api_client_for, world):
    client = api_client_for(world["tenant_admin"])
    finance = client.post(CATEGORIES, {"name": "Finance"}, format="json")
    assert finance.status_code == 201, finance.data
    payments = client.post(CATEGORIES, {"name": "Payments", "parent": finance.data["id"]}, format="json")
    assert payments.data["path"] == "Finance/Payments"
    vocabulary.table_metadata_update(actor=world["owner"], table=world["table"],
                                     categories=[Category.objects.get(pk=payments.data["id"])])

    renamed = client.patch(f"{CATEGORIES}/{finance.data['id']}", {"name": "Money"}, format="json")
    assert renamed.status_code == 200 and renamed.data["path"] == "Money"
    listed = client.get(CATEGORIES, {"path": "money/"})
    assert [item["path"] for item in listed.data["results"]] == ["Money/Payments"]

    tree = api_client_for(world["plain"]).get(f"{CATEGORIES}/tree")
    assert tree.status_code == 200
    assert tree.data[0]["name"] == "Money" and tree.data[0]["total_table_count"] == 1
    assert tree.data[0]["children"][0]["table_count"] == 1

    refused = client.delete(f"{CATEGORIES}/{payments.data['id']}")
    assert refused.status_code == 400 and "tables" in refused.data["error"]["fields"]["category"][0]
    assert Category.objects.count() == 2


def test_category_writes_by_members_and_project_admins_are_forbidden(api_client_for, world):
    category = vocabulary.category_create(actor=world["owner"], name="Finance")
    for role in ("plain", "project_admin"):
        client = api_client_for(world[role])
        assert client.get(f"{CATEGORIES}/{category.pk}").status_code == 200
        assert client.post(CATEGORIES, {"name": "Mine"}, format="json").status_code == 403
        assert client.patch(f"{CATEGORIES}/{category.pk}", {"name": "X"}, format="json").status_code == 403
        assert client.delete(f"{CATEGORIES}/{category.pk}").status_code == 403
    assert list(Category.objects.values_list("path", flat=True)) == ["Finance"]


def test_another_tenants_vocabulary_is_invisible(api_client_for, world):
    owner = world["owner"]
    category = vocabulary.category_create(actor=owner, name="Finance")
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")
    custom = vocabulary.sensitive_type_create(actor=owner, code="passport_no", name="Passport", category="ID",
                                              default_level=7)
    vocabulary.table_metadata_update(actor=owner, table=world["table"], tags=["PII"])
    tag = Tag.objects.get()
    client = api_client_for(world["stranger"])

    assert client.get(CATEGORIES).data["count"] == 0
    assert client.get(f"{CATEGORIES}/tree").data == []
    assert client.get(TERMS).data["count"] == 0
    assert client.get(TAGS).data["count"] == 0
    assert "passport_no" not in {item["code"] for item in client.get(TYPES, {"page_size": 500}).data["results"]}
    for url in (f"{CATEGORIES}/{category.pk}", f"{TERMS}/{term.pk}", f"{TAGS}/{tag.pk}", f"{TYPES}/{custom.pk}"):
        assert client.get(url).status_code == 404
        assert client.patch(url, {"name": "Stolen"}, format="json").status_code in (404, 405)
        assert client.delete(url).status_code == 404
    # Naming another tenant's category as a parent is a field error that reveals nothing.
    response = client.post(CATEGORIES, {"name": "Mine", "parent": category.pk}, format="json")
    assert response.status_code == 400
    assert response.data["error"]["fields"] == {"parent": [f"No category with id {category.pk}."]}
    for url in (f"/api/v1/catalog/tables/{world['table'].pk}/metadata",
                f"/api/v1/catalog/columns/{world['table'].columns.get().pk}/metadata"):
        assert client.patch(url, {"description": "Stolen"}, format="json").status_code == 404
    assert Category.objects.get().name == "Finance" and GlossaryTerm.objects.get().name == "Customer"
    assert Table.objects.get().description == ""


def test_glossary_terms_api(api_client_for, world):
    client = api_client_for(world["owner"])
    category = vocabulary.category_create(actor=world["owner"], name="Sales")
    created = client.post(TERMS, {"name": "Customer", "definition": "Someone who buys.", "synonyms": ["Client"],
                                  "category": category.pk}, format="json")
    assert created.status_code == 201, created.data
    assert created.data["category_path"] == "Sales" and created.data["table_count"] == 0
    duplicate = client.post(TERMS, {"name": "CUSTOMER"}, format="json")
    assert duplicate.status_code == 400 and "name" in duplicate.data["error"]["fields"]

    found = api_client_for(world["plain"]).get(TERMS, {"q": "client"})
    assert [item["name"] for item in found.data["results"]] == ["Customer"]
    assert api_client_for(world["plain"]).post(TERMS, {"name": "Mine"}, format="json").status_code == 403

    updated = client.patch(f"{TERMS}/{created.data['id']}", {"category": None, "synonyms": []}, format="json")
    assert updated.status_code == 200 and updated.data["category"] is None and updated.data["synonyms"] == []
    assert client.delete(f"{TERMS}/{created.data['id']}").status_code == 204
    assert not GlossaryTerm.objects.exists()
    assert Event.objects.filter(action__startswith="catalog.glossary_term.").count() == 3


def test_sensitive_types_api(api_client_for, world):
    client = api_client_for(world["tenant_admin"])
    created = client.post(TYPES, {"code": "passport_no", "name": "Passport number", "category": "Identity",
                                  "default_level": 7}, format="json")
    assert created.status_code == 201 and created.data["is_builtin"] is False
    clash = client.post(TYPES, {"code": "mobile_phone", "name": "Mine", "category": "X", "default_level": 1},
                        format="json")
    assert clash.status_code == 400 and "built-in" in clash.data["error"]["fields"]["code"][0]
    too_high = client.post(TYPES, {"code": "other", "name": "X", "category": "X", "default_level": 10}, format="json")
    assert too_high.status_code == 400 and "default_level" in too_high.data["error"]["fields"]

    builtin = SensitiveType.objects.get(tenant=None, code="mobile_phone")
    response = client.patch(f"{TYPES}/{builtin.pk}", {"default_level": 0}, format="json")
    assert response.status_code == 403 and "read-only" in response.data["error"]["message"]
    assert client.get(TYPES, {"is_builtin": "false"}).data["count"] == 1
    plain = api_client_for(world["plain"])
    assert plain.get(f"{TYPES}/{builtin.pk}").status_code == 200
    assert plain.patch(f"{TYPES}/{created.data['id']}", {"name": "X"}, format="json").status_code == 403
    assert client.patch(f"{TYPES}/{created.data['id']}", {"default_level": 8}, format="json").data[
        "default_level"] == 8
    assert SensitiveType.objects.filter(tenant__isnull=False).count() == 1


def test_tags_are_listed_with_usage_and_deleted_by_admins(api_client_for, world):
    vocabulary.table_metadata_update(actor=world["owner"], table=world["table"], tags=["PII", "gold"])
    listed = api_client_for(world["plain"]).get(TAGS)
    assert [(item["name"], item["table_count"]) for item in listed.data["results"]] == [("PII", 1), ("gold", 1)]
    pii = Tag.objects.get(name="PII")
    assert api_client_for(world["plain"]).delete(f"{TAGS}/{pii.pk}").status_code == 403
    assert api_client_for(world["owner"]).delete(f"{TAGS}/{pii.pk}").status_code == 204
    assert list(world["table"].tags.values_list("name", flat=True)) == ["gold"]


@pytest.mark.parametrize("role, allowed", [("owner", True), ("tenant_admin", True), ("project_admin", True),
                                           ("plain", False)])
def test_table_metadata_patch_by_role(api_client_for, world, role, allowed):
    table = world["table"]
    term = vocabulary.glossary_term_create(actor=world["owner"], name="Customer")
    category = vocabulary.category_create(actor=world["owner"], name="Sales")
    response = api_client_for(world[role]).patch(
        f"/api/v1/catalog/tables/{table.pk}/metadata",
        {"description": "Who buys.", "owner": world["plain"].username, "stewards": [world["project_admin"].username],
         "categories": [category.pk], "terms": [term.pk], "tags": ["PII"]}, format="json",
    )
    table.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.data
        assert response.data["owner"] == world["plain"].username
        assert response.data["categories"] == [{"id": category.pk, "path": "Sales"}]
        assert response.data["tags"] == ["PII"]
        assert table.description == "Who buys."
        event = Event.objects.get(action="catalog.table.metadata_update")
        assert event.actor_id == world[role].pk and event.channel == "api"
    else:
        assert response.status_code == 403
        assert table.description == "" and not Tag.objects.exists()


def test_the_table_owner_edits_their_table_and_its_columns(api_client_for, world):
    table = world["table"]
    vocabulary.table_metadata_update(actor=world["owner"], table=table, owner=world["plain"])
    client = api_client_for(world["plain"])
    assert client.patch(f"/api/v1/catalog/tables/{table.pk}/metadata/", {"description": "Mine"},
                        format="json").status_code == 200
    column = table.columns.get()
    response = client.patch(f"/api/v1/catalog/columns/{column.pk}/metadata", {"description": "Phone", "tags": ["PII"]},
                            format="json")
    assert response.status_code == 200 and response.data["tags"] == ["PII"]
    column.refresh_from_db()
    assert column.description == "Phone"


def test_bad_metadata_input_is_a_field_error_and_changes_nothing(api_client_for, world):
    table = world["table"]
    client = api_client_for(world["owner"])
    url = f"/api/v1/catalog/tables/{table.pk}/metadata"
    theirs = vocabulary.glossary_term_create(actor=world["stranger"], name="Theirs")
    outsider = make_subaccount(world["owner"])
    for body, field in (({"owner": outsider.username}, "owner"), ({"owner": "nobody-at-all"}, "owner"),
                        ({"stewards": [outsider.username]}, "stewards"), ({"terms": [theirs.pk]}, "terms"),
                        ({"categories": [999999]}, "categories"), ({"tags": ["x" * 64]}, "tags"),
                        ({"stewards": "not-a-list"}, "stewards")):
        response = client.patch(url, {"description": "changed", **body}, format="json")
        assert response.status_code == 400, body
        # A list item's error is keyed "tags.0"; the field is what counts.
        assert [key.split(".")[0] for key in response.data["error"]["fields"]] == [field], body
    table.refresh_from_db()
    assert table.description == "" and table.owner is None
    assert not Event.objects.filter(action="catalog.table.metadata_update").exists()
    assert client.patch("/api/v1/catalog/tables/999999/metadata", {"description": "x"},
                        format="json").status_code == 404


def test_list_endpoints_make_a_constant_number_of_queries(api_client_for, world):
    owner = world["owner"]
    client = api_client_for(owner)
    urls = (CATEGORIES, TERMS, TAGS, TYPES, f"{CATEGORIES}/tree")
    client.get(TYPES)  # the first signed request also records the key's first use

    def queries_per_list(n: int) -> list[int]:
        for _ in range(n):
            category = vocabulary.category_create(actor=owner, name=f"C{Category.objects.count()}")
            vocabulary.glossary_term_create(actor=owner, name=f"T{GlossaryTerm.objects.count()}", category=category)
            table = make_table(world["project"], name=f"t{Table.objects.count()}")
            vocabulary.table_metadata_update(actor=owner, table=table, categories=[category],
                                             tags=[f"tag{Tag.objects.count()}"])
        counts = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts.append(len(queries))
        return counts

    assert queries_per_list(1) == queries_per_list(4)
