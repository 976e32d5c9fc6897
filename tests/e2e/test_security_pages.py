"""The security pages in a real browser: the policy editor checks the document as it is
typed, without submitting; a column granted on the grants page shows on the table page's
"who has access" panel.

As in test_data_map, every database step happens before the browser starts or after it has
closed (Playwright's loop and Django's ORM do not share a thread)."""

import json

import pytest
from playwright.sync_api import expect

from apps.permissions.models import Grant, Policy
from apps.tenancy.services import member_add
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True,
                                                     databases=["default", "warehouse"])]


def policy(project: str) -> str:
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Deny", "Principal": ["RAM$*"], "Action": ["odps:Drop"],
        "Resource": [f"acs:odps:*:projects/{project}/tables/customers"]}]}, indent=2)


def test_policy_checked_as_typed_then_saved_and_a_column_grant_shows_on_the_table_page(live_server):
    owner = make_owner(username="petra")
    project = make_project(owner, name="garden")
    reader = make_subaccount(owner, username="rita")
    member_add(actor=owner, project=project, user=reader)
    customers = make_table(project, "customers")
    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/projects/garden/")
        page.click("#project-security-link")
        page.wait_for_url(f"{live_server.url}/security/garden/")
        page.click("#security-nav >> text=Policies")
        policies_url = f"{live_server.url}/security/garden/policies/"
        page.wait_for_url(policies_url)

        editor = page.locator("#policy-document-project")
        editor.fill(policy("elsewhere"))
        editor.press("End")
        check = page.locator("#policy-check-project")
        expect(check).to_contain_text("Statement[0].Resource[0]")
        typed_error = check.inner_text()
        still_here = page.url
        page.screenshot(path=str(SCREENSHOTS / "security_policy_error.png"), full_page=True)

        editor.fill(policy("garden"))
        editor.press("End")
        expect(check).to_contain_text("valid: 1 statement")
        page.click("#policy-save-project")
        expect(page.locator(".alert-success")).to_contain_text("The project policy is saved")

        page.goto(f"{live_server.url}/security/garden/grants/")
        page.select_option("#grant-subject", "user:rita")
        page.select_option("#grant-type", "table")
        page.fill("#grant-object", "customers")
        page.fill("#grant-columns", "id")
        page.select_option("#grant-actions-table", ["Select"])
        expect(page.locator("#grant-actions-project")).to_be_hidden()
        page.click("#grant-submit")
        expect(page.locator(".alert-success")).to_contain_text("Granted")

        page.goto(f"{live_server.url}/catalog/tables/{customers.pk}/")
        id_row = page.locator("#access-column-id .access-allowed")
        expect(id_row).to_contain_text("rita")
        allowed_id = id_row.inner_text()
        denied_mobile = page.locator("#access-column-mobile .access-denied").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "security_table_access.png"), full_page=True)

    assert still_here == policies_url
    assert "names project 'elsewhere'" in typed_error
    assert "Drop" in Policy.objects.get(project=project, role=None).document
    grant = Grant.objects.get(project=project, user=reader)
    assert grant.columns == ["id"] and grant.actions == ["Select"]
    assert f"rita ACL: grant #{grant.pk}" in allowed_id
    assert "rita ACL: no grant covers the columns mobile" in denied_mobile
