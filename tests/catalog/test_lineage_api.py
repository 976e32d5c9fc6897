"""/api/v1/catalog/data-sources, /harvest-runs, /tables, /columns and /lineage, through
AccessKey-signed requests: anonymous, another tenant, a plain member, a tenant Admin and the
owner, allowed and refused side by side."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import Event
from apps.catalog import lineage, services
from apps.catalog.models import (
    Category,
    DataSource,
    GlossaryTerm,
    HarvestRun,
    HarvestStatus,
    LineageEdge,
    SensitiveType,
    Table,
    Tag,
)
from tests.catalog.factories import harvest_now
from tests.catalog import test_lineage_world as world
from tests.factories import make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])
lineage_world = world.lineage_world

ANONYMOUS_STATUSES = (401, 403)
SECRET = "hunter2-Very-Secret"


@pytest.fixture
def outsider():
    """The owner of a tenant that has nothing to do with any of the world's projects."""
    return make_owner()


@pytest.fixture
def as_(lineage_world, outsider, api_client_for):
    w = lineage_world
    people = {"anonymous": None, "outsider": outsider, "member": w.member, "admin": w.admin, "owner": w.owner}
    return lambda who: api_client_for(people[who])


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _names(response):
    return sorted(item["name"] for item in _results(response))


# --- tables and columns ------------------------------------------------------------------------

def test_tables_list_shows_what_each_caller_may_see(as_):
    assert as_("anonymous").get("/api/v1/catalog/tables/").status_code in ANONYMOUS_STATUSES
    assert _names(as_("outsider").get("/api/v1/catalog/tables/")) == []
    assert _names(as_("member").get("/api/v1/catalog/tables/")) == ["mart", "raw", "stage"]
    assert _names(as_("owner").get("/api/v1/catalog/tables/")) == ["feed", "mart", "raw", "stage"]


def test_tables_filters(as_, lineage_world):
    w = lineage_world
    owner = as_("owner")
    assert _names(owner.get("/api/v1/catalog/tables/", {"project": w.side.name})) == ["feed"]
    assert _names(owner.get("/api/v1/catalog/tables/", {"name": "ar"})) == ["mart"]
    assert _names(owner.get("/api/v1/catalog/tables/", {"schema": w.main.schema_name})) == ["mart", "raw", "stage"]
    source = w.tables["feed"].data_source_id
    assert _names(owner.get("/api/v1/catalog/tables/", {"data_source": source})) == ["feed"]

    Table.objects.filter(pk=w.tables["mart"].pk).update(is_dropped=True)
    assert _names(owner.get("/api/v1/catalog/tables/", {"project": w.main.name})) == ["raw", "stage"]
    assert _names(owner.get("/api/v1/catalog/tables/", {"project": w.main.name, "include_dropped": "true"})) == [
        "mart", "raw", "stage"]


