"""Masking rules, unmask grants and row filters in the security versions: every change is a
version whose lines show it, diffs show them, a rollback leaves them and says so, and the
engine decides as it did without them."""

from datetime import UTC, datetime

import pytest
from django.utils.html import escape

from apps.masking import services
from apps.masking.facts import masking_facts
from apps.masking.row_filters import row_filter_create, row_filter_delete, row_filter_update
from apps.permissions.engine import authorize, compile_snapshot
from apps.permissions.impact import access_request_from_dict
from apps.permissions.models import Grant, SecurityState
from apps.permissions.rollback import security_rollback, version_lines
from apps.permissions.selectors import security_facts
from apps.tenancy.services import security_version_bump
from tests.factories import client_for, make_project
from tests.masking.factories import KEEP_ALGORITHM, TEXT_ALGORITHM, sensitive_type
from tests.masking.test_row_filters import row_filter_world
from tests.permissions.services_world import latest_version

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

REASON = "masking rules, unmask grants and row filters are changed on the masking pages"
EXPIRY = datetime(2099, 12, 24, tzinfo=UTC)


@pytest.fixture
def world():
    """``make_world`` (owner, security, bob, carol, analyst, customers (id, mobile, email),
    orders) with ``accounts`` (id, region, amount, email) in the warehouse."""
    return row_filter_world()


def lines_of_latest(project) -> tuple[list[str], list[str]]:
    return version_lines(latest_version(project))


def mobile_rule(world, **kwargs):
    arguments = {"name": "mobile numbers", "algorithm": KEEP_ALGORITHM, "params": {"first": 3, "last": 2},
                 "project": world.project, "column": world.customers.columns.get(name="mobile"), **kwargs}
    return services.masking_rule_create(actor=world.security, **arguments)


def test_creating_changing_and_deleting_a_masking_rule_are_versions_with_their_lines(world):
    rule = mobile_rule(world)
    line = ("masking rule 'mobile numbers': customers.mobile → keep_ends "
            '{"first": 3, "last": 2, "mask_char": "*"}')
    assert lines_of_latest(world.project) == ([line], [])

    services.masking_rule_update(actor=world.security, rule=rule, enabled=False)
    assert lines_of_latest(world.project) == ([f"{line} (disabled)"], [line])

    services.masking_rule_delete(actor=world.security, rule=rule)
    assert lines_of_latest(world.project) == ([], [f"{line} (disabled)"])


def test_a_tenant_wide_rule_is_a_version_of_every_project_of_the_tenant(world):
    other = make_project(world.owner)

    services.masking_rule_create(actor=world.owner, name="emails", algorithm=TEXT_ALGORITHM,
                                 sensitive_type=sensitive_type("email"))

    line = "masking rule 'emails': sensitive type email (tenant-wide) → hash " '{"function": "sha256"}'
    assert lines_of_latest(world.project) == ([line], [])
    assert lines_of_latest(other) == ([line], [])


def test_granting_and_revoking_an_unmask_are_versions_with_their_lines(world):
    grant = services.unmask_grant_create(actor=world.security, project=world.project, table=world.customers,
                                         columns=["Email", "mobile"], user=world.carol, expires_at=EXPIRY)
    line = f"unmask customers(email, mobile) for user {world.carol.principal_name} until 2099-12-24T00:00:00Z"
    assert lines_of_latest(world.project) == ([line], [])

    services.unmask_grant_revoke(actor=world.security, grant=grant)
    assert lines_of_latest(world.project) == ([], [line])


def test_an_unmask_of_every_column_for_a_role_says_so(world):
    services.unmask_grant_create(actor=world.security, project=world.project, table=world.customers,
                                 role=world.analyst, expires_at=None)

    assert lines_of_latest(world.project) == (["unmask customers (every column) for role analyst"], [])


def test_creating_changing_and_dropping_a_row_filter_are_versions_with_their_lines(world):
    row_filter = row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name="eu",
                                   expression="region = 'EU'", role=world.analyst)
    line = "row filter eu on accounts for role analyst: \"region\" = 'EU'"
    assert lines_of_latest(world.project) == ([line], [])

    row_filter_update(actor=world.owner, row_filter=row_filter, enabled=False)
    assert lines_of_latest(world.project) == ([f"{line} (disabled)"], [line])

    row_filter_delete(actor=world.owner, row_filter=row_filter)
    assert lines_of_latest(world.project) == ([], [f"{line} (disabled)"])


