"""The vocabulary in a real browser: the tenant's owner goes from the Data Map to the category
tree, creates a category, adds a glossary term in it, and finds both listed.

As in test_data_map, every database step happens before the browser starts or after it has
closed (Playwright's loop and Django's ORM do not share a thread)."""

import pytest
from playwright.sync_api import expect

from apps.catalog.models import Category, GlossaryTerm
from tests.e2e.browser import SCREENSHOTS, chromium_page
from tests.factories import make_owner

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True,
                                                     databases=["default", "warehouse"])]


def test_owner_creates_a_category_and_a_term_and_sees_them_listed(live_server):
    owner = make_owner(username="vera")
    with chromium_page(live_server, login_as=owner.username) as page:
        page.goto(f"{live_server.url}/catalog/")
        page.locator("#vocabulary-links a", has_text="Categories").click()
        page.wait_for_url("**/catalog/categories/")
        expect(page.locator("#category-tree")).to_contain_text("No categories yet")
        page.fill("#category-create input[name=name]", "Finance")
        page.fill("#category-create textarea[name=description]", "Money in and out")
        page.locator("#category-create button[type=submit]").click()
        expect(page.locator(".alert-success")).to_contain_text("Category Finance created.")
        expect(page.locator("#category-path")).to_have_text("Finance")

        page.locator("nav.navbar a", has_text="Glossary").click()
        page.wait_for_url("**/catalog/glossary/")
        page.fill("#term-create input[name=name]", "Invoice")
        page.select_option("#term-create select[name=category]", label="Finance")
        page.fill("#term-create input[name=synonyms]", "Bill")
        page.fill("#term-create textarea[name=definition]", "A request for payment.")
        page.locator("#term-create button[type=submit]").click()
        expect(page.locator(".alert-success")).to_contain_text("Term Invoice added to the glossary.")
        expect(page.locator("#term-name")).to_have_text("Invoice")

        page.locator(".breadcrumb a", has_text="Glossary").click()
        invoice_row = page.locator("#glossary-terms tr", has_text="Invoice")
        expect(invoice_row).to_contain_text("Finance")
        expect(invoice_row).to_contain_text("also Bill")
        page.screenshot(path=str(SCREENSHOTS / "glossary.png"), full_page=True)

        page.goto(f"{live_server.url}/catalog/categories/")
        expect(page.locator("#category-tree")).to_contain_text("Finance")
        expect(page.locator("#category-tree")).to_contain_text("Money in and out")

    term = GlossaryTerm.objects.get(tenant_id=owner.tenant_id, name="Invoice")
    assert term.category == Category.objects.get(tenant_id=owner.tenant_id, path="Finance")
    assert term.synonyms == ["Bill"] and term.definition == "A request for payment."