def test_table_retrieve_has_columns_and_metadata(as_, lineage_world):
    w = lineage_world
    raw = w.tables["raw"]
    tenant = w.main.tenant
    finance = Category.objects.create(tenant=tenant, name="Finance", path="Finance")
    term = GlossaryTerm.objects.create(tenant=tenant, name="Customer")
    tag = Tag.objects.create(tenant=tenant, name="pii")
    Table.objects.filter(pk=raw.pk).update(owner=w.admin, row_estimate=1234, description="Raw feed")
    raw.stewards.add(w.member)
    raw.categories.add(finance)
    raw.terms.add(term)
    raw.tags.add(tag)
    mobile = w.column("raw", "mobile")
    mobile.tags.add(tag)
    services.column_classify(actor=w.owner, column=mobile,
                             classification=SensitiveType.objects.get(tenant=None, code="mobile_phone"))

    response = as_("member").get(f"/api/v1/catalog/tables/{raw.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["owner"], body["row_estimate"], body["description"]) == (w.admin.username, 1234, "Raw feed")
    assert body["stewards"] == [w.member.username]
    assert [c["path"] for c in body["categories"]] == ["Finance"]
    assert [t["name"] for t in body["terms"]] == ["Customer"] and [t["name"] for t in body["tags"]] == ["pii"]
    columns = {c["name"]: c for c in body["columns"]}
    assert [c["name"] for c in body["columns"]] == ["id", "mobile", "email"]
    assert columns["mobile"]["sensitivity_level"] == 5
    assert columns["mobile"]["classification"]["code"] == "mobile_phone"
    assert [t["name"] for t in columns["mobile"]["tags"]] == ["pii"]

    assert as_("outsider").get(f"/api/v1/catalog/tables/{raw.pk}/").status_code == 404
    assert as_("member").get(f"/api/v1/catalog/tables/{w.tables['feed'].pk}/").status_code == 404


def test_tables_list_makes_a_constant_number_of_queries(as_, lineage_world, django_assert_num_queries):
    w = lineage_world
    client = as_("owner")
    client.get("/api/v1/catalog/tables/")  # the AccessKey's last use is recorded once a minute
    with CaptureQueriesContext(connection) as baseline:
        assert len(_results(client.get("/api/v1/catalog/tables/"))) == 4
    Table.objects.filter(pk=w.tables["raw"].pk).update(owner=w.member)
    for n in range(5):
        world.make_table(w.main, f"more_{n}")
    with django_assert_num_queries(len(baseline)):
        assert len(_results(client.get("/api/v1/catalog/tables/"))) == 9


def test_columns_list_filters_and_retrieve(as_, lineage_world):
    w = lineage_world
    services.column_classify(actor=w.owner, column=w.column("stage", "email"), sensitivity_level=3)
    member = as_("member")
    assert _names(member.get("/api/v1/catalog/columns/", {"table": w.tables["raw"].pk})) == ["email", "id", "mobile"]
    assert len(_results(member.get("/api/v1/catalog/columns/", {"project": w.main.name}))) == 9
    by_level = _results(member.get("/api/v1/catalog/columns/", {"min_sensitivity_level": 2}))
    assert [(c["table_name"].split(".")[1], c["name"]) for c in by_level] == [("stage", "email")]
    assert _results(member.get("/api/v1/catalog/columns/", {"table": w.tables["feed"].pk})) == []
    assert _results(as_("outsider").get("/api/v1/catalog/columns/")) == []

    email = w.column("stage", "email")
    response = member.get(f"/api/v1/catalog/columns/{email.pk}/")
    assert response.status_code == 200 and response.json()["sensitivity_level"] == 3
    assert as_("outsider").get(f"/api/v1/catalog/columns/{email.pk}/").status_code == 404


# --- data sources --------------------------------------------------------------------------------

def _source_payload(project, **overrides):
    return {"project": project.name, "kind": "postgresql", "name": "crm", "host": "127.0.0.1", "port": 5432,
            "database": "warden_no_such_database_h", "username": "postgres", "password": SECRET,
            "tls_mode": "disable", **overrides}


@pytest.mark.parametrize("who, statuses", [("anonymous", ANONYMOUS_STATUSES), ("outsider", (400,)),
                                           ("member", (403,)), ("admin", (201,)), ("owner", (201,))])
def test_data_source_create(as_, lineage_world, who, statuses):
    response = as_(who).post("/api/v1/catalog/data-sources/", _source_payload(lineage_world.main), format="json")
    assert response.status_code in statuses, response.content
    assert SECRET not in response.content.decode()
    created = DataSource.objects.filter(project=lineage_world.main, name="crm").first()
    assert (created is not None) == (response.status_code == 201)
    if created is not None:
        assert response.json()["has_password"] is True and "password" not in response.json()
        assert Event.objects.filter(action="catalog.data_source_create").exists()
    if who == "outsider":
        assert "project" in response.json()["error"]["fields"]


def test_data_source_create_reports_bad_fields(as_, lineage_world):
    response = as_("owner").post("/api/v1/catalog/data-sources/",
                                 _source_payload(lineage_world.main, kind="oracle", port=70000), format="json")
    assert response.status_code == 400
    assert {"kind", "port"} <= set(response.json()["error"]["fields"])


def test_the_password_is_never_in_any_response(as_, lineage_world):
    owner = as_("owner")
    created = owner.post("/api/v1/catalog/data-sources/", _source_payload(lineage_world.main), format="json")
    assert created.status_code == 201
    source_id = created.json()["id"]
    responses = [
        created,
        owner.get("/api/v1/catalog/data-sources/"),
        owner.get(f"/api/v1/catalog/data-sources/{source_id}/"),
        owner.patch(f"/api/v1/catalog/data-sources/{source_id}/", {"description": "CRM replica"}, format="json"),
        owner.patch(f"/api/v1/catalog/data-sources/{source_id}/", {"host": "localhost"}, format="json"),
        owner.post(f"/api/v1/catalog/data-sources/{source_id}/test-connection/"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 400, 200]
    for response in responses:
        assert SECRET not in response.content.decode()
    assert responses[3].json()["description"] == "CRM replica"
    assert "password" in responses[4].json()["error"]["fields"]
    check = responses[5].json()
    assert check["ok"] is False and "warden_no_such_database_h" in check["message"]


@pytest.mark.parametrize("who, status", [("outsider", 404), ("member", 403), ("admin", 200), ("owner", 200)])
def test_data_source_update_and_test_connection(as_, lineage_world, who, status):
    source = services.warehouse_source_ensure(project=lineage_world.main)
    client = as_(who)
    response = client.patch(f"/api/v1/catalog/data-sources/{source.pk}/", {"harvest_schedule": "daily"},
                            format="json")
    assert response.status_code == status, response.content
    source.refresh_from_db()
    assert (source.harvest_schedule == "daily") == (status == 200)
    check = client.post(f"/api/v1/catalog/data-sources/{source.pk}/test-connection/")
    assert check.status_code == status
    if status == 200:
        assert check.json()["ok"] is True


def test_data_source_list_and_delete(as_, lineage_world):
    w = lineage_world
    external = services.data_source_create(actor=w.owner, project=w.main, kind="mysql", name="shop",
                                           host="127.0.0.1", database="shop", username="reader", password=SECRET)
    assert "shop" in _names(as_("member").get("/api/v1/catalog/data-sources/", {"project": w.main.name}))
    assert _names(as_("outsider").get("/api/v1/catalog/data-sources/")) == []

    url = f"/api/v1/catalog/data-sources/{external.pk}/"
    assert as_("outsider").delete(url).status_code == 404
    assert as_("member").delete(url).status_code == 403
    assert as_("admin").delete(url).status_code == 204
    assert not DataSource.objects.filter(pk=external.pk).exists()
    warehouse = services.warehouse_source_ensure(project=w.main)
    response = as_("owner").delete(f"/api/v1/catalog/data-sources/{warehouse.pk}/")
    assert response.status_code == 400 and "kind" in response.json()["error"]["fields"]


# --- harvests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [("anonymous", None), ("outsider", 404), ("member", 403), ("admin", 202),
                                         ("owner", 202)])
