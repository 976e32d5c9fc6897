"""Lineage edges entered by hand: who may, what is refused, and the audit trail."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import Event
from apps.catalog import lineage
from apps.catalog.models import LineageEdge, LineageOrigin, Table
from tests.catalog import test_lineage_world as world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])
lineage_world = world.lineage_world


def test_owner_draws_a_table_edge_and_it_is_audited(lineage_world):
    w = lineage_world
    edge = lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["stage"])

    assert (edge.source_table, edge.target_table, edge.source_column) == (w.tables["raw"], w.tables["stage"], None)
    assert edge.origin == LineageOrigin.MANUAL and edge.created_by == w.owner
    event = Event.objects.get(action="catalog.lineage_edge_create")
    assert event.project_id == w.main.pk and event.actor_id == w.owner.pk
    assert event.details["source"] == f"{w.main.schema_name}.raw" and event.details["origin"] == "manual"


def test_a_column_edge_implies_its_tables(lineage_world):
    w = lineage_world
    edge = lineage.lineage_edge_create(actor=w.admin, source_column=w.column("raw", "mobile"),
                                       target_column=w.column("stage", "mobile"), origin=LineageOrigin.API)

    assert (edge.source_table_id, edge.target_table_id) == (w.tables["raw"].pk, w.tables["stage"].pk)
    assert edge.origin == "api"
    assert Event.objects.get(action="catalog.lineage_edge_create").details["target_column"] == edge.target_column_id


def test_a_column_edge_whose_named_table_does_not_hold_the_column_is_refused(lineage_world):
    w = lineage_world
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.owner, source_column=w.column("raw", "mobile"),
                                    target_column=w.column("stage", "mobile"), target_table=w.tables["mart"])
    assert "target_table" in error.value.message_dict


@pytest.mark.parametrize("ends", ["tables", "columns"])
def test_self_loops_are_refused(lineage_world, ends):
    w = lineage_world
    if ends == "tables":
        kwargs = {"source_table": w.tables["raw"], "target_table": w.tables["raw"]}
    else:
        kwargs = {"source_column": w.column("raw", "email"), "target_column": w.column("raw", "email")}
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.owner, **kwargs)
    assert {"target_table", "target_column"} & set(error.value.message_dict)
    assert not LineageEdge.objects.exists()


def test_a_column_may_flow_into_another_column_of_its_own_table(lineage_world):
    w = lineage_world
    edge = lineage.lineage_edge_create(actor=w.owner, source_column=w.column("raw", "email"),
                                       target_column=w.column("raw", "mobile"))
    assert edge.source_table_id == edge.target_table_id == w.tables["raw"].pk


def test_a_duplicate_edge_is_refused(lineage_world):
    w = lineage_world
    lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["stage"])
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.admin, source_table=w.tables["raw"], target_table=w.tables["stage"])
    assert "already exists" in error.value.message_dict["target_table"][0]
    assert LineageEdge.objects.count() == 1


def test_gateway_origin_cannot_be_entered_by_hand(lineage_world):
    w = lineage_world
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["stage"],
                                    origin=LineageOrigin.GATEWAY)
    assert "origin" in error.value.message_dict


def test_a_plain_member_may_not_draw_edges(lineage_world):
    w = lineage_world
    with pytest.raises(PermissionDenied):
        lineage.lineage_edge_create(actor=w.member, source_table=w.tables["raw"], target_table=w.tables["stage"])
    assert not Event.objects.filter(action="catalog.lineage_edge_create").exists()


def test_the_target_tables_owner_may_draw_edges_into_it_but_not_into_others(lineage_world):
    w = lineage_world
    Table.objects.filter(pk=w.tables["stage"].pk).update(owner=w.member)

    lineage.lineage_edge_create(actor=w.member, source_table=w.tables["raw"], target_table=w.tables["stage"])
    with pytest.raises(PermissionDenied):
        lineage.lineage_edge_create(actor=w.member, source_table=w.tables["stage"], target_table=w.tables["mart"])


def test_ends_the_actor_cannot_see_read_as_missing(lineage_world):
    w = lineage_world
    # The member is not in project side: its table is as unknown to them as to a stranger.
    Table.objects.filter(pk=w.tables["stage"].pk).update(owner=w.member)
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.member, source_table=w.tables["feed"], target_table=w.tables["stage"])
    assert error.value.message_dict["source_table"] == ["No such table."]
    with pytest.raises(ValidationError):
        lineage.lineage_edge_create(actor=w.stranger, source_table=w.tables["raw"], target_table=w.tables["stage"])


def test_lineage_never_links_two_tenants(lineage_world):
    w = lineage_world
    # Tenant B's owner sees main (as a member) and far (as its owner), and is admin of far.
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.other_owner, source_table=w.tables["raw"], target_table=w.tables["copy"])
    assert "one tenant" in error.value.message_dict["source_table"][0]


def test_dropped_tables_take_no_new_edges(lineage_world):
    w = lineage_world
    Table.objects.filter(pk=w.tables["mart"].pk).update(is_dropped=True)
    with pytest.raises(ValidationError) as error:
        lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["mart"])
    assert "dropped" in error.value.message_dict["target_table"][0]


def test_delete_is_for_the_same_people_and_audited(lineage_world):
    w = lineage_world
    edge = lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["raw"], target_table=w.tables["stage"])

    with pytest.raises(PermissionDenied):
        lineage.lineage_edge_delete(actor=w.member, edge=edge)
    assert LineageEdge.objects.filter(pk=edge.pk).exists()

    lineage.lineage_edge_delete(actor=w.admin, edge=edge)
    assert not LineageEdge.objects.filter(pk=edge.pk).exists()
    event = Event.objects.get(action="catalog.lineage_edge_delete")
    assert event.actor_id == w.admin.pk and event.details["edge"] == edge.pk
