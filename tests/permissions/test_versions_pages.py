"""The versions pages: the list with two versions to compare, the diff in green and red, and
one version with "Preview rollback" and "Roll back"."""

import pytest

from apps.permissions.access import AccessQuestion, access_check
from apps.permissions.models import Grant, SecurityState
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import workspace_role_get
from apps.tenancy.services import role_assign
from tests.factories import client_for, make_owner

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def latest(project) -> int:
    return SecurityState.objects.get(project=project).version


def test_the_list_offers_the_two_newest_versions_to_compare(column_grant_world):
    owner, project, *_ = column_grant_world
    number = latest(project)

    page = client_for(owner).get(f"/security/{project.name}/versions/").content.decode()

    assert f'id="version-{number}"' in page and "grant select on table customers (id) to bob" in page
    assert f'name="to" value="{number}" aria-label="Compare to version {number}" checked' in page
    assert f'name="from" value="{number - 1}" aria-label="Compare from version {number - 1}" checked' in page


def test_the_diff_shows_added_lines_green_and_removed_lines_red(column_grant_world):
    owner, project, bob, *_ = column_grant_world
    number = latest(project)
    client = client_for(owner)

    forward = client.get(f"/security/{project.name}/versions/diff/", {"from": number - 1, "to": number})
    backward = client.get(f"/security/{project.name}/versions/diff/", {"from": number, "to": number - 1})

    line = f"grant Select on table customers (id) to user {bob.principal_name}"
    assert f'class="text-success bg-success-subtle px-2 added-line">+ {line}' in forward.content.decode()
    assert f'class="text-danger bg-danger-subtle px-2 removed-line">− {line}' in backward.content.decode()


def test_a_diff_of_a_missing_version_is_a_message(column_grant_world):
    owner, project, *_ = column_grant_world

    page = client_for(owner).get(f"/security/{project.name}/versions/diff/", {"from": 1, "to": 9999})

    assert page.status_code == 200
    assert "no version 9999" in page.content.decode() and 'id="diff-lines"' not in page.content.decode()


def test_previewing_a_rollback_lists_who_would_lose_access_and_changes_nothing(column_grant_world):
    owner, project, bob, _, grant = column_grant_world
    access_check(actor=bob, project=project, question=AccessQuestion(
        principal=bob.principal_name, action="Select", object_name="customers", columns=("id",)))
    number = latest(project) - 1

    response = client_for(owner).post(f"/security/{project.name}/versions/{number}/", {"action": "preview"})

    page = response.content.decode()
    assert response.status_code == 200 and 'id="impact"' in page
    losses = page[page.index('id="impact-losses"'):]
    assert bob.principal_name in losses and "acl → default" in losses
    assert 'id="impact-gains">Nobody.' in page
    assert Grant.objects.filter(pk=grant.pk).exists() and latest(project) == number + 1


def test_rolling_back_from_the_page_makes_a_version_and_says_so(column_grant_world):
    owner, project, _, _, grant = column_grant_world
    number = latest(project) - 1

    response = client_for(owner).post(f"/security/{project.name}/versions/{number}/", {"action": "rollback"},
                                      follow=True)

    assert response.redirect_chain[-1][0] == f"/security/{project.name}/versions/"
    assert f"Rolled back to version {number} as version {number + 2}." in response.content.decode()
    assert not Grant.objects.filter(pk=grant.pk).exists()


def test_an_auditor_sees_a_version_without_the_rollback_buttons_and_is_refused_on_post(column_grant_world):
    owner, project, _, carol, grant = column_grant_world
    role_assign(actor=owner, role=workspace_role_get(project=project, workspace_role=WorkspaceRole.AUDITOR),
                user=carol)
    number = latest(project) - 2
    client = client_for(carol)

    page = client.get(f"/security/{project.name}/versions/{number}/").content.decode()
    refused = client.post(f"/security/{project.name}/versions/{number}/", {"action": "rollback"}).content.decode()

    assert 'id="version-lines"' in page and 'id="roll-back"' not in page
    assert "change the project&#x27;s security configuration" in refused
    assert Grant.objects.filter(pk=grant.pk).exists()


def test_members_without_the_right_get_403_and_other_tenants_404(column_grant_world):
    owner, project, bob, *_ = column_grant_world
    number = latest(project)

    assert client_for(bob).get(f"/security/{project.name}/versions/").status_code == 403
    assert client_for(bob).get(f"/security/{project.name}/versions/{number}/").status_code == 403
    stranger = client_for(make_owner())
    assert stranger.get(f"/security/{project.name}/versions/").status_code == 404
    assert stranger.get(f"/security/{project.name}/versions/{number}/").status_code == 404
    assert client_for(owner).get(f"/security/{project.name}/versions/9999/").status_code == 404