def test_harvest_start_through_the_api_queues_a_run(as_, lineage_world, who, status):
    source = services.warehouse_source_ensure(project=lineage_world.main)
    response = as_(who).post(f"/api/v1/catalog/data-sources/{source.pk}/harvest/")
    if status is None:
        assert response.status_code in ANONYMOUS_STATUSES
    else:
        assert response.status_code == status, response.content
    runs = HarvestRun.objects.filter(data_source=source)
    assert runs.count() == (1 if status == 202 else 0)
    if status == 202:
        run = runs.get()
        assert response.json()["id"] == run.pk and response.json()["status"] == HarvestStatus.QUEUED
        again = as_(who).post(f"/api/v1/catalog/data-sources/{source.pk}/harvest/")
        assert again.status_code == 400 and "data_source" in again.json()["error"]["fields"]


def test_harvest_runs_show_progress_counts_and_changes(as_, lineage_world, warehouse_sql):
    w = lineage_world
    warehouse_sql(f"CREATE TABLE {w.side.schema_name}.events (id bigint, happened_at timestamptz)")
    source = services.warehouse_source_ensure(project=w.side)
    run = harvest_now(w.owner, source)

    listed = _results(as_("owner").get("/api/v1/catalog/harvest-runs/", {"project": w.side.name}))
    assert [item["id"] for item in listed] == [run.pk]
    assert listed[0]["progress"] == 100 and listed[0]["counts"]["tables_added"] == 1
    assert "changes" not in listed[0]
    detail = as_("owner").get(f"/api/v1/catalog/harvest-runs/{run.pk}/").json()
    changes = {(c["table"], c["change"]) for c in detail["changes"]}
    assert ("events", "added") in changes and ("feed", "dropped") in changes
    assert as_("outsider").get(f"/api/v1/catalog/harvest-runs/{run.pk}/").status_code == 404
    assert as_("member").get(f"/api/v1/catalog/harvest-runs/{run.pk}/").status_code == 404
    assert _results(as_("member").get("/api/v1/catalog/harvest-runs/")) == []


# --- lineage -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [("anonymous", None), ("outsider", 400), ("member", 403), ("admin", 201),
                                         ("owner", 201)])
def test_lineage_edge_create(as_, lineage_world, who, status):
    w = lineage_world
    payload = {"source_column": w.column("raw", "mobile").pk, "target_column": w.column("stage", "mobile").pk,
               "description": "nightly copy"}
    response = as_(who).post("/api/v1/catalog/lineage/edges/", payload, format="json")
    if status is None:
        assert response.status_code in ANONYMOUS_STATUSES
    else:
        assert response.status_code == status, response.content
    assert LineageEdge.objects.exists() == (status == 201)
    if status == 201:
        body = response.json()
        assert body["origin"] == "api" and body["target_table"] == w.tables["stage"].pk
        assert body["source_column_name"] == "mobile" and body["description"] == "nightly copy"
    if who == "outsider":
        assert set(response.json()["error"]["fields"]) == {"source_column"}


