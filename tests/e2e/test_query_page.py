"""The query page in a real browser: a reader types a SELECT, runs it with Ctrl+Enter and sees
the grid with the mobile numbers masked and badged; a statement they may not run shows the
decision's trace and a link to ask for access.

As in test_data_map, every database step happens before the browser starts or after it has
closed (Playwright's loop and Django's ORM do not share a thread)."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from apps.audit.models import Event
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.gateway.world import make_shop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True,
                                                     databases=["default", "warehouse"])]


@pytest.fixture
def shop():
    shop = make_shop()
    yield shop
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{shop.project.schema_name}" CASCADE')


def test_reader_runs_a_select_sees_masked_values_then_a_denied_statement_shows_the_trace(live_server, shop):
    with chromium_page(live_server, login_as=shop.reader.username) as page:
        page.goto(f"{live_server.url}/query/{shop.project.name}/")
        page.fill("#query-sql", "select id, name, mobile from customers order by id")
        page.press("#query-sql", "Control+Enter")
        grid = page.locator("#query-outcome .result-grid")
        expect(grid).to_be_visible()
        headers = grid.locator("thead th").all_inner_texts()
        first_row = grid.locator("tbody tr").first.locator("td").all_inner_texts()
        badge = grid.locator("thead th", has_text="mobile").locator(".masked-badge").inner_text()
        expect(page.locator("#query-history-list li")).to_have_count(1)

        page.fill("#query-sql", "delete from customers where id = 4")
        page.click("#query-run")
        expect(page.locator("#query-denied")).to_be_visible()
        # The denied check's trace is open; the allowed Select's stays folded.
        trace_steps = page.locator("#query-checks details[open] .decision-trace li").all_inner_texts()
        request_link = page.locator("#query-checks a.request-access").first.get_attribute("href")
        page.screenshot(path=str(SCREENSHOTS / "query_page.png"), full_page=True)
        expect(page.locator("#query-history-list li")).to_have_count(2)

    assert [header.split()[0] for header in headers] == ["id", "name", "mobile"]
    assert badge.strip() == "masked"
    assert first_row == ["1", "Alice", "138****5678"]
    assert [step.split("\n")[0] for step in trace_steps] == [
        "Authentication", "IP whitelist", "Project protection", "LabelSecurity", "Policy", "ACL", "Package", "Default"]
    assert "no grant gives Update" in trace_steps[5] and trace_steps[-1].rstrip().endswith("deny")
    assert request_link.startswith(f"/security/{shop.project.name}/check/?") and "action=Update" in request_link
    assert Event.objects.filter(action="gateway.query", actor_id=shop.reader.pk).count() == 2
