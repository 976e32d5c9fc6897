"""Row filter statements in the security console (CREATE ROW FILTER, DROP ROW FILTER, SHOW ROW
FILTERS): run, refused, pointed at and audited as the console's own statements are, through
``statement_run`` and its API."""

import pytest

from apps.audit.models import Event
from apps.masking.models import RowFilter
from apps.masking.row_filters import row_filter_conditions
from apps.permissions.console import STATEMENT_EVENT, StatementFailed, statement_preview, statement_run
from apps.tenancy.services import role_assign
from tests.masking.test_row_filters import row_filter_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return row_filter_world()


def run(world, text, actor=None):
    return statement_run(actor=actor or world.owner, project=world.project, text=text)


def ok(world, text, actor=None) -> str:
    result = run(world, text, actor)
    assert result.ok, result.error
    return result.output


def test_filters_are_created_for_a_role_a_user_and_everyone_and_answer_ok_with_the_change(world):
    role_output = ok(world, "create row filter eu_only on table accounts to role ANALYST where region = 'EU';")
    ok(world, f"CREATE ROW FILTER bob_small ON {world.project.name}.accounts TO USER {world.bob.principal_name} "
              f"WHERE amount < 10")
    ok(world, "Create Row Filter positive on payments to everyone where amount > 0")

    assert role_output == "OK\ncreate row filter eu_only on table accounts to role analyst where \"region\" = 'EU'"
    filters = {row.name: row for row in RowFilter.objects.all()}
    assert filters["eu_only"].role == world.analyst and filters["eu_only"].expression == "\"region\" = 'EU'"
    assert filters["bob_small"].user == world.bob and filters["positive"].everyone
    event = Event.objects.filter(action=STATEMENT_EVENT).order_by("pk").first()
    assert (event.details["kind"], event.details["ok"]) == ("create_row_filter", True)
    assert Event.objects.filter(action="masking.row_filter_create").count() == 3


def test_a_user_may_be_named_by_a_bare_user_name_and_filters_apply_to_them(world):
    ok(world, f"create row filter mine on accounts to user {world.carol.username} where email like '%@example.com'")

    assert row_filter_conditions(user=world.carol, tables=[world.accounts]) == {
        world.accounts.pk: "(\"email\" LIKE '%@example.com')"}


def test_show_lists_filters_by_table_and_drop_removes_one(world):
    role_assign(actor=world.owner, role=world.analyst, user=world.carol)
    ok(world, "create row filter eu_only on accounts to role analyst where region = 'EU'")
    ok(world, "create row filter positive on payments to everyone where amount > 0")

    shown = ok(world, "show row filters", actor=world.carol)
    one_table = ok(world, "show row filters on table payments")
    dropped = ok(world, "drop row filter EU_ONLY on table accounts;")

    assert shown.splitlines() == ["[table/accounts]", "eu_only\trole analyst\tWHERE \"region\" = 'EU'",
                                  "[table/payments]", "positive\teveryone\tWHERE \"amount\" > 0"]
    assert one_table.splitlines() == ["[table/payments]", "positive\teveryone\tWHERE \"amount\" > 0"]
    assert dropped == "OK\ndrop row filter eu_only on table accounts"
    assert list(RowFilter.objects.values_list("name", flat=True)) == ["positive"]
    assert ok(world, "show row filters on accounts") == "No row filters."


@pytest.mark.parametrize("text, message, position", [
    ("create row filter f on accounts to group analyst where id = 1", "expected USER, ROLE or EVERYONE after TO",
     35),
    ("create row filter f on accounts to everyone", "expected WHERE and the condition, found the end", 43),
    ("create row filter f on accounts to everyone where ", "expected a condition after WHERE", 49),
    ("drop row filter f", "expected ON after the row filter name", 17),
    ("show row filter", "expected FILTERS after SHOW ROW", 9),
    ("show row filters on accounts; show row filters", "expected the end of the statement", 30),
    ("create row filter f on accounts to everyone where nosuch = 1", "accounts has no column nosuch", 50),
    ("create row filter f on accounts to everyone where region = 'EU'; drop table accounts",
     "';' may not appear", 63),
    ("create row filter f on accounts to everyone where id in (select id from payments)", "subquery", 57),
    ("create row filter f on nosuch to everyone where id = 1", "No table named nosuch", 23),
    ("create row filter f on other.accounts to everyone where id = 1", "runs in project", 23),
    ("create row filter f on accounts to everyone where region > 5", "operator does not exist: text > integer", 50),
])
def test_a_statement_that_does_not_parse_or_holds_a_bad_condition_points_at_the_fault(world, text, message,
                                                                                      position):
    result = run(world, text)

    assert not result.ok and not result.refused
    assert message in result.error
    assert result.position == position
    assert not RowFilter.objects.exists()
    assert Event.objects.get(action=STATEMENT_EVENT).details["ok"] is False


def test_unknown_subjects_and_filters_are_invalid_input_without_a_position(world):
    role = run(world, "create row filter f on accounts to role nosuch where id = 1")
    user = run(world, "create row filter f on accounts to user nobody where id = 1")
    drop = run(world, "drop row filter nosuch on accounts")

    assert "No role named nosuch" in role.error and role.position is None
    assert "Unknown user nobody" in user.error
    assert "Table accounts has no row filter named nosuch" in drop.error
    assert not RowFilter.objects.exists()


def test_a_member_who_does_not_manage_security_is_refused_and_the_attempt_is_audited(world):
    ok(world, "create row filter f on accounts to everyone where id = 1")

    created = run(world, "create row filter g on accounts to everyone where id = 2", actor=world.admin)
    dropped = run(world, "drop row filter f on accounts", actor=world.carol)

    assert created.refused and dropped.refused
    assert list(RowFilter.objects.values_list("name", flat=True)) == ["f"]
    assert Event.objects.filter(action=STATEMENT_EVENT, details__ok=False, decision="deny").count() == 2


def test_the_console_s_own_statements_still_run_and_previews_refuse_row_filters(world):
    assert "[roles]" in ok(world, "show grants")
    assert ok(world, "create role reviewer").startswith("OK")

    with pytest.raises(StatementFailed) as failed:
        statement_preview(actor=world.owner, project=world.project,
                          text="create row filter f on accounts to everyone where id = 1")

    assert "no impact preview" in failed.value.result.error
    assert not RowFilter.objects.exists()


def test_the_statements_api_runs_row_filter_statements_and_answers_errors_with_their_position(world,
                                                                                             api_client_for):
    client = api_client_for(world.owner)
    url = f"/api/v1/projects/{world.project.name}/security/statements"

    created = client.post(url, {"statement": "create row filter f on accounts to everyone where id = 1"},
                          format="json")
    invalid = client.post(url, {"statement": "create row filter g on accounts to everyone where nosuch = 1"},
                          format="json")
    refused = api_client_for(world.carol).post(url, {"statement": "drop row filter f on accounts"}, format="json")

    assert created.status_code == 200 and created.json()["output"].startswith("OK\ncreate row filter f")
    assert invalid.status_code == 400
    assert invalid.json()["position"] == 50 and "no column nosuch" in invalid.json()["error"]
    assert refused.status_code == 403
    assert list(RowFilter.objects.values_list("name", flat=True)) == ["f"]
