"""/api/v1/projects/{project}/security/versions: list, one version, diff, rollback and its
preview; read by those who manage or audit the project, rolled back by its security
managers, invisible to other tenants."""

import pytest

from apps.audit.models import Event
from apps.permissions.access import AccessQuestion, access_check
from apps.permissions.models import Grant, SecurityState, SecurityVersion
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import workspace_role_get
from apps.tenancy.services import role_assign
from tests.factories import make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def url(project, tail: str = "") -> str:
    return f"/api/v1/projects/{project.name}/security/versions{tail}"


def latest(project) -> int:
    return SecurityState.objects.get(project=project).version


def test_versions_are_listed_newest_first_with_who_what_and_counts(column_grant_world, api_client_for):
    owner, project, bob, *_ = column_grant_world

    response = api_client_for(owner).get(url(project), {"page_size": 2})

    assert response.status_code == 200, response.json()
    assert response.data["count"] == SecurityVersion.objects.filter(project=project).count()
    first = response.data["results"][0]
    assert first["number"] == latest(project) and first["actor"] == owner.principal_name
    assert first["summary"] == "grant select on table customers (id) to bob"
    assert (first["added_count"], first["removed_count"]) == (1, 0)
    assert len(response.data["results"]) == 2 and response.data["next"]


def test_one_version_shows_its_lines(column_grant_world, api_client_for):
    owner, project, bob, *_ = column_grant_world

    response = api_client_for(owner).get(url(project, f"/{latest(project)}"))

    assert response.status_code == 200
    assert response.data["added"] == [f"grant Select on table customers (id) to user {bob.principal_name}"]
    assert response.data["removed"] == []


def test_a_diff_lists_the_lines_added_and_removed(column_grant_world, api_client_for):
    owner, project, bob, _, grant = column_grant_world
    number = latest(project)
    grant_line = f"grant Select on table customers (id) to user {bob.principal_name}"

    forward = api_client_for(owner).get(url(project, "/diff"), {"from": number - 1, "to": number})
    backward = api_client_for(owner).get(url(project, "/diff/"), {"from": number, "to": number - 1})

    assert forward.status_code == 200
    assert forward.data == {"from": number - 1, "to": number, "added": [grant_line], "removed": []}
    assert (backward.data["added"], backward.data["removed"]) == ([], [grant_line])


def test_a_diff_without_both_versions_or_of_a_missing_one_is_a_400(column_grant_world, api_client_for):
    owner, project, *_ = column_grant_world
    client = api_client_for(owner)

    missing = client.get(url(project, "/diff"), {"from": 1})
    unknown = client.get(url(project, "/diff"), {"from": 1, "to": 9999})

    assert missing.status_code == 400 and set(missing.json()["error"]["fields"]) == {"to"}
    assert unknown.status_code == 400 and "no version 9999" in unknown.json()["error"]["fields"]["to"][0]


def test_rolling_back_makes_a_new_version_and_previewing_changes_nothing(column_grant_world, api_client_for):
    owner, project, bob, _, grant = column_grant_world
    access_check(actor=bob, project=project, question=AccessQuestion(
        principal=bob.principal_name, action="Select", object_name="customers", columns=("id",)))
    before_the_grant = latest(project) - 1
    client = api_client_for(owner)

    preview = client.post(url(project, f"/{before_the_grant}/rollback"), {"preview": True}, format="json")
    assert preview.status_code == 200, preview.json()
    assert Grant.objects.filter(pk=grant.pk).exists() and latest(project) == before_the_grant + 1
    assert [loss["principal"] for loss in preview.data["losses"]] == [bob.principal_name]
    assert preview.data["losses"][0]["old_step"] == "acl" and preview.data["replayed"] == 1

    applied = client.post(url(project, f"/{before_the_grant}/rollback"), {}, format="json")

    assert applied.status_code == 200, applied.json()
    assert applied.data == {"target": before_the_grant, "version": before_the_grant + 2, "added": {},
                            "removed": {"grant": 1}, "skipped": []}
    assert not Grant.objects.filter(pk=grant.pk).exists()
    assert Event.objects.filter(project=project, action="permissions.rollback").count() == 1


def test_an_auditor_reads_versions_but_may_not_roll_back(column_grant_world, api_client_for):
    owner, project, _, carol, grant = column_grant_world
    role_assign(actor=owner, role=workspace_role_get(project=project, workspace_role=WorkspaceRole.AUDITOR),
                user=carol)
    client = api_client_for(carol)
    number = latest(project) - 1

    listed = client.get(url(project))
    refused = client.post(url(project, f"/{number}/rollback"), {}, format="json")
    refused_preview = client.post(url(project, f"/{number}/rollback"), {"preview": True}, format="json")

    assert listed.status_code == 200 and listed.data["count"] >= 2
    assert refused.status_code == 403 and refused_preview.status_code == 403
    assert Grant.objects.filter(pk=grant.pk).exists()


def test_a_member_without_the_right_gets_403_and_another_tenant_404(column_grant_world, api_client_for):
    owner, project, bob, *_ = column_grant_world
    number = latest(project)
    stranger = api_client_for(make_owner())

    assert api_client_for(bob).get(url(project)).status_code == 403
    assert api_client_for(bob).get(url(project, f"/{number}")).status_code == 403
    assert api_client_for(bob).get(url(project, "/diff"), {"from": 1, "to": number}).status_code == 403
    assert stranger.get(url(project)).status_code == 404
    assert stranger.get(url(project, f"/{number}")).status_code == 404
    assert stranger.post(url(project, f"/{number}/rollback"), {}, format="json").status_code == 404


def test_a_version_the_project_never_had_is_404(column_grant_world, api_client_for):
    owner, project, *_ = column_grant_world
    client = api_client_for(owner)

    assert client.get(url(project, "/9999")).status_code == 404
    assert client.post(url(project, "/9999/rollback"), {}, format="json").status_code == 404


def test_a_rollback_with_bad_input_is_a_400_and_to_the_current_version_makes_none(column_grant_world, api_client_for):
    owner, project, *_ = column_grant_world
    client = api_client_for(owner)
    number = latest(project)

    bad = client.post(url(project, f"/{number}/rollback"), {"preview": "perhaps"}, format="json")
    same = client.post(url(project, f"/{number}/rollback"), {}, format="json")

    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"preview"}
    assert same.status_code == 200 and same.data["version"] is None and latest(project) == number
