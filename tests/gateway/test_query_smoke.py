import pytest

from tests.conftest import both_databases
from tests.gateway.world import make_shop, run

pytestmark = both_databases


def test_reader_sees_mobile_masked_and_other_columns_clear():
    shop = make_shop()
    result = run(shop.reader, shop.project, "select id, name, mobile from customers order by id")
    assert result.columns == ["id", "name", "mobile"]
    assert result.rows[0] == [1, "Alice", "138****5678"]
    assert result.masked_columns == ["mobile"]


def test_impact_preview_replays_the_gateways_recorded_requests():
    from apps.permissions.console import statement_preview

    shop = make_shop()
    run(shop.reader, shop.project, "select name from customers")
    preview = statement_preview(actor=shop.owner, project=shop.project,
                                text=f"revoke select on table customers from user {shop.reader.principal_name}")
    losses = [(entry.principal, entry.object_name) for entry in preview.losses]
    assert (shop.reader.principal_name, "customers") in losses
