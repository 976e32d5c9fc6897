"""Catalog search: relevance, typo tolerance, filters and facets, who sees what, and the
documents following harvests."""

import pytest

from apps.catalog import services
from apps.catalog.models import Category, Column, GlossaryTerm, SearchDocument, SensitiveType, Table, Tag
from apps.catalog.search import SearchFilters, catalog_search, search_documents_refresh
from tests.catalog.factories import harvest_now
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def searchable(warehouse_sql):
    """A harvested project: customers (with a classified mobile column), orders (whose
    description talks about customers), a tagged table and a categorized one."""
    owner = make_owner()
    project = make_project(owner)
    schema = project.schema_name
    warehouse_sql(
        f"CREATE TABLE {schema}.customers (id bigint PRIMARY KEY, full_name text, mobile varchar(20), email text)",
        f"COMMENT ON TABLE {schema}.customers IS 'Everyone who ever bought'",
        f"COMMENT ON COLUMN {schema}.customers.mobile IS 'Mobile phone, E.164'",
        f"CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_ref bigint, amount numeric(12, 2))",
        f"COMMENT ON TABLE {schema}.orders IS 'Purchases, one row per order; joins to the customers table'",
        f"CREATE TABLE {schema}.ledger (id bigint, balance numeric)",
        f"CREATE TABLE {schema}.invoices (id bigint, total numeric)",
    )
    data_source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, data_source)
    tables = {t.name: t for t in Table.objects.filter(data_source=data_source)}
    mobile = Column.objects.get(table=tables["customers"], name="mobile")
    services.column_classify(actor=owner, column=mobile,
                             classification=SensitiveType.objects.get(tenant=None, code="mobile_phone"))
    tag = Tag.objects.create(tenant=owner.tenant, name="gdpr")
    tables["ledger"].tags.add(tag)
    term = GlossaryTerm.objects.create(tenant=owner.tenant, name="Revenue", synonyms=["turnover"])
    tables["invoices"].terms.add(term)
    finance = Category.objects.create(tenant=owner.tenant, name="Finance", path="Finance")
    payments = Category.objects.create(tenant=owner.tenant, parent=finance, name="Payments", path="Finance/Payments")
    tables["invoices"].categories.add(payments)
    tables["invoices"].owner = owner
    tables["invoices"].save(update_fields=["owner"])
    search_documents_refresh(tables=tables.values())
    return owner, project, data_source, tables


def _names(result):
    return [(hit.document.kind, hit.document.table_name, hit.document.name) for hit in result.hits]


def test_exact_table_name_beats_a_description_mention(searchable):
    owner, *_ = searchable
    result = catalog_search(user=owner, q="customers")
    names = _names(result)
    assert names[0] == ("table", "customers", "customers")
    assert ("table", "orders", "orders") in names  # found by its description, ranked lower
    assert names.index(("table", "orders", "orders")) > 0
    orders = next(hit for hit in result.hits if hit.document.name == "orders")
    start, end = orders.highlights[0]
    assert orders.snippet[start:end].lower() == "customers"


def test_a_typo_still_finds_the_table(searchable):
    owner, *_ = searchable
    result = catalog_search(user=owner, q="custmer")
    assert _names(result)[0] == ("table", "customers", "customers")


def test_prefix_and_qualified_names(searchable):
    owner, project, *_ = searchable
    assert _names(catalog_search(user=owner, q="cust"))[0] == ("table", "customers", "customers")
    hits = _names(catalog_search(user=owner, q="customers.mobile"))
    assert hits[0] == ("column", "customers", "mobile")
    hits = _names(catalog_search(user=owner, q=f"{project.schema_name}.orders"))
    assert hits[0] == ("table", "orders", "orders")


def test_tags_terms_and_classifications_are_searchable(searchable):
    owner, *_ = searchable
    assert ("table", "ledger", "ledger") in _names(catalog_search(user=owner, q="gdpr"))
    assert _names(catalog_search(user=owner, q="turnover")) == [("table", "invoices", "invoices")]
    phone = _names(catalog_search(user=owner, q="mobile phone"))
    assert ("column", "customers", "mobile") in phone
    personal = _names(catalog_search(user=owner, q="personal", filters=SearchFilters(kind="column")))
    assert personal == [("column", "customers", "mobile")]


