"""column_masks: which columns a reader sees masked, by which rule, and what lifts a mask."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.masking.selectors import ColumnMask, column_masks
from tests.factories import make_owner, make_project
from tests.masking.factories import (
    ANY_ALGORITHM,
    TEXT_ALGORITHM,
    MaskingRuleFactory,
    UnmaskGrantFactory,
    make_customers,
    make_masking_world,
)

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_masking_world()


def masks_of(world, user=None, at=None) -> dict[str, ColumnMask]:
    return column_masks(user=user or world.carol, tables=[world.customers], at=at)[world.customers.pk]


def test_unclassified_columns_without_rules_are_not_masked(world):
    MaskingRuleFactory.for_type("national_id", tenant=world.tenant)

    assert masks_of(world) == {}


def test_a_tenant_rule_masks_every_column_of_its_type(world):
    rule = MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)

    assert masks_of(world) == {"mobile": ColumnMask(TEXT_ALGORITHM, {}, rule.pk, rule.name, "tenant")}


def test_a_project_rule_beats_the_tenant_rule_for_the_same_type(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    project_rule = MaskingRuleFactory.for_type("mobile_phone", project=world.project, algorithm=ANY_ALGORITHM)

    mask = masks_of(world)["mobile"]

    assert (mask.rule_id, mask.scope, mask.algorithm) == (project_rule.pk, "project", ANY_ALGORITHM)


def test_a_column_rule_beats_the_project_and_tenant_rules(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    MaskingRuleFactory.for_type("mobile_phone", project=world.project)
    column_rule = MaskingRuleFactory.for_column(world.customers.cols.mobile, params={"keep": 3})

    mask = masks_of(world)["mobile"]

    assert (mask.rule_id, mask.scope, mask.params) == (column_rule.pk, "column", {"keep": 3})


def test_a_column_rule_masks_an_unclassified_column(world):
    MaskingRuleFactory.for_column(world.customers.cols.birthday, algorithm=ANY_ALGORITHM)

    assert set(masks_of(world)) == {"birthday"}


def test_a_disabled_rule_gives_way_to_the_next_most_specific(world):
    tenant_rule = MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    MaskingRuleFactory.for_column(world.customers.cols.mobile, enabled=False)

    assert masks_of(world)["mobile"].rule_id == tenant_rule.pk


def test_rules_of_another_project_or_tenant_do_not_apply(world):
    other_project = make_project(world.owner)
    MaskingRuleFactory.for_type("mobile_phone", project=other_project)
    stranger = make_owner()
    MaskingRuleFactory.for_type("email", tenant=stranger.tenant)

    assert masks_of(world) == {}


def test_column_names_are_lowercase_keys(world):
    column = world.customers.cols.email
    column.name = "EMail"
    column.save()
    MaskingRuleFactory.for_type("email", tenant=world.tenant)

    assert set(masks_of(world)) == {"email"}


def test_dropped_columns_are_ignored(world):
    column = world.customers.cols.mobile
    column.is_dropped = True
    column.save()
    MaskingRuleFactory.for_column(column)

    assert masks_of(world) == {}


def test_a_user_grant_on_the_whole_table_unmasks_every_column_for_that_user_only(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    MaskingRuleFactory.for_type("email", tenant=world.tenant)
    UnmaskGrantFactory.on(world.customers, user=world.carol)

    assert masks_of(world, world.carol) == {}
    assert set(masks_of(world, world.security)) == {"mobile", "email"}


def test_a_grant_on_some_columns_unmasks_only_those(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    MaskingRuleFactory.for_type("email", tenant=world.tenant)
    UnmaskGrantFactory.on(world.customers, user=world.carol, columns=["Mobile"])

    assert set(masks_of(world)) == {"email"}


def test_a_role_grant_unmasks_for_the_role_holders(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    UnmaskGrantFactory.on(world.customers, role=world.analyst)

    assert masks_of(world, world.bob) == {}
    assert set(masks_of(world, world.carol)) == {"mobile"}


def test_an_expired_grant_no_longer_unmasks(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    grant = UnmaskGrantFactory.on(world.customers, user=world.carol)

    assert masks_of(world, at=grant.expires_at - timedelta(seconds=1)) == {}
    assert set(masks_of(world, at=grant.expires_at)) == {"mobile"}


def test_a_grant_without_expiry_lasts(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    UnmaskGrantFactory.on(world.customers, user=world.carol, expires_at=None)

    assert masks_of(world, at=timezone.now() + timedelta(days=3650)) == {}


def test_a_grant_on_another_table_does_not_unmask(world):
    orders = make_customers(world.project, "orders")
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    UnmaskGrantFactory.on(orders, user=world.carol)

    masks = column_masks(user=world.carol, tables=[world.customers, orders])

    assert (set(masks[world.customers.pk]), masks[orders.pk]) == ({"mobile"}, {})


def test_the_owner_is_masked_too(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)

    assert set(masks_of(world, world.owner)) == {"mobile"}


def test_tables_without_columns_to_mask_map_to_nothing(world):
    assert column_masks(user=world.carol, tables=[world.customers.pk]) == {world.customers.pk: {}}
    assert column_masks(user=world.carol, tables=[]) == {}


def _tables(world, count: int) -> list:
    tables = [make_customers(world.project, f"t{n}") for n in range(count)]
    for table in tables:
        MaskingRuleFactory.for_column(table.cols.birthday, algorithm=ANY_ALGORITHM)
        UnmaskGrantFactory.on(table, user=world.carol, columns=["email"])
    return tables


@pytest.mark.parametrize("count", [1, 5])
def test_the_number_of_queries_does_not_grow_with_the_tables(world, django_assert_num_queries, count):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    MaskingRuleFactory.for_type("email", project=world.project)
    tables = _tables(world, count)

    with django_assert_num_queries(3):
        masks = column_masks(user=world.carol, tables=tables)

    assert all(set(masks[table.pk]) == {"mobile", "birthday"} for table in tables)