def test_the_diff_api_and_page_show_masking_changes(world, api_client_for):
    before = SecurityState.objects.get(project=world.project).version
    mobile_rule(world)
    row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name="everyone_eu",
                      expression="region = 'EU'", everyone=True)
    after = SecurityState.objects.get(project=world.project).version
    rule_line = ("masking rule 'mobile numbers': customers.mobile → keep_ends "
                 '{"first": 3, "last": 2, "mask_char": "*"}')
    filter_line = "row filter everyone_eu on accounts for everyone: \"region\" = 'EU'"

    response = api_client_for(world.owner).get(f"/api/v1/projects/{world.project.name}/security/versions/diff",
                                               {"from": before, "to": after})
    page = client_for(world.owner).get(f"/security/{world.project.name}/versions/diff/",
                                       {"from": after, "to": before}).content.decode()

    assert response.status_code == 200
    assert (response.data["added"], response.data["removed"]) == ([rule_line, filter_line], [])
    assert f'removed-line">− {escape(rule_line)}' in page
    assert f'removed-line">− {escape(filter_line)}' in page


def test_rolling_back_past_a_masking_change_restores_grants_and_lists_the_masking_facts(world):
    start = SecurityState.objects.get(project=world.project).version
    Grant.objects.create(project=world.project, user=world.bob, object_type="table", object_name="customers",
                         table=world.customers, columns=["id"], actions=["Select"])
    security_version_bump(world.project, actor=world.owner, summary="grant select on customers (id) to bob")
    rule = mobile_rule(world)
    services.unmask_grant_create(actor=world.security, project=world.project, table=world.customers,
                                 columns=["mobile"], user=world.carol, expires_at=EXPIRY)

    result = security_rollback(actor=world.owner, project=world.project, number=start)

    assert result.removed == {"grant": 1} and result.added == {}
    assert sorted(result.skipped) == [
        "remove masking rule 'mobile numbers': customers.mobile → keep_ends "
        f'{{"first": 3, "last": 2, "mask_char": "*"}}: {REASON}',
        f"remove unmask customers(mobile) for user {world.carol.principal_name} until 2099-12-24T00:00:00Z: "
        f"{REASON}",
    ]
    assert not Grant.objects.filter(project=world.project).exists()
    assert [fact["id"] for fact in masking_facts(world.project) if fact["kind"] == "masking_rule"] == [rule.pk]
    assert lines_of_latest(world.project) == (
        [], [f"grant Select on table customers (id) to user {world.bob.principal_name}"])


def test_the_engine_decides_the_same_with_masking_facts_present(world):
    Grant.objects.create(project=world.project, user=world.bob, object_type="table", object_name="customers",
                         table=world.customers, columns=["id"], actions=["Select"])
    mobile_rule(world)
    services.unmask_grant_create(actor=world.security, project=world.project, table=world.customers,
                                 role=world.analyst, expires_at=None)
    row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name="eu",
                      expression="region = 'EU'", user=world.carol)
    facts = security_facts(world.project)
    masking_kinds = {"masking_rule", "unmask_grant", "row_filter"}
    assert {fact["kind"] for fact in facts} >= masking_kinds
    with_masking = compile_snapshot(facts, version=1)
    without = compile_snapshot([fact for fact in facts if fact["kind"] not in masking_kinds], version=1)

    outcomes = set()
    for principal in (world.bob.principal_name, world.carol.principal_name, world.owner.principal_name):
        for action, table, columns in (("Select", "customers", ["id"]), ("Select", "customers", ["mobile"]),
                                       ("Select", "accounts", ["region"]), ("Drop", "orders", [])):
            access = access_request_from_dict({"principal": principal, "project": world.project.name,
                                               "action": action, "object_name": table, "columns": columns})
            decided = authorize(access, {world.project.name: with_masking}.get)
            expected = authorize(access, {world.project.name: without}.get)
            assert (decided.allowed, decided.step, decided.denied_columns) == (
                expected.allowed, expected.step, expected.denied_columns)
            outcomes.add(decided.allowed)
    assert outcomes == {True, False}


def test_masking_facts_take_three_queries_whatever_their_number(world, django_assert_num_queries):
    mobile_rule(world)
    for name in ("eu", "us"):
        row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name=name,
                          expression=f"region = '{name.upper()}'", user=world.carol)
    for user in (world.carol, world.bob):
        services.unmask_grant_create(actor=world.security, project=world.project, table=world.customers,
                                     user=user, expires_at=None)

    with django_assert_num_queries(3):
        facts = masking_facts(world.project)

    assert [fact["kind"] for fact in facts] == ["masking_rule", "unmask_grant", "unmask_grant", "row_filter",
                                                "row_filter"]
    assert facts == masking_facts(world.project)