def test_filters_and_facets(searchable):
    owner, project, data_source, tables = searchable
    mobile_phone = SensitiveType.objects.get(tenant=None, code="mobile_phone")

    result = catalog_search(user=owner, q="", filters=SearchFilters(level=5))
    assert sorted(_names(result)) == [("column", "customers", "mobile"), ("table", "customers", "customers")]
    assert {(f["value"], f["count"]) for f in result.facets["level"]} == {(5, 2)}
    assert result.facets["sensitive_type"] == [{"value": mobile_phone.pk, "label": "Mobile phone", "count": 2}]

    typed = catalog_search(user=owner, filters=SearchFilters(sensitive_type=mobile_phone.pk, kind="column"))
    assert _names(typed) == [("column", "customers", "mobile")]

    finance = Category.objects.get(tenant=owner.tenant, path="Finance")
    in_finance = catalog_search(user=owner, filters=SearchFilters(category=finance.pk))
    assert {hit.document.table_name for hit in in_finance.hits} == {"invoices"}
    assert in_finance.count == 3  # the table and its two columns
    assert in_finance.facets["category"][0]["label"] == "Finance/Payments"

    owned = catalog_search(user=owner, filters=SearchFilters(owner=owner.pk, kind="table"))
    assert _names(owned) == [("table", "invoices", "invoices")]
    assert owned.facets["owner"] == [{"value": owner.pk, "label": owner.username, "count": 1}]

    everything = catalog_search(user=owner, q="id")
    assert everything.facets["project"] == [{"value": project.pk, "label": project.name, "count": everything.count}]
    assert everything.facets["data_source"][0]["value"] == data_source.pk
    assert catalog_search(user=owner, q="id", filters=SearchFilters(project=project.name)).count == everything.count


def test_pagination_counts_every_match(searchable):
    owner, *_ = searchable
    first = catalog_search(user=owner, q="id", page=1, page_size=2)
    second = catalog_search(user=owner, q="id", page=2, page_size=2)
    assert first.count == second.count == 4  # the id column of each table
    assert len(first.hits) == len(second.hits) == 2
    assert not {h.document.pk for h in first.hits} & {h.document.pk for h in second.hits}


def test_other_tenants_and_non_members_see_nothing(searchable):
    owner, project, *_ = searchable
    stranger = make_owner()
    make_project(stranger)
    colleague = make_subaccount(owner)  # same tenant, not a member of the project
    for user in (stranger, colleague):
        assert catalog_search(user=user, q="customers").count == 0
        assert catalog_search(user=user).hits == []
        with pytest.raises(Exception) as error:
            catalog_search(user=user, filters=SearchFilters(project=project.name))
        assert "project" in error.value.message_dict


def test_a_member_sees_the_project(searchable):
    owner, project, *_ = searchable
    from apps.tenancy import services as tenancy_services

    member = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=member)
    assert _names(catalog_search(user=member, q="customers"))[0] == ("table", "customers", "customers")


def test_harvest_keeps_documents_in_step(searchable, warehouse_sql):
    owner, project, data_source, _ = searchable
    schema = project.schema_name
    warehouse_sql(
        f"ALTER TABLE {schema}.customers ADD COLUMN loyalty_tier text",
        f"ALTER TABLE {schema}.customers DROP COLUMN email",
        f"DROP TABLE {schema}.ledger",
        f"CREATE TABLE {schema}.shipments (id bigint, carrier text)",
    )
    harvest_now(owner, data_source)

    assert _names(catalog_search(user=owner, q="loyalty_tier")) == [("column", "customers", "loyalty_tier")]
    assert ("table", "shipments", "shipments") in _names(catalog_search(user=owner, q="shipments"))
    assert catalog_search(user=owner, q="ledger").count == 0
    assert catalog_search(user=owner, q="email", filters=SearchFilters(kind="column")).count == 0
    dropped = catalog_search(user=owner, q="ledger", filters=SearchFilters(include_dropped=True))
    assert [hit.document.is_dropped for hit in dropped.hits] == [True, True, True]
    assert SearchDocument.objects.filter(table__data_source=data_source, kind="table").count() == 5


def test_refresh_follows_edits(searchable):
    owner, _, _, tables = searchable
    orders = tables["orders"]
    orders.description = "Settled through the acquirer"
    orders.save(update_fields=["description"])
    assert catalog_search(user=owner, q="acquirer").count == 0
    search_documents_refresh(tables=[orders.pk])
    assert _names(catalog_search(user=owner, q="acquirer")) == [("table", "orders", "orders")]


def test_refresh_for_columns_updates_their_tables(searchable):
    owner, _, _, tables = searchable
    amount = Column.objects.get(table=tables["orders"], name="amount")
    Column.objects.filter(pk=amount.pk).update(description="Gross merchandise value")
    from apps.catalog.search import search_documents_refresh_for_columns

    assert search_documents_refresh_for_columns(columns=[amount]) == 1
    assert _names(catalog_search(user=owner, q="merchandise")) == [("column", "orders", "amount")]
