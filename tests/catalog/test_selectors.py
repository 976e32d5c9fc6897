"""Catalog reads: scoped to what the reader may see, dropped objects on request only."""

import pytest

from apps.catalog import selectors, services
from apps.catalog.models import Table
from apps.tenancy import services as tenancy_services
from tests.catalog.factories import harvest_now
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def harvested(warehouse_sql):
    owner = make_owner()
    project = make_project(owner)
    warehouse_sql(f"CREATE TABLE {project.schema_name}.kept (id bigint, email text)",
                  f"CREATE TABLE {project.schema_name}.gone (id bigint)")
    source = services.warehouse_source_ensure(project=project)
    harvest_now(owner, source)
    warehouse_sql(f"DROP TABLE {project.schema_name}.gone")
    harvest_now(owner, source)
    return owner, project, source


def test_tables_hide_dropped_ones_unless_asked(harvested):
    owner, _, source = harvested
    assert [t.name for t in selectors.table_list(user=owner, data_source=source)] == ["kept"]
    assert [t.name for t in selectors.table_list(user=owner, data_source=source, include_dropped=True)] == [
        "gone", "kept"]


def test_table_get_brings_its_columns_in_order(harvested, django_assert_num_queries):
    owner, _, source = harvested
    kept = Table.objects.get(data_source=source, name="kept")
    table = selectors.table_get(user=owner, pk=kept.pk)
    with django_assert_num_queries(0):
        assert [c.name for c in table.columns.all()] == ["id", "email"]
        assert table.data_source.project.name == source.project.name


def test_members_read_the_catalog_and_strangers_see_nothing(harvested):
    owner, project, source = harvested
    member = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=member)
    outsider_same_tenant = make_subaccount(owner)
    stranger = make_owner()

    assert selectors.table_list(user=member).count() == 1
    assert selectors.harvest_run_list(user=member, data_source=source).count() == 2
    for user in (outsider_same_tenant, stranger):
        assert not selectors.table_list(user=user, include_dropped=True).exists()
        assert not selectors.harvest_run_list(user=user).exists()
        with pytest.raises(Table.DoesNotExist):
            selectors.table_get(user=user, pk=Table.objects.get(data_source=source, name="kept").pk)
    assert selectors.sensitive_type_list(user=stranger).filter(code="bank_card").exists()