def test_lineage_edge_create_reports_field_errors(as_, lineage_world):
    w = lineage_world
    owner = as_("owner")
    loop = owner.post("/api/v1/catalog/lineage/edges/",
                      {"source_table": w.tables["raw"].pk, "target_table": w.tables["raw"].pk}, format="json")
    assert loop.status_code == 400 and "target_table" in loop.json()["error"]["fields"]
    one_end = owner.post("/api/v1/catalog/lineage/edges/", {"source_column": w.column("raw", "id").pk},
                         format="json")
    assert one_end.status_code == 400 and "target_column" in one_end.json()["error"]["fields"]
    payload = {"source_table": w.tables["raw"].pk, "target_table": w.tables["stage"].pk}
    assert owner.post("/api/v1/catalog/lineage/edges/", payload, format="json").status_code == 201
    duplicate = owner.post("/api/v1/catalog/lineage/edges/", payload, format="json")
    assert duplicate.status_code == 400 and "target_table" in duplicate.json()["error"]["fields"]
    assert LineageEdge.objects.count() == 1


def test_lineage_edge_list_and_delete(as_, lineage_world):
    w = lineage_world
    edge = lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["stage"])
    hidden = lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["feed"], target_table=w.tables["raw"])

    assert [e["id"] for e in _results(as_("owner").get("/api/v1/catalog/lineage/edges/"))] == [edge.pk, hidden.pk]
    assert [e["id"] for e in _results(as_("member").get("/api/v1/catalog/lineage/edges/",
                                                         {"table": w.tables["raw"].pk}))] == [edge.pk]
    assert _results(as_("outsider").get("/api/v1/catalog/lineage/edges/")) == []

    url = f"/api/v1/catalog/lineage/edges/{edge.pk}/"
    assert as_("outsider").delete(url).status_code == 404
    assert as_("member").delete(url).status_code == 403
    assert as_("member").delete(f"/api/v1/catalog/lineage/edges/{hidden.pk}/").status_code == 404
    assert as_("owner").delete(url).status_code == 204
    assert not LineageEdge.objects.filter(pk=edge.pk).exists()
    assert Event.objects.filter(action="catalog.lineage_edge_delete", actor=w.owner).exists()


def test_lineage_graph(as_, lineage_world):
    w = lineage_world
    for source, target in (("raw", "stage"), ("stage", "mart")):
        lineage.lineage_edge_create(actor=w.owner, source_table=w.tables[source], target_table=w.tables[target])

    response = as_("member").get("/api/v1/catalog/lineage/", {"table": w.tables["raw"].pk, "direction": "down",
                                                               "depth": 1})
    assert response.status_code == 200, response.content
    body = response.json()
    assert {node["name"]: node["distance"] for node in body["nodes"]} == {"raw": 0, "stage": 1}
    assert body["root"] == f"table:{w.tables['raw'].pk}" and len(body["edges"]) == 1

    column = as_("member").get("/api/v1/catalog/lineage/", {"column": w.column("raw", "id").pk})
    assert column.status_code == 200 and [n["kind"] for n in column.json()["nodes"]] == ["column"]

    assert as_("anonymous").get("/api/v1/catalog/lineage/", {"table": w.tables["raw"].pk}).status_code \
        in ANONYMOUS_STATUSES
    assert as_("outsider").get("/api/v1/catalog/lineage/", {"table": w.tables["raw"].pk}).status_code == 404
    too_deep = as_("member").get("/api/v1/catalog/lineage/", {"table": w.tables["raw"].pk, "depth": 11})
    assert too_deep.status_code == 400 and "depth" in too_deep.json()["error"]["fields"]
    neither = as_("member").get("/api/v1/catalog/lineage/")
    assert neither.status_code == 400 and "table" in neither.json()["error"]["fields"]


def test_lineage_sensitivity_flags(as_, lineage_world):
    w = lineage_world
    national_id = SensitiveType.objects.get(tenant=None, code="national_id")
    services.column_classify(actor=w.owner, column=w.column("raw", "id"), classification=national_id)
    lineage.lineage_edge_create(actor=w.owner, source_column=w.column("raw", "id"),
                                target_column=w.column("stage", "id"))

    response = as_("member").get("/api/v1/catalog/lineage/flags/", {"project": w.main.name})
    assert response.status_code == 200, response.content
    (flag,) = response.json()
    assert flag["column"]["id"] == w.column("stage", "id").pk
    assert flag["suggested_level"] == national_id.default_level
    assert flag["suggested_classification"]["code"] == "national_id"
    assert [source["id"] for source in flag["sources"]] == [w.column("raw", "id").pk]

    by_table = as_("member").get("/api/v1/catalog/lineage/flags/", {"table": w.tables["raw"].pk})
    assert by_table.status_code == 200 and by_table.json() == []
    assert as_("outsider").get("/api/v1/catalog/lineage/flags/", {"project": w.main.name}).status_code == 404
    assert as_("member").get("/api/v1/catalog/lineage/flags/", {"project": w.side.name}).status_code == 404
