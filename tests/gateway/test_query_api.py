"""POST /api/v1/projects/{project}/queries and the export and leak-trace endpoints."""

import csv
import io
import json

from apps.audit.models import Event
from apps.gateway.models import Export
from tests.conftest import both_databases
from tests.factories import make_owner, make_project
from tests.gateway.world import console, make_shop

pytestmark = both_databases


def _url(project, what="queries"):
    return f"/api/v1/projects/{project.name}/{what}"


def test_select_answers_rows_masked_columns_and_the_decision(api_client_for):
    shop = make_shop()
    response = api_client_for(shop.reader).post(_url(shop.project), {"sql": "select id, mobile from customers "
                                                                              "order by id", "limit": 2}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["columns"] == ["id", "mobile"] and body["rows"] == [[1, "138****5678"], [2, "139****4321"]]
    assert body["masked_columns"] == ["mobile"]
    assert body["row_count"] == 2 and body["truncated"] is True
    assert body["decision"]["allowed"] is True
    assert body["decision"]["checks"][0]["what"] == f"Select on {shop.project.name}.customers"
    event = Event.objects.get(pk=body["event_id"])
    assert event.action == "gateway.query" and event.details["masked"] == [f"{shop.project.name}.customers.mobile"]
    assert event.details["requests"][0]["columns"] == ["id", "mobile"]


def test_sql_that_is_not_allowed_is_a_400_naming_the_construct_and_its_position(api_client_for):
    shop = make_shop()
    response = api_client_for(shop.reader).post(_url(shop.project), {"sql": "select 1; drop table customers"},
                                                format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "refused" and "one statement at a time" in error["message"]
    assert error["fields"]["position"] == ["10"]
    bad = api_client_for(shop.reader).post(_url(shop.project), {"sql": "select pg_read_file('/etc/passwd')"},
                                           format="json")
    assert bad.status_code == 400 and "pg_read_file" in bad.json()["error"]["message"]


def test_denied_access_is_a_403_with_the_trace_and_is_audited(api_client_for):
    shop = make_shop()
    response = api_client_for(shop.stranger).post(_url(shop.project), {"sql": "select name from customers"},
                                                  format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "access_denied"
    denied = body["decision"]["denied"][0]
    assert denied["action"] == "Select" and denied["object"] == "customers" and denied["step"] == "default"
    assert [step["step"] for step in body["decision"]["checks"][0]["trace"]][-2:] == ["package", "default"]
    assert Event.objects.filter(action="gateway.query", actor=shop.stranger, decision="deny").count() == 1


def test_another_tenants_project_is_404_and_its_tables_do_not_exist(api_client_for):
    shop = make_shop()
    outsider = make_owner()
    assert api_client_for(outsider).post(_url(shop.project), {"sql": "select 1"}, format="json").status_code == 404
    own = make_project(outsider)
    response = api_client_for(outsider).post(_url(own), {"sql": f"select * from {shop.project.name}.customers"},
                                             format="json")
    assert response.status_code == 400
    assert "no table" in response.json()["error"]["message"]


def test_limit_out_of_range_is_a_field_error(api_client_for, settings):
    shop = make_shop()
    response = api_client_for(shop.reader).post(_url(shop.project), {"sql": "select 1", "limit": 10**9},
                                                format="json")
    assert response.status_code == 400 and "limit" in response.json()["error"]["fields"]


def test_over_the_concurrency_limit_is_a_429_naming_the_setting(api_client_for, settings):
    from django.core.cache import cache

    shop = make_shop()
    settings.GATEWAY_USER_CONCURRENT_QUERIES = 1
    cache.set(f"gateway:running:user:{shop.reader.pk}", 1, 60)
    response = api_client_for(shop.reader).post(_url(shop.project), {"sql": "select 1"}, format="json")
    assert response.status_code == 429
    assert "GATEWAY_USER_CONCURRENT_QUERIES" in response.json()["error"]["message"]
    cache.delete(f"gateway:running:user:{shop.reader.pk}")
    assert api_client_for(shop.reader).post(_url(shop.project), {"sql": "select 1"}, format="json").status_code == 200


def test_rows_per_minute_budget_refuses_once_spent(api_client_for, settings):
    shop = make_shop()
    settings.GATEWAY_USER_ROWS_PER_MINUTE = 3
    client = api_client_for(shop.reader)
    assert client.post(_url(shop.project), {"sql": "select id from customers"}, format="json").status_code == 200
    response = client.post(_url(shop.project), {"sql": "select id from customers"}, format="json")
    assert response.status_code == 429 and "GATEWAY_USER_ROWS_PER_MINUTE" in response.json()["error"]["message"]


def test_export_needs_download(api_client_for):
    shop = make_shop()
    response = api_client_for(shop.reader).post(_url(shop.project, "exports"), {"sql": "select * from customers"},
                                                format="json")
    assert response.status_code == 403
    assert response.json()["decision"]["denied"][0]["action"] == "Download"
    assert not Export.objects.exists()


def test_export_is_watermarked_and_a_partial_copy_traces_back_to_it(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant download on table customers to user {shop.reader.principal_name}")
    response = api_client_for(shop.reader).post(_url(shop.project, "exports"),
                                                {"sql": "select name, mobile, email from customers order by id",
                                                 "format": "csv"}, format="json")
    assert response.status_code == 200, response.content
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "mobile", "email"]
    # Invisible to the eye: without the zero-width marks each cell is the masked value.
    assert rows[1][1].rstrip("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064") == "138****5678"
    export = Export.objects.get(pk=int(response["X-Warden-Export"]))
    assert export.user == shop.reader and Event.objects.get(pk=export.event_id).action == "gateway.export"
    partial = rows[2][2]  # one cell of one row
    traced = api_client_for(shop.owner).post("/api/v1/leak-traces", {"text": partial}, format="json")
    assert traced.status_code == 200
    assert traced.json()[0]["export"] == export.pk and traced.json()[0]["method"] == "mark"
    assert traced.json()[0]["user"] == shop.reader.principal_name


def test_json_export_traces_by_content_when_the_marks_are_stripped(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant download on table customers to user {shop.reader.principal_name}")
    response = api_client_for(shop.reader).post(_url(shop.project, "exports"),
                                                {"sql": "select name, email, region from customers",
                                                 "format": "json"}, format="json")
    records = json.loads(response.content)
    stripped = "\n".join(",".join(value.strip("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064")
                                  for value in record.values()) for record in records[:3])
    traced = api_client_for(shop.owner).post("/api/v1/leak-traces", {"text": stripped}, format="json")
    assert [finding["method"] for finding in traced.json()] == ["content"]
    assert traced.json()[0]["export"] == int(response["X-Warden-Export"])


def test_leak_tracing_is_for_admins_and_auditors_and_sees_only_its_tenant(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant download on table customers to user {shop.reader.principal_name}")
    response = api_client_for(shop.reader).post(_url(shop.project, "exports"), {"sql": "select name from customers"},
                                                format="json")
    text = response.content.decode("utf-8-sig")
    assert api_client_for(shop.stranger).post("/api/v1/leak-traces", {"text": text}, format="json").status_code == 403
    other = make_owner()
    assert api_client_for(other).post("/api/v1/leak-traces", {"text": text}, format="json").json() == []
