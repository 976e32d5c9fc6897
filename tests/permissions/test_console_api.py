"""POST /api/v1/projects/{project}/security/statements: one statement run as the caller."""

import pytest

from apps.audit.models import Event
from apps.permissions.console import STATEMENT_EVENT
from apps.permissions.models import Grant
from tests.factories import make_owner
from tests.permissions.services_world import make_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_world()


def _url(project):
    return f"/api/v1/projects/{project.name}/security/statements"


def test_a_grant_answers_ok_with_what_changed_and_a_read_answers_its_output(world, api_client_for):
    client = api_client_for(world.owner)

    granted = client.post(_url(world.project), {"statement": f"grant select on table customers to user "
                                                             f"{world.carol.username};"}, format="json")
    shown = client.post(_url(world.project), {"statement": f"show grants for {world.carol.principal_name}"},
                        format="json")

    assert granted.status_code == 200, granted.json()
    assert granted.json() == {"ok": True, "output": f"OK\ngrant Select on table customers to user "
                                                    f"{world.carol.principal_name}"}
    assert Grant.objects.filter(user=world.carol, object_name="customers").exists()
    assert shown.status_code == 200
    assert f"A\tprojects/{world.project.name}/tables/customers: Select" in shown.json()["output"]
    event = Event.objects.filter(action=STATEMENT_EVENT).order_by("pk").first()
    assert (event.channel, event.details["ok"]) == ("api", True)


def test_a_syntax_error_is_a_400_with_its_position(world, api_client_for):
    response = api_client_for(world.owner).post(_url(world.project), {"statement": "grant select on tabel t to role x"},
                                                format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["position"] == 16 and "did you mean 'table'" in body["error"]


def test_invalid_input_is_a_400_without_a_position_and_is_still_audited(world, api_client_for):
    response = api_client_for(world.owner).post(
        _url(world.project), {"statement": "grant select on table customers to user nobody"}, format="json")
    missing = api_client_for(world.owner).post(_url(world.project), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"ok": False, "position": None, "error": response.json()["error"]}
    assert "Unknown user nobody" in response.json()["error"]
    assert Event.objects.get(action=STATEMENT_EVENT).details["ok"] is False
    assert missing.status_code == 400 and missing.json()["ok"] is False and missing.json()["position"] is None


def test_a_member_who_may_not_grant_gets_403_and_nothing_changes(world, api_client_for):
    response = api_client_for(world.carol).post(
        _url(world.project), {"statement": f"grant select on table customers to user {world.carol.username}"},
        format="json")

    assert response.status_code == 403
    assert response.json()["ok"] is False and "may not grant" in response.json()["error"]
    assert not Grant.objects.exists()
    assert Event.objects.get(action=STATEMENT_EVENT).decision == "deny"


def test_another_tenants_project_is_not_found(world, api_client_for):
    stranger = make_owner()

    response = api_client_for(stranger).post(_url(world.project), {"statement": "whoami"}, format="json")

    assert response.status_code == 404
    assert not Event.objects.filter(action=STATEMENT_EVENT).exists()


def test_a_preview_lists_who_would_gain_and_changes_nothing(world, api_client_for):
    from apps.permissions.access import AccessQuestion, access_check
    from apps.permissions.models import SecurityVersion

    # A decision in the log to replay: carol was refused column id of customers.
    refused = access_check(actor=world.owner, project=world.project, question=AccessQuestion(
        principal=world.carol.principal_name, action="Select", object_name="customers", columns=("id",)))
    assert not refused.allowed
    client = api_client_for(world.owner)  # makes the owner's AccessKey (an audited change) first
    versions, events = SecurityVersion.objects.count(), Event.objects.count()

    response = client.post(_url(world.project), {"statement": f"grant select on table customers to user "
                                                              f"{world.carol.username}", "preview": True},
                           format="json")

    assert response.status_code == 200, response.json()
    report = response.json()["preview"]
    assert report["added"] == [f"grant Select on table customers to user {world.carol.principal_name}"]
    assert [(gain["principal"], gain["new_step"]) for gain in report["gains"]] == [
        (world.carol.principal_name, "acl")]
    assert report["losses"] == []
    assert not Grant.objects.filter(user=world.carol).exists()
    assert (SecurityVersion.objects.count(), Event.objects.count()) == (versions, events)


def test_a_preview_of_a_failing_statement_answers_its_error(world, api_client_for):
    response = api_client_for(world.owner).post(_url(world.project), {
        "statement": "grant select on table nosuch to user nobody", "preview": True}, format="json")

    assert response.status_code == 400
    assert response.json()["ok"] is False and "nobody" in response.json()["error"]


def test_a_plain_member_may_not_preview(world, api_client_for):
    response = api_client_for(world.carol).post(_url(world.project), {
        "statement": "set LabelSecurity=true", "preview": True}, format="json")

    assert response.status_code == 403 and response.json()["ok"] is False
