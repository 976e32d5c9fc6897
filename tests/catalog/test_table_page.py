"""The table page: editing a column's description, terms and tags; the lineage picture's
depth and direction; lineage edges entered and removed by hand; the places kept for later."""

import pytest

from apps.audit.models import Event
from apps.catalog import hooks, lineage, services, views, vocabulary
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import Column, LineageEdge, LineageOrigin, Table
from apps.tenancy import services as tenancy_services
from tests.factories import client_for, make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

EXTRA_COLUMNS = ", ".join(f"c{n} text" for n in range(1, 9))


@pytest.fixture
def world(warehouse_sql):
    """A project with customers (ten columns), orders and three more tables for lineage
    chains, a plain member, a member who owns customers, and a stranger of another tenant."""
    owner = make_owner()
    project = make_project(owner)
    schema = project.schema_name
    warehouse_sql(
        f"CREATE TABLE {schema}.customers (id bigint PRIMARY KEY, mobile varchar(20), {EXTRA_COLUMNS})",
        f"CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, mobile varchar(20))",
        f"CREATE TABLE {schema}.raw (id bigint)",
        f"CREATE TABLE {schema}.report (id bigint)",
        f"CREATE TABLE {schema}.export (id bigint)",
    )
    run = services.project_harvest_start(actor=owner, project=project)
    harvest_run_execute(run_id=run.pk)
    member, table_owner = make_subaccount(owner), make_subaccount(owner)
    for user in (member, table_owner):
        tenancy_services.member_add(actor=owner, project=project, user=user)
    tables = {table.name: table for table in Table.objects.filter(data_source__project=project)}
    vocabulary.table_metadata_update(actor=owner, table=tables["customers"], owner=table_owner)
    return {"owner": owner, "project": project, "member": member, "table_owner": table_owner,
            "stranger": make_owner(), "tables": tables, "customers": tables["customers"],
            "mobile": Column.objects.get(table=tables["customers"], name="mobile")}


def page_of(user, table, **params) -> str:
    response = client_for(user).get(f"/catalog/tables/{table.pk}/", params)
    assert response.status_code == 200
    return response.content.decode()


def svg_of(page: str) -> str:
    return page[page.index("<svg"):page.index("</svg>")]


# --- column metadata ------------------------------------------------------------------------

@pytest.mark.parametrize("editor", ["owner", "table_owner"])
def test_admin_and_table_owner_edit_a_column_and_the_change_is_audited(world, editor):
    term = vocabulary.glossary_term_create(actor=world["owner"], name="Contact number")
    column = world["mobile"]
    assert f'id="column-metadata-{column.pk}"' in page_of(world[editor], world["customers"])

    response = client_for(world[editor]).post(f"/catalog/columns/{column.pk}/metadata/", {
        "description": "Where we text the customer", "terms": [str(term.pk)], "tags": "pii, contact",
    })

    assert response.status_code == 302 and response["Location"].endswith(f"#column-{column.pk}")
    column.refresh_from_db()
    assert column.description == "Where we text the customer"
    assert [t.name for t in column.terms.all()] == ["Contact number"]
    assert sorted(tag.name for tag in column.tags.all()) == ["contact", "pii"]
    event = Event.objects.get(action="catalog.column.metadata_update", target_id=str(column.pk))
    assert event.actor_id == world[editor].pk
    assert event.details["terms"] == {"from": [], "to": ["Contact number"]}


def test_everyone_sees_column_terms_and_tags_but_only_editors_get_the_form(world):
    term = vocabulary.glossary_term_create(actor=world["owner"], name="Contact number")
    vocabulary.column_metadata_update(actor=world["owner"], column=world["mobile"], terms=[term], tags=["pii"])
    page = page_of(world["member"], world["customers"])
    row = page[page.index(f'id="column-{world["mobile"].pk}"'):]
    row = row[:row.index("</tr>")]
    assert "Contact number" in row and "#pii" in row
    assert "column-metadata-" not in page


def test_plain_member_cannot_edit_a_column_and_nothing_changes(world):
    column = world["mobile"]
    response = client_for(world["member"]).post(f"/catalog/columns/{column.pk}/metadata/",
                                                {"description": "mine now", "tags": "x"})
    assert response.status_code == 403 and "edit its metadata" in response.content.decode()
    column.refresh_from_db()
    assert column.description == "" and not column.tags.exists()
    assert not Event.objects.filter(action="catalog.column.metadata_update").exists()


