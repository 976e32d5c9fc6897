"""Walking lineage to N levels, and sensitivity that should follow the data."""

import pytest
from django.core.exceptions import ValidationError

from apps.catalog import lineage, services
from apps.catalog.models import SensitiveType, Table
from tests.catalog import test_lineage_world as world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])
lineage_world = world.lineage_world


def _chain(w, *names, columns=()):
    """Edges names[0] → names[1] → ...; column edges for ``columns`` instead of table edges."""
    for source, target in zip(names, names[1:]):
        if columns:
            for column in columns:
                lineage.lineage_edge_create(actor=w.owner, source_column=w.column(source, column),
                                            target_column=w.column(target, column))
        else:
            lineage.lineage_edge_create(actor=w.owner, source_table=w.tables[source], target_table=w.tables[target])


def _names(graph):
    return {node["name"]: node["distance"] for node in graph.nodes}


def test_downstream_stops_at_the_depth_asked(lineage_world):
    w = lineage_world
    _chain(w, "raw", "stage", "mart")

    assert _names(lineage.lineage_graph(user=w.owner, table=w.tables["raw"], direction="down", depth=1)) == {
        "raw": 0, "stage": 1}
    graph = lineage.lineage_graph(user=w.owner, table=w.tables["raw"], direction="down")
    assert _names(graph) == {"raw": 0, "stage": 1, "mart": 2}
    assert {(e["source"], e["target"]) for e in graph.edges} == {
        (f"table:{w.tables['raw'].pk}", f"table:{w.tables['stage'].pk}"),
        (f"table:{w.tables['stage'].pk}", f"table:{w.tables['mart'].pk}"),
    }


def test_upstream_and_both_directions(lineage_world):
    w = lineage_world
    _chain(w, "raw", "stage", "mart")

    assert _names(lineage.lineage_graph(user=w.owner, table=w.tables["mart"], direction="up")) == {
        "mart": 0, "stage": -1, "raw": -2}
    assert _names(lineage.lineage_graph(user=w.owner, table=w.tables["stage"], direction="both", depth=1)) == {
        "raw": -1, "stage": 0, "mart": 1}


def test_a_cycle_ends_the_walk_with_one_query_per_level(lineage_world, django_assert_num_queries):
    w = lineage_world
    _chain(w, "raw", "stage", "mart", "raw")

    # Level 1 reaches stage, 2 mart, 3 raw again (already seen): the frontier is empty after
    # three queries even though ten levels were allowed.
    with django_assert_num_queries(3):
        graph = lineage.lineage_graph(user=w.owner, table=w.tables["raw"], direction="down", depth=10)
    assert _names(graph) == {"raw": 0, "stage": 1, "mart": 2}
    assert len(graph.edges) == 3


def test_a_table_walk_folds_column_edges_into_one_edge(lineage_world):
    w = lineage_world
    _chain(w, "raw", "stage", columns=("mobile", "email"))

    graph = lineage.lineage_graph(user=w.owner, table=w.tables["stage"], direction="up")
    assert len(graph.edges) == 1
    assert sorted(pair["source"] for pair in graph.edges[0]["columns"]) == ["email", "mobile"]
    assert len(graph.edges[0]["edges"]) == 2


def test_a_column_walk_follows_only_that_columns_edges(lineage_world):
    w = lineage_world
    _chain(w, "raw", "stage", "mart", columns=("mobile", "email"))
    _chain(w, "mart", "raw")  # a table edge: not part of any column's lineage

    graph = lineage.lineage_graph(user=w.owner, column=w.column("stage", "mobile"))
    assert {node["qualified_name"].split(".", 1)[1]: node["distance"] for node in graph.nodes} == {
        "raw.mobile": -1, "stage.mobile": 0, "mart.mobile": 1}
    assert graph.root == f"column:{w.column('stage', 'mobile').pk}"


