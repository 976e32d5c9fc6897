"""A person's first minutes with the demo: log in through the form, open a project, see its
members. Drives Debian's Chromium through Playwright against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls from a
thread with a running loop; so every database step happens before the browser starts or
after it has closed.
"""

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from apps.audit.models import Event
from apps.core import demo
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])]


@pytest.fixture
def demo_tenant():
    """The demo's accounts, projects and roles (no warehouse tables: the page does not need them).

    Transactional tests flush the default database afterwards, but schemas in the warehouse
    outlive the test; drop them so the next test starts from the same empty warehouse.
    """
    report = demo.SeedReport()
    users = demo.seed_accounts(report)
    projects = demo.seed_projects(report, users[demo.OWNER.username])
    demo.seed_members(report, users[demo.OWNER.username], users, projects)
    yield projects
    with connections["warehouse"].cursor() as cursor:
        for name in projects:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_member_logs_in_and_sees_the_project_and_its_members(live_server, demo_tenant):
    bob = next(user for user in demo.DEMO_USERS if user.username == "bob")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", bob.username)
            page.fill("input[name=password]", bob.password)
            page.locator("form button[type=submit], form input[type=submit]").first.click()
            page.wait_for_url(f"{live_server.url}/projects/")
            projects_text = page.locator("main").inner_text()

            page.goto(f"{live_server.url}/projects/wonderland/")
            main = page.locator("main")
            expect(main).to_contain_text("wonderland")
            expect(main).to_contain_text("dave")
            expect(main).to_contain_text("role_project_dev")
            project_text = main.inner_text()
            page.screenshot(path=str(SCREENSHOTS / "project_detail.png"), full_page=True)
        finally:
            browser.close()

    # bob is a member of wonderland and wonderland_dev only: the list shows those and not secretgarden.
    assert "wonderland_dev" in projects_text and "secretgarden" not in projects_text
    assert "alice" in project_text and "carol" in project_text
    assert Event.objects.filter(action="auth.login", actor__username="bob").count() == 1


def test_wrong_password_keeps_the_visitor_on_the_login_page(live_server, demo_tenant):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/projects/wonderland/")
            # Anonymous visitors are sent to the login form first.
            assert "/accounts/login/" in page.url
            page.fill("input[name=username]", "bob")
            page.fill("input[name=password]", "not-bobs-password")
            page.locator("form button[type=submit], form input[type=submit]").first.click()
            page.wait_for_load_state()
            url_after = page.url
            has_password_field = page.locator("input[name=password]").count() == 1
        finally:
            browser.close()

    assert "/accounts/login/" in url_after and has_password_field
    assert not Event.objects.filter(action="auth.login", actor__username="bob").exists()
    assert Event.objects.filter(action="auth.login_failed").count() == 1
