"""Search follows the edits of the vocabulary and metadata services, in their transaction."""

import pytest

from apps.catalog import services, vocabulary
from apps.catalog.models import Column, SensitiveType, Table
from apps.catalog.search import catalog_search
from tests.catalog.factories import harvest_now
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def catalog(warehouse_sql):
    owner = make_owner()
    project = make_project(owner)
    warehouse_sql(f"CREATE TABLE {project.schema_name}.shipments (id bigint, recipient text)")
    harvest_now(owner, services.warehouse_source_ensure(project=project))
    table = Table.objects.get(data_source__project=project, name="shipments")
    return owner, table, Column.objects.get(table=table, name="recipient")


def _tables_found(owner, q):
    return {hit.document.table_name for hit in catalog_search(user=owner, q=q).hits}


def test_table_description_and_tags_are_searchable_right_after_the_edit(catalog):
    owner, table, _ = catalog
    assert "shipments" not in _tables_found(owner, "parcels")
    vocabulary.table_metadata_update(actor=owner, table=table, description="Parcels sent abroad",
                                     tags=["logistics"])
    assert "shipments" in _tables_found(owner, "parcels")
    assert "shipments" in _tables_found(owner, "logistics")


def test_a_renamed_term_and_a_deleted_tag_change_what_is_found(catalog):
    owner, table, column = catalog
    term = vocabulary.glossary_term_create(actor=owner, name="Consignee")
    vocabulary.column_metadata_update(actor=owner, column=column, terms=[term], tags=["pii"])
    assert "shipments" in _tables_found(owner, "consignee")
    vocabulary.glossary_term_update(actor=owner, term=term, name="Addressee")
    assert "shipments" in _tables_found(owner, "addressee")
    assert "shipments" not in _tables_found(owner, "consignee")
    tag = column.tags.get(name="pii")
    vocabulary.tag_delete(actor=owner, tag=tag)
    assert "shipments" not in _tables_found(owner, "pii")


def test_classifying_a_column_makes_its_type_searchable(catalog):
    owner, _, column = catalog
    passport = SensitiveType.objects.get(tenant__isnull=True, code="passport")
    services.column_classify(actor=owner, column=column, classification=passport)
    hits = catalog_search(user=owner, q="passport").hits
    assert any(hit.document.kind == "column" and hit.document.name == "recipient" for hit in hits)