def test_edges_into_projects_the_user_cannot_see_are_left_out(lineage_world):
    w = lineage_world
    lineage.lineage_edge_create(actor=w.owner, source_table=w.tables["feed"], target_table=w.tables["raw"])
    _chain(w, "raw", "stage")

    assert _names(lineage.lineage_graph(user=w.owner, table=w.tables["raw"])) == {"feed": -1, "raw": 0, "stage": 1}
    assert _names(lineage.lineage_graph(user=w.member, table=w.tables["raw"])) == {"raw": 0, "stage": 1}


@pytest.mark.parametrize("depth", [0, 11, "3"])
def test_depth_is_one_to_ten(lineage_world, depth):
    with pytest.raises(ValidationError) as error:
        lineage.lineage_graph(user=lineage_world.owner, table=lineage_world.tables["raw"], depth=depth)
    assert "depth" in error.value.message_dict


# --- sensitivity follows the data ------------------------------------------------------------

@pytest.fixture
def classified(lineage_world):
    """raw.mobile is a mobile number (level 5); it flows raw → stage → mart, column by column."""
    w = lineage_world
    mobile_phone = SensitiveType.objects.get(tenant=None, code="mobile_phone")
    services.column_classify(actor=w.owner, column=w.column("raw", "mobile"), classification=mobile_phone)
    _chain(w, "raw", "stage", "mart", columns=("mobile",))
    return w, mobile_phone


def _flagged(flags):
    return {f"{flag.column.table.name}.{flag.column.name}": flag for flag in flags}


def test_unclassified_copies_of_a_sensitive_column_are_flagged_all_the_way_down(classified):
    w, mobile_phone = classified
    flags = _flagged(lineage.lineage_sensitivity_flags(user=w.owner, project=w.main))

    assert set(flags) == {"stage.mobile", "mart.mobile"}
    assert flags["mart.mobile"].suggested_level == 5
    assert flags["mart.mobile"].suggested_classification == mobile_phone
    assert [str(source) for source in flags["mart.mobile"].sources] == [str(w.column("raw", "mobile"))]


def test_a_lower_level_is_flagged_and_a_matching_one_is_not(classified):
    w, mobile_phone = classified
    services.column_classify(actor=w.owner, column=w.column("stage", "mobile"), classification=mobile_phone)
    services.column_classify(actor=w.owner, column=w.column("mart", "mobile"), sensitivity_level=2)

    flags = _flagged(lineage.lineage_sensitivity_flags(user=w.owner, project=w.main))
    assert set(flags) == {"mart.mobile"}
    assert flags["mart.mobile"].suggested_level == 5


def test_a_downstream_level_above_the_upstream_one_is_not_flagged(classified):
    w, mobile_phone = classified
    for table in ("stage", "mart"):
        services.column_classify(actor=w.owner, column=w.column(table, "mobile"), classification=mobile_phone,
                                 sensitivity_level=7)
    assert lineage.lineage_sensitivity_flags(user=w.owner, project=w.main) == []


def test_a_level_without_a_type_upstream_suggests_the_level_only(lineage_world):
    w = lineage_world
    services.column_classify(actor=w.owner, column=w.column("raw", "email"), sensitivity_level=4)
    _chain(w, "raw", "stage", columns=("email",))

    (flag,) = lineage.lineage_sensitivity_flags(user=w.owner, table=w.tables["stage"])
    assert (flag.column.name, flag.suggested_level, flag.suggested_classification) == ("email", 4, None)


def test_flags_over_one_table_and_through_a_cycle(classified):
    w, _ = classified
    _chain(w, "mart", "raw", columns=("mobile",))  # the data comes back round

    flags = _flagged(lineage.lineage_sensitivity_flags(user=w.owner, table=w.tables["mart"]))
    assert set(flags) == {"mart.mobile"}
    assert flags["mart.mobile"].suggested_level == 5


def test_dropped_columns_are_not_flagged(classified):
    w, _ = classified
    Table.objects.get(pk=w.tables["mart"].pk).columns.filter(name="mobile").update(is_dropped=True)
    assert set(_flagged(lineage.lineage_sensitivity_flags(user=w.owner, project=w.main))) == {"stage.mobile"}
