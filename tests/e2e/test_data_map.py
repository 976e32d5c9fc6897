"""The Data Map in a real browser: search with a typo, open the table, classify a column,
draw an upstream table into its lineage.

As in test_login_and_project, every database step happens before the browser starts or
after it has closed (Playwright's loop and Django's ORM do not share a thread)."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from apps.catalog import services
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import Column, LineageEdge, SensitiveType, Table
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.factories import make_owner, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])]


@pytest.fixture
def harvested_project():
    owner = make_owner(username="eve")
    project = make_project(owner, name="atlas")
    with connections["warehouse"].cursor() as cursor:
        cursor.execute("CREATE TABLE atlas.customers (id bigint PRIMARY KEY, mobile varchar(20))")
        cursor.execute("COMMENT ON TABLE atlas.customers IS 'Everyone who ever bought'")
    run = services.project_harvest_start(actor=owner, project=project)
    harvest_run_execute(run_id=run.pk)
    yield owner, project
    with connections["warehouse"].cursor() as cursor:
        cursor.execute('DROP SCHEMA IF EXISTS "atlas" CASCADE')


def test_owner_finds_a_table_despite_a_typo_and_classifies_a_column(live_server, harvested_project):
    owner, _ = harvested_project
    mobile_type = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/catalog/")
        page.fill("#data-map-q", "custmers")
        page.press("#data-map-q", "Enter")
        page.wait_for_url("**/catalog/search/**")
        page.locator("#search-results a", has_text="atlas.customers").first.click()
        expect(page.locator("#table-name")).to_have_text("atlas.customers")

        row = page.locator("#columns tr", has=page.locator("code", has_text="mobile"))
        row.locator("select[name=classification]").select_option(str(mobile_type.pk))
        row.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".alert-success")).to_contain_text("mobile classified")
        classified_row = page.locator("#columns tr", has=page.locator("code", has_text="mobile")).inner_text()
        page.screenshot(path=str(SCREENSHOTS / "table_detail.png"), full_page=True)

    assert f"L{mobile_type.default_level}" in classified_row and mobile_type.name in classified_row
    mobile = Column.objects.get(table__name="customers", name="mobile")
    assert mobile.classification == mobile_type and mobile.sensitivity_level == mobile_type.default_level


def test_owner_draws_an_upstream_table_into_the_lineage_picture(live_server, harvested_project):
    owner, project = harvested_project
    with connections["warehouse"].cursor() as cursor:
        cursor.execute("CREATE TABLE atlas.signups (id bigint, mobile varchar(20))")
    run = services.project_harvest_start(actor=owner, project=project)
    harvest_run_execute(run_id=run.pk)
    signups = Table.objects.get(data_source__project=project, name="signups")
    customers = Table.objects.get(data_source__project=project, name="customers")

    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/catalog/tables/{customers.pk}/")
        expect(page.locator("#lineage")).to_contain_text("No lineage recorded")
        page.locator("#add-lineage summary").click()
        page.select_option("#le-direction", "upstream")
        page.select_option("#le-table", label="atlas.signups")
        page.locator("#add-lineage button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".alert-success")).to_contain_text("atlas.signups added")
        expect(page.locator("#lineage svg")).to_contain_text("signups")
        page.screenshot(path=str(SCREENSHOTS / "table_lineage.png"), full_page=True)

    assert LineageEdge.objects.filter(source_table=signups, target_table=customers, source_column=None).exists()