def test_stranger_gets_404_for_a_column_of_another_tenant(world):
    response = client_for(world["stranger"]).post(f"/catalog/columns/{world['mobile'].pk}/metadata/",
                                                  {"description": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize("term_id", ["not-a-number", "other-tenant"])
def test_bad_term_is_a_readable_message_and_changes_nothing(world, term_id):
    if term_id == "other-tenant":
        term_id = str(vocabulary.glossary_term_create(actor=world["stranger"], name="Theirs").pk)
    column = world["mobile"]
    response = client_for(world["owner"]).post(f"/catalog/columns/{column.pk}/metadata/",
                                               {"description": "changed", "terms": [term_id]}, follow=True)
    page = response.content.decode()
    assert "Terms: " in page and ("No such glossary term." in page or "Choose from the list." in page)
    column.refresh_from_db()
    assert column.description == ""


def test_table_page_queries_stay_bounded_with_ten_tagged_columns(world, django_assert_max_num_queries, monkeypatch):
    # The catalog's own queries: the permissions app's "who has access" panel has its own
    # bound (tests/permissions/test_security_pages.py).
    monkeypatch.setattr(hooks, "table_access_panels", [])
    owner, customers = world["owner"], world["customers"]
    terms = [vocabulary.glossary_term_create(actor=owner, name=f"Term {n}") for n in range(3)]
    columns = list(customers.columns.all())
    assert len(columns) == 10
    for column in columns:
        vocabulary.column_metadata_update(actor=owner, column=column, terms=terms, tags=[f"tag{column.pk}", "shared"])
    orders_mobile = Column.objects.get(table=world["tables"]["orders"], name="mobile")
    lineage.lineage_edge_create(actor=owner, source_column=world["mobile"], target_column=orders_mobile)
    lineage.lineage_edge_create(actor=owner, source_table=world["tables"]["raw"], target_table=customers)

    client = client_for(owner)
    # A few queries of slack; fetching terms and tags per column would add twenty.
    with django_assert_max_num_queries(33):
        page = client.get(f"/catalog/tables/{customers.pk}/").content.decode()
    assert page.count('title="Glossary term">Term 2<') == 10


# --- lineage ------------------------------------------------------------------------------------

def test_owner_adds_a_table_level_edge_from_an_upstream_table(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    page = page_of(world["owner"], customers)
    assert 'id="add-lineage"' in page and f'<option value="{orders.pk}">' in page

    response = client_for(world["owner"]).post(f"/catalog/tables/{customers.pk}/lineage/",
                                               {"direction": "upstream", "other_table": str(orders.pk)})

    assert response.status_code == 302 and response["Location"].endswith("#lineage-section")
    edge = LineageEdge.objects.get(source_table=orders, target_table=customers)
    assert edge.source_column is None and edge.origin == LineageOrigin.MANUAL and edge.created_by == world["owner"]
    assert Event.objects.filter(action="catalog.lineage_edge_create", target_id=str(edge.pk)).exists()
    page = page_of(world["member"], customers)
    assert f'id="lineage-edge-{edge.pk}"' in page and "Entered by hand" in page
    assert f'href="/catalog/tables/{orders.pk}/"' in svg_of(page)


def test_owner_adds_column_level_edges_to_a_downstream_table(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    customers_id = Column.objects.get(table=customers, name="id")
    response = client_for(world["owner"]).post(f"/catalog/tables/{customers.pk}/lineage/", {
        "direction": "downstream", "other_table": str(orders.pk),
        "this_column": [str(world["mobile"].pk), str(customers_id.pk), ""], "other_column": ["mobile", "id", ""],
    }, follow=True)

    assert "Lineage 2 column edges with" in response.content.decode()
    pairs = {(edge.source_column.name, edge.target_column.name)
             for edge in LineageEdge.objects.filter(source_table=customers, target_table=orders)}
    assert pairs == {("mobile", "mobile"), ("id", "id")}


def test_a_refused_column_pair_leaves_no_edge_behind(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    orders_mobile = Column.objects.get(table=orders, name="mobile")
    existing = lineage.lineage_edge_create(actor=world["owner"], source_column=world["mobile"],
                                           target_column=orders_mobile)
    customers_id = Column.objects.get(table=customers, name="id")
    response = client_for(world["owner"]).post(f"/catalog/tables/{customers.pk}/lineage/", {
        "direction": "downstream", "other_table": str(orders.pk),
        "this_column": [str(customers_id.pk), str(world["mobile"].pk)], "other_column": ["id", "mobile"],
    }, follow=True)

    assert "This edge already exists" in response.content.decode()
    assert list(LineageEdge.objects.all()) == [existing]


def test_half_a_column_pair_or_an_unknown_column_is_a_readable_message(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    url = f"/catalog/tables/{customers.pk}/lineage/"
    half = client_for(world["owner"]).post(url, {"direction": "upstream", "other_table": str(orders.pk),
                                                 "this_column": [str(world["mobile"].pk)], "other_column": [""]},
                                           follow=True)
    assert "Give both columns of a pair, or neither." in half.content.decode()
    unknown = client_for(world["owner"]).post(url, {"direction": "upstream", "other_table": str(orders.pk),
                                                    "this_column": [str(world["mobile"].pk)],
                                                    "other_column": ["phone"]}, follow=True)
    assert f"{orders.qualified_name} has no column phone." in unknown.content.decode()
    assert not LineageEdge.objects.exists()


def test_many_tables_ask_for_a_qualified_name_resolved_on_the_server(world, monkeypatch):
    monkeypatch.setattr(views, "LINEAGE_TABLE_CHOICES_MAX", 2)
    customers, orders = world["customers"], world["tables"]["orders"]
    page = page_of(world["owner"], customers)
    assert 'name="other_table_name"' in page and 'name="other_table"' not in page
    url = f"/catalog/tables/{customers.pk}/lineage/"

    unknown = client_for(world["owner"]).post(url, {"direction": "upstream", "other_table_name": "nowhere.orders"},
                                              follow=True)
    assert "No table nowhere.orders that you may see; write it as schema.table." in unknown.content.decode()
    assert not LineageEdge.objects.exists()

    client_for(world["owner"]).post(url, {"direction": "upstream", "other_table_name": orders.qualified_name})
    assert LineageEdge.objects.filter(source_table=orders, target_table=customers).exists()


def test_a_table_of_another_tenant_reads_like_an_unknown_one(world):
    theirs = make_project(world["stranger"])
    response = client_for(world["owner"]).post(f"/catalog/tables/{world['customers'].pk}/lineage/", {
        "direction": "upstream", "other_table_name": f"{theirs.schema_name}.customers"}, follow=True)
    assert "that you may see" in response.content.decode()
    assert client_for(world["stranger"]).post(f"/catalog/tables/{world['customers'].pk}/lineage/", {
        "direction": "upstream", "other_table": str(world["tables"]["orders"].pk)}).status_code == 404
    assert not LineageEdge.objects.exists()


def test_plain_member_cannot_add_an_edge_and_nothing_changes(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    assert 'id="add-lineage"' not in page_of(world["member"], customers)
    response = client_for(world["member"]).post(f"/catalog/tables/{customers.pk}/lineage/",
                                                {"direction": "upstream", "other_table": str(orders.pk)})
    assert response.status_code == 403 and "change its lineage" in response.content.decode()
    assert not LineageEdge.objects.exists()


def test_owner_removes_an_edge_and_a_member_may_not(world):
    customers, orders = world["customers"], world["tables"]["orders"]
    edge = lineage.lineage_edge_create(actor=world["owner"], source_table=orders, target_table=customers)
    url = f"/catalog/lineage/{edge.pk}/delete/"
    member_page = page_of(world["member"], customers)
    assert f'action="{url}"' not in member_page

    refused = client_for(world["member"]).post(url, {"table": str(customers.pk)})
    assert refused.status_code == 403 and LineageEdge.objects.filter(pk=edge.pk).exists()
    assert client_for(world["stranger"]).post(url).status_code == 404

    assert f'action="{url}"' in page_of(world["owner"], customers)
    response = client_for(world["owner"]).post(url, {"table": str(orders.pk)})
    assert response["Location"] == f"/catalog/tables/{orders.pk}/#lineage-section"
    assert not LineageEdge.objects.filter(pk=edge.pk).exists()
    assert Event.objects.filter(action="catalog.lineage_edge_delete", target_id=str(edge.pk)).exists()


def test_depth_and_direction_choose_what_the_picture_shows(world):
    """raw → customers → orders → report → export."""
    tables = world["tables"]
    chain = [tables[name] for name in ("raw", "customers", "orders", "report", "export")]
    for source, target in zip(chain, chain[1:], strict=False):
        lineage.lineage_edge_create(actor=world["owner"], source_table=source, target_table=target)

    def drawn(**params) -> set[str]:
        svg = svg_of(page_of(world["member"], tables["customers"], **params))
        return {name for name, table in tables.items() if f'href="/catalog/tables/{table.pk}/"' in svg}

    assert drawn() == {"raw", "customers", "orders", "report"}  # two levels each way by default
    assert drawn(depth="3") == {"raw", "customers", "orders", "report", "export"}
    assert drawn(depth="1", direction="downstream") == {"customers", "orders"}
    assert drawn(depth="5", direction="upstream") == {"raw", "customers"}


def test_bad_depth_or_direction_is_explained_and_the_defaults_apply(world):
    page = page_of(world["member"], world["customers"], depth="9", direction="sideways")
    assert "Depth: use a whole number from 1 to 5." in page
    assert "Direction: choose one of both, upstream, downstream." in page
    assert '<option value="2" selected>' in page and '<option value="both" selected>' in page


def test_places_for_recent_access_and_preview_show_no_data_yet(world):
    page = page_of(world["member"], world["customers"])
    for section_id, title in (("recent-access", "Recent access"), ("preview", "Data preview (masked)")):
        section = page[page.index(f'id="{section_id}"'):]
        section = section[:section.index("</section>")]
        assert title in section and "text-muted" in section
        assert "<table" not in section and "<li" not in section
    assert page.index('id="lineage-section"') < page.index('id="access"')
