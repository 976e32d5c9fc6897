"""Facts of kinds the permissions app does not know (``hooks.security_fact_providers``): the
engine and the reference evaluator decide as if they were not there, the lines come from
``hooks.fact_describers``, and a rollback reports them as not restored."""

import pytest

from apps.permissions import hooks
from apps.permissions.describe import fact_line
from apps.permissions.engine import authorize, compile_snapshot
from apps.permissions.models import Grant, SecurityState
from apps.permissions.rollback import security_rollback
from apps.permissions.selectors import security_facts
from apps.permissions.versions import facts_at
from apps.tenancy.services import security_version_bump
from tests.permissions.security_facts import (
    ALICE,
    BOB,
    decide,
    grant,
    label,
    member,
    project,
    request,
    setting,
    table,
    user,
)

UNKNOWN = [{"kind": "sticker", "table": "orders", "colour": "red"},
           {"kind": "grant_of_another_app", "subject": {"user": BOB}, "object": "orders"}]


def sales_facts() -> list[dict]:
    return [project("sales"), member(ALICE), member(BOB), setting("LabelSecurity", True), table("orders"),
            label("orders", 2, "email"), grant(1, user(ALICE), "orders")]


@pytest.mark.parametrize("access", [
    request(ALICE, "Select", "orders", columns=("id",)),
    request(ALICE, "Select", "orders", columns=("email",)),
    request(BOB, "Select", "orders", columns=("id",)),
    request(ALICE, "Drop", "orders"),
], ids=["granted", "label_denied", "not_granted", "other_action"])
def test_the_engine_decides_the_same_with_unknown_kinds_present(access):
    plain = decide({"sales": sales_facts()}, access)
    with_unknown = decide({"sales": sales_facts() + UNKNOWN}, access)

    assert (with_unknown.allowed, with_unknown.step, with_unknown.denied_columns, with_unknown.trace) == (
        plain.allowed, plain.step, plain.denied_columns, plain.trace)


def test_a_snapshot_compiles_facts_of_unknown_kinds_first_or_last():
    snapshot = compile_snapshot(UNKNOWN + sales_facts() + UNKNOWN, version=1)

    assert authorize(request(ALICE, "Select", "orders", columns=("id",)), {"sales": snapshot}.get).allowed


def test_a_registered_describer_makes_the_line_and_an_unregistered_kind_shows_as_json(monkeypatch):
    monkeypatch.setitem(hooks.fact_describers, "sticker", lambda fact: f"{fact['colour']} sticker on {fact['table']}")

    assert fact_line(UNKNOWN[0]) == "red sticker on orders"
    assert fact_line(UNKNOWN[1]) == ('{"kind": "grant_of_another_app", "object": "orders", '
                                     '"subject": {"user": "RAM$acme:bob"}}')


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_provided_facts_follow_the_projects_own_in_their_order(column_grant_world, monkeypatch):
    owner, project, *_ = column_grant_world
    own = security_facts(project)
    monkeypatch.setattr(hooks, "security_fact_providers", [
        lambda of: [{"kind": "sticker", "table": "customers", "colour": of.name}],
        lambda of: [{"kind": "sticker", "table": "customers", "colour": "blue"}],
    ])

    assert security_facts(project) == own + [{"kind": "sticker", "table": "customers", "colour": project.name},
                                             {"kind": "sticker", "table": "customers", "colour": "blue"}]


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_a_rollback_restores_its_own_facts_and_reports_provided_ones_as_not_restored(column_grant_world,
                                                                                    monkeypatch):
    owner, project, bob, carol, grant_row = column_grant_world
    stickers = [{"kind": "sticker", "table": "customers", "colour": "red"}]
    monkeypatch.setattr(hooks, "security_fact_providers", [lambda of: list(stickers)])
    monkeypatch.setitem(hooks.fact_describers, "sticker", lambda fact: f"{fact['colour']} sticker")
    monkeypatch.setitem(hooks.fact_rollback_reasons, "sticker", "stickers are peeled off by hand")
    security_version_bump(project, actor=owner, summary="a red sticker")
    start = SecurityState.objects.get(project=project).version
    Grant.objects.filter(pk=grant_row.pk).delete()
    stickers[0] = {"kind": "sticker", "table": "customers", "colour": "blue"}
    security_version_bump(project, actor=owner, summary="grant revoked, sticker blue")

    result = security_rollback(actor=owner, project=project, number=start)

    assert result.added == {"grant": 1} and result.removed == {}
    assert sorted(result.skipped) == ["remove blue sticker: stickers are peeled off by hand",
                                      "restore red sticker: stickers are peeled off by hand"]
    assert Grant.objects.filter(project=project, user=bob, columns=["id"]).exists()
    assert {"kind": "sticker", "table": "customers", "colour": "red"} in facts_at(project, start)
