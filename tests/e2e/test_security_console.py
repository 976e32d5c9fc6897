"""The security console in a real browser: grant, see OK, show the grant; a typo shows a
caret under where the statement went wrong.

As in test_data_map, every database step happens before the browser starts or after it has
closed (Playwright's loop and Django's ORM do not share a thread)."""

import pytest
from playwright.sync_api import expect

from apps.permissions.models import Grant
from apps.tenancy.services import member_add
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True,
                                                     databases=["default", "warehouse"])]


def test_owner_grants_in_the_console_sees_the_grant_and_a_caret_under_a_typo(live_server):
    owner = make_owner(username="olga")
    project = make_project(owner, name="vault")
    bob = make_subaccount(owner, username="bobby")
    member_add(actor=owner, project=project, user=bob)
    make_table(project, "customers")
    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/security/vault/console/")
        page.fill("#console-statement", "grant select on table customers to user bobby")
        page.click("#console-run")
        expect(page.locator("#console-output")).to_contain_text("OK")

        page.fill("#console-statement", "show grants for bobby")
        page.click("#console-run")
        expect(page.locator("#console-output")).to_contain_text("projects/vault/tables/customers: Select")

        page.fill("#console-statement", "grant select on tabel customers to user bobby")
        page.click("#console-run")
        pointer = page.locator("#console-pointer").inner_text()
        message = page.locator("#console-error-message").inner_text()
        history = page.locator("#console-history li").all_inner_texts()
        page.screenshot(path=str(SCREENSHOTS / "security_console.png"), full_page=True)

        page.locator("#console-history a", has_text="show grants for bobby").click()
        expect(page.locator("#console-statement")).to_have_value("show grants for bobby")

    typo_line, caret_line = pointer.splitlines()
    assert typo_line == "grant select on tabel customers to user bobby"
    assert caret_line == " " * typo_line.index("tabel") + "^"
    assert "did you mean 'table'" in message
    assert "grant select on tabel" in history[0] and "show grants for bobby" in history[1]
    assert Grant.objects.filter(project=project, user=bob, object_name="customers", actions=["Select"]).exists()
