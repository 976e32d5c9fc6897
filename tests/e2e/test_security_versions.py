"""Security versions in a real browser: compare two versions, preview a rollback's impact,
roll back after confirming.

As in test_data_map, every database step happens before the browser starts or after it has
closed (Playwright's loop and Django's ORM do not share a thread)."""

import pytest
from playwright.sync_api import expect

from apps.permissions.access import AccessQuestion, access_check
from apps.permissions.models import Grant, SecurityState
from apps.tenancy.services import member_add, security_version_bump
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True,
                                                     databases=["default", "warehouse"])]


def test_owner_compares_versions_previews_a_rollback_and_rolls_back(live_server):
    owner = make_owner()
    project = make_project(owner)
    bob = make_subaccount(owner)
    member_add(actor=owner, project=project, user=bob)
    table = make_table(project, "customers", columns=("id",))
    grant = Grant.objects.create(project=project, user=bob, object_type="table", object_name="customers",
                                 table=table, columns=["id"], actions=["Select"])
    security_version_bump(project, actor=owner, summary="grant select on table customers (id) to bob")
    access_check(actor=bob, project=project, question=AccessQuestion(
        principal=bob.principal_name, action="Select", object_name="customers", columns=("id",)))
    granted = SecurityState.objects.get(project=project).version
    grant_line = f"grant Select on table customers (id) to user {bob.principal_name}"
    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/security/{project.name}/versions/")
        page.locator("#compare").click()
        page.wait_for_url("**/versions/diff/**")
        expect(page.locator("#diff-lines .added-line")).to_have_text(f"+ {grant_line}")

        page.goto(f"{live_server.url}/security/{project.name}/versions/{granted - 1}/")
        page.locator("#preview-rollback").click()
        page.wait_for_load_state()
        expect(page.locator("#impact-lines .removed-line")).to_have_text(f"− {grant_line}")
        expect(page.locator("#impact-losses")).to_contain_text(bob.principal_name)
        page.screenshot(path=str(SCREENSHOTS / "security_rollback_preview.png"), full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#roll-back").click()
        page.wait_for_url(f"**/security/{project.name}/versions/")
        expect(page.locator(".alert-success")).to_contain_text(f"Rolled back to version {granted - 1}")
        expect(page.locator(f"#version-{granted + 1}")).to_contain_text(f"rollback to version {granted - 1}")

    assert not Grant.objects.filter(pk=grant.pk).exists()
