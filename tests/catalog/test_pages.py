"""The Data Map's pages: who sees what, the harvest buttons and progress, the table page and
classifying a column by hand."""

import pytest
from django.test import Client

from apps.catalog import lineage, services, vocabulary
from apps.catalog.drawing import lineage_drawing
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import Column, DataSource, HarvestRun, SensitiveType, Table
from apps.tenancy import services as tenancy_services
from tests.catalog.factories import harvest_now
from tests.factories import client_for, make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def harvested(warehouse_sql):
    """Tenant A's project with a harvested customers table, a plain member, and tenant B."""
    owner = make_owner()
    project = make_project(owner)
    warehouse_sql(
        f"CREATE TABLE {project.schema_name}.customers (id bigint PRIMARY KEY, mobile varchar(20))",
        f"COMMENT ON COLUMN {project.schema_name}.customers.mobile IS 'Mobile phone'",
    )
    run = services.project_harvest_start(actor=owner, project=project)
    harvest_run_execute(run_id=run.pk)
    member = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=member)
    table = Table.objects.get(data_source__project=project, name="customers")
    return {"owner": owner, "project": project, "member": member, "table": table, "stranger": make_owner()}


def test_data_map_lists_only_visible_sources_and_offers_harvests_to_admins(harvested):
    owner_page = client_for(harvested["owner"]).get("/catalog/").content.decode()
    assert harvested["project"].name in owner_page and "Harvest now" in owner_page

    member_page = client_for(harvested["member"]).get("/catalog/").content.decode()
    assert harvested["project"].name in member_page and "Harvest now" not in member_page

    stranger_page = client_for(harvested["stranger"]).get("/catalog/").content.decode()
    assert harvested["project"].name not in stranger_page


def test_pages_need_a_login():
    response = Client().get("/catalog/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_table_page_shows_columns_and_other_tenants_get_404(harvested):
    url = f"/catalog/tables/{harvested['table'].pk}/"
    page = client_for(harvested["member"]).get(url).content.decode()
    assert "customers" in page and "mobile" in page and "Mobile phone" in page
    assert f"<title>{harvested['table'].qualified_name} · Warden</title>" in page
    assert "Classify" not in page  # a plain member may not classify
    assert client_for(harvested["stranger"]).get(url).status_code == 404
    source = harvested["table"].data_source
    assert client_for(harvested["stranger"]).get(f"/catalog/sources/{source.pk}/").status_code == 404


def test_owner_classifies_a_column_and_the_level_follows_the_type(harvested):
    column = Column.objects.get(table=harvested["table"], name="mobile")
    mobile = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    response = client_for(harvested["owner"]).post(
        f"/catalog/columns/{column.pk}/classify/", {"classification": str(mobile.pk), "sensitivity_level": ""}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#column-{column.pk}")
    column.refresh_from_db()
    assert column.classification == mobile and column.sensitivity_level == mobile.default_level


def test_member_cannot_classify_and_nothing_changes(harvested):
    column = Column.objects.get(table=harvested["table"], name="mobile")
    mobile = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    response = client_for(harvested["member"]).post(
        f"/catalog/columns/{column.pk}/classify/", {"classification": str(mobile.pk), "sensitivity_level": "5"}
    )
    assert response.status_code == 403 and "security administrators" in response.content.decode()
    column.refresh_from_db()
    assert column.classification is None and column.sensitivity_level is None


def test_bad_level_is_a_readable_message_and_changes_nothing(harvested):
    column = Column.objects.get(table=harvested["table"], name="mobile")
    response = client_for(harvested["owner"]).post(
        f"/catalog/columns/{column.pk}/classify/", {"classification": "", "sensitivity_level": "12"}, follow=True
    )
    assert "Select a valid choice" in response.content.decode()
    column.refresh_from_db()
    assert column.sensitivity_level is None


def test_harvest_button_queues_a_run_and_the_run_page_shows_progress(harvested):
    source = harvested["table"].data_source
    client = client_for(harvested["owner"])
    response = client.post(f"/catalog/sources/{source.pk}/harvest/")
    run = HarvestRun.objects.filter(data_source=source).order_by("-id").first()
    assert response.status_code == 302 and response["Location"] == f"/catalog/harvests/{run.pk}/"
    queued = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in queued and "Waiting for a worker" in queued

    harvest_run_execute(run_id=run.pk)
    fragment = client.get(f"/catalog/harvests/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment and "100%" in fragment and "Nothing changed" in fragment


def test_member_cannot_start_a_harvest(harvested):
    source = harvested["table"].data_source
    response = client_for(harvested["member"]).post(f"/catalog/sources/{source.pk}/harvest/")
    assert response.status_code == 403
    assert HarvestRun.objects.filter(data_source=source).count() == 1


def test_change_list_shows_added_and_dropped_columns(harvested, warehouse_sql):
    schema = harvested["project"].schema_name
    warehouse_sql(f"ALTER TABLE {schema}.customers ADD COLUMN email text",
                  f"ALTER TABLE {schema}.customers DROP COLUMN mobile")
    run = harvest_now(harvested["owner"], harvested["table"].data_source)
    page = client_for(harvested["owner"]).get(f"/catalog/harvests/{run.pk}/").content.decode()
    assert "customers.email" in page and "customers.mobile" in page
    assert ">added<" in page and ">dropped<" in page
    assert "Columns added: 1" in page and "Columns dropped: 1" in page


def test_register_form_tests_the_connection_without_saving_or_echoing_the_password(harvested):
    response = client_for(harvested["owner"]).post("/catalog/sources/new/", {
        "project": harvested["project"].name, "kind": "postgresql", "name": "nowhere", "host": "127.0.0.1",
        "port": "1", "database": "x", "username": "u", "password": "hunter2-secret", "tls_mode": "disable",
        "harvest_schedule": "manual", "action": "test",
    })
    page = response.content.decode()
    assert response.status_code == 200 and 'id="connection-check"' in page
    assert "hunter2-secret" not in page
    assert not DataSource.objects.filter(name="nowhere").exists()


def test_register_form_saves_a_source(harvested):
    response = client_for(harvested["owner"]).post("/catalog/sources/new/", {
        "project": harvested["project"].name, "kind": "mysql", "name": "shop", "host": "db.example.internal",
        "port": "", "database": "shop", "username": "reader", "password": "pw", "tls_mode": "require",
        "harvest_schedule": "daily", "action": "save",
    })
    source = DataSource.objects.get(name="shop")
    assert response.status_code == 302 and response["Location"] == f"/catalog/sources/{source.pk}/"
    assert source.port == 3306 and source.has_password


def test_member_gets_403_on_the_register_form(harvested):
    assert client_for(harvested["member"]).get("/catalog/sources/new/").status_code == 403


def test_unharvested_project_offers_its_warehouse_harvest(warehouse_sql):
    owner = make_owner()
    project = make_project(owner)
    page = client_for(owner).get("/catalog/").content.decode()
    assert f"/catalog/projects/{project.name}/harvest/" in page
    response = client_for(owner).post(f"/catalog/projects/{project.name}/harvest/")
    run = HarvestRun.objects.get(data_source__project=project)
    assert response["Location"] == f"/catalog/harvests/{run.pk}/"
    stranger = make_owner()
    assert client_for(stranger).post(f"/catalog/projects/{project.name}/harvest/").status_code == 404


def test_table_page_draws_lineage_and_flags_a_less_sensitive_copy(harvested, warehouse_sql):
    owner, project = harvested["owner"], harvested["project"]
    warehouse_sql(f"CREATE TABLE {project.schema_name}.contact_copy (mobile varchar(20))")
    harvest_now(owner, harvested["table"].data_source)
    copy = Table.objects.get(data_source__project=project, name="contact_copy")
    mobile = Column.objects.get(table=harvested["table"], name="mobile")
    mobile_type = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    services.column_classify(actor=owner, column=mobile, classification=mobile_type)
    lineage.lineage_edge_create(actor=owner, source_column=mobile,
                                target_column=Column.objects.get(table=copy, name="mobile"))

    page = client_for(owner).get(f"/catalog/tables/{copy.pk}/").content.decode()
    assert "<svg" in page and f'href="/catalog/tables/{harvested["table"].pk}/"' in page
    assert 'id="sensitivity-flags"' in page and f"L{mobile_type.default_level}" in page
    upstream_page = client_for(owner).get(f"/catalog/tables/{harvested['table'].pk}/").content.decode()
    assert f'href="/catalog/tables/{copy.pk}/"' in upstream_page and 'id="sensitivity-flags"' not in upstream_page


def test_lineage_drawing_puts_upstream_left_and_downstream_right():
    graph = lineage.LineageGraph(root="table:2", direction="both", depth=3, nodes=[
        {"id": "table:1", "kind": "table", "table": 1, "name": "raw", "qualified_name": "p.raw", "project": "p",
         "is_dropped": False, "distance": -1},
        {"id": "table:2", "kind": "table", "table": 2, "name": "clean", "qualified_name": "p.clean", "project": "p",
         "is_dropped": False, "distance": 0},
        {"id": "table:3", "kind": "table", "table": 3, "name": "report", "qualified_name": "p.report", "project": "p",
         "is_dropped": True, "distance": 1},
        {"id": "table:4", "kind": "table", "table": 4, "name": "export", "qualified_name": "p.export", "project": "p",
         "is_dropped": False, "distance": 1},
    ], edges=[{"source": "table:1", "target": "table:2", "columns": [{"source": "a", "target": "b"}]},
              {"source": "table:2", "target": "table:3", "columns": []},
              {"source": "table:2", "target": "table:4", "columns": []}])
    drawing = lineage_drawing(graph)
    x = {node.label: node.x for node in drawing.nodes}
    assert x["raw"] < x["clean"] < x["report"] == x["export"]
    ys = {node.label: node.y for node in drawing.nodes}
    assert ys["report"] != ys["export"]
    assert [node.is_root for node in drawing.nodes].count(True) == 1
    assert drawing.edges[0].title == "raw → clean (a → b)"
    assert drawing.width >= x["export"] + 190 and drawing.height >= max(ys.values()) + 34


def test_search_page_finds_a_visible_table_with_facets_and_hides_it_from_other_tenants(harvested):
    owner, table = harvested["owner"], harvested["table"]
    page = client_for(owner).get("/catalog/search/", {"q": "custmers"}).content.decode()  # a typo
    assert f'href="/catalog/tables/{table.pk}/"' in page and 'id="facets"' in page
    assert harvested["project"].name in page
    other = client_for(harvested["stranger"]).get("/catalog/search/", {"q": "customers"}).content.decode()
    assert f'href="/catalog/tables/{table.pk}/"' not in other and "Nothing found" in other


def test_search_page_filters_by_level_and_explains_bad_input(harvested):
    owner, table = harvested["owner"], harvested["table"]
    mobile = Column.objects.get(table=table, name="mobile")
    services.column_classify(actor=owner, column=mobile, sensitivity_level=5)
    page = client_for(owner).get("/catalog/search/", {"q": "mobile", "level": "5"}).content.decode()
    assert f"#column-{mobile.pk}" in page and "L5" in page
    bad = client_for(owner).get("/catalog/search/", {"q": "x", "level": "12"}, follow=True).content.decode()
    assert "Level:" in bad and "less than or equal to 9" in bad


def test_owner_edits_table_metadata_from_the_page(harvested):
    owner, member, table = harvested["owner"], harvested["member"], harvested["table"]
    category = vocabulary.category_create(actor=owner, name="Sales")
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")
    page = client_for(owner).get(f"/catalog/tables/{table.pk}/").content.decode()
    assert 'id="edit-metadata"' in page and "Sales" in page and "Customer" in page
    response = client_for(owner).post(f"/catalog/tables/{table.pk}/metadata/", {
        "description": "Buyers of the shop", "owner": member.username, "stewards": [owner.username],
        "categories": [str(category.pk)], "terms": [str(term.pk)], "tags": "pii, crm",
    })
    assert response.status_code == 302
    table.refresh_from_db()
    assert table.description == "Buyers of the shop" and table.owner == member
    assert list(table.stewards.all()) == [owner]
    assert [c.path for c in table.categories.all()] == ["Sales"] and [t.name for t in table.terms.all()] == ["Customer"]
    assert sorted(tag.name for tag in table.tags.all()) == ["crm", "pii"]


def test_member_sees_no_edit_form_and_cannot_post_one(harvested):
    member, table = harvested["member"], harvested["table"]
    assert 'id="edit-metadata"' not in client_for(member).get(f"/catalog/tables/{table.pk}/").content.decode()
    response = client_for(member).post(f"/catalog/tables/{table.pk}/metadata/", {"description": "mine now"})
    assert response.status_code == 403
    table.refresh_from_db()
    assert table.description == ""


def test_metadata_form_refuses_a_non_member_owner_and_changes_nothing(harvested):
    owner, table, stranger = harvested["owner"], harvested["table"], harvested["stranger"]
    response = client_for(owner).post(f"/catalog/tables/{table.pk}/metadata/",
                                      {"description": "x", "owner": stranger.username}, follow=True)
    assert f"Not a member of project {harvested['project'].name}" in response.content.decode()
    table.refresh_from_db()
    assert table.description == "" and table.owner is None
