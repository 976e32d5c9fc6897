"""The vocabulary pages: categories, glossary, tags and sensitive types, as the tenant's owner
and administrators (who change them), a plain member (who reads them), and another tenant."""

import pytest
from django.test import Client
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import services, vocabulary
from apps.catalog.models import Category, GlossaryTerm, SensitiveType, Table, Tag
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import TenantRoleName
from tests.factories import client_for, make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

ADMINS_ONLY = "Only the tenant&#x27;s owner and administrators manage"


def make_table(project, name="customers"):
    now = timezone.now()
    table = Table.objects.create(data_source=services.warehouse_source_ensure(project=project), schema=project.name,
                                 name=name, first_seen_at=now, last_seen_at=now)
    table.columns.create(name="mobile", ordinal=1, data_type="text", first_seen_at=now, last_seen_at=now)
    return table


@pytest.fixture
def world():
    """Tenant A: its owner, a tenant administrator, a plain member of project ``shop`` (with
    table ``customers``) who is no member of project ``hr`` (with table ``salaries``).
    And tenant B's owner."""
    owner = make_owner()
    shop, hr = make_project(owner), make_project(owner)
    tenant_admin, plain = make_subaccount(owner), make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=tenant_admin, role=TenantRoleName.ADMIN)
    tenancy_services.member_add(actor=owner, project=shop, user=plain)
    return {"owner": owner, "tenant_admin": tenant_admin, "plain": plain, "stranger": make_owner(),
            "customers": make_table(shop), "salaries": make_table(hr, "salaries")}


def page_of(user, url, **params) -> str:
    response = client_for(user).get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_vocabulary_pages_need_a_login(world):
    category = vocabulary.category_create(actor=world["owner"], name="Finance")
    for url in ("/catalog/categories/", f"/catalog/categories/{category.pk}/", "/catalog/glossary/",
                "/catalog/tags/", "/catalog/sensitive-types/"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_data_map_links_to_the_vocabulary(world):
    page = page_of(world["plain"], "/catalog/")
    for url in ("/catalog/categories/", "/catalog/glossary/", "/catalog/tags/", "/catalog/sensitive-types/"):
        assert f'href="{url}"' in page


# --- categories ---------------------------------------------------------------------------------

@pytest.fixture
def finance(world):
    """Finance with Payments below it; customers is in Payments, salaries in Finance."""
    owner = world["owner"]
    finance = vocabulary.category_create(actor=owner, name="Finance", description="Money matters")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    vocabulary.table_metadata_update(actor=owner, table=world["customers"], categories=[payments])
    vocabulary.table_metadata_update(actor=owner, table=world["salaries"], categories=[finance])
    return finance, payments


def test_category_tree_nests_subcategories_with_their_table_counts(world, finance):
    finance_category, payments = finance
    page = page_of(world["owner"], "/catalog/categories/")
    finance_at, payments_at = page.index(f'id="category-{finance_category.pk}"'), page.index(f'id="category-{payments.pk}"')
    assert finance_at < payments_at and "Money matters" in page
    # Finance holds salaries itself and customers through Payments.
    assert ">1 / 2<" in page[finance_at:payments_at] and ">1 / 1<" in page[payments_at:]


def test_category_page_lists_the_tables_of_its_subtree_that_the_user_may_see(world, finance):
    finance_category, payments = finance
    url = f"/catalog/categories/{finance_category.pk}/"
    owner_page = page_of(world["owner"], url)
    assert f'href="/catalog/tables/{world["customers"].pk}/"' in owner_page
    assert f'href="/catalog/tables/{world["salaries"].pk}/"' in owner_page
    assert f'href="/catalog/categories/{payments.pk}/"' in owner_page

    plain_page = page_of(world["plain"], url)
    assert f'href="/catalog/tables/{world["customers"].pk}/"' in plain_page
    assert f'href="/catalog/tables/{world["salaries"].pk}/"' not in plain_page
    assert "0 live tables you may see in this category, 1 with its subcategories" in plain_page


def test_tenant_admin_creates_renames_moves_and_deletes_a_category(world):
    client = client_for(world["tenant_admin"])
    finance = vocabulary.category_create(actor=world["owner"], name="Finance")
    response = client.post("/catalog/categories/", {"name": "Ledgers", "parent": str(finance.pk),
                                                    "description": "Books"}, follow=True)
    ledgers = Category.objects.get(name="Ledgers")
    assert ledgers.path == "Finance/Ledgers" and ledgers.description == "Books"
    assert response.redirect_chain[-1][0] == f"/catalog/categories/{ledgers.pk}/"
    assert "Category Ledgers created." in response.content.decode()

    response = client.post(f"/catalog/categories/{ledgers.pk}/", {"name": "Accounts", "parent": "",
                                                                  "description": "General ledger"}, follow=True)
    ledgers.refresh_from_db()
    assert (ledgers.path, ledgers.parent, ledgers.description) == ("Accounts", None, "General ledger")
    assert "Category Accounts saved." in response.content.decode()

    response = client.post(f"/catalog/categories/{ledgers.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/catalog/categories/"
    assert "Category Accounts deleted." in response.content.decode()
    assert not Category.objects.filter(pk=ledgers.pk).exists()
    assert Event.objects.filter(action="catalog.category.delete", actor=world["tenant_admin"]).exists()


def test_category_in_use_is_not_deleted_and_the_page_says_why(world, finance):
    finance_category, _ = finance
    response = client_for(world["owner"]).post(f"/catalog/categories/{finance_category.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == f"/catalog/categories/{finance_category.pk}/"
    assert "Finance still has subcategories, tables; move or remove them first." in response.content.decode()
    assert Category.objects.filter(pk=finance_category.pk).exists()


def test_bad_category_input_is_explained_and_changes_nothing(world, finance):
    finance_category, payments = finance
    client = client_for(world["owner"])
    blank = client.post("/catalog/categories/", {"name": " ", "parent": ""}).content.decode()
    assert "Name: This field is required." in blank
    taken = client.post("/catalog/categories/", {"name": "payments", "parent": str(finance_category.pk)})
    assert taken.status_code == 200
    assert "There already is a category named &#x27;payments&#x27; under Finance." in taken.content.decode()
    under_itself = client.post(f"/catalog/categories/{finance_category.pk}/",
                               {"name": "Finance", "parent": str(payments.pk)}).content.decode()
    assert "Parent: Select a valid choice." in under_itself
    assert sorted(Category.objects.values_list("path", flat=True)) == ["Finance", "Finance/Payments"]


def test_plain_member_sees_no_category_forms_and_cannot_post_them(world, finance):
    finance_category, _ = finance
    client = client_for(world["plain"])
    assert 'id="category-create"' not in page_of(world["plain"], "/catalog/categories/")
    detail = page_of(world["plain"], f"/catalog/categories/{finance_category.pk}/")
    assert 'id="category-edit"' not in detail and 'id="category-delete"' not in detail
    for url, data in (("/catalog/categories/", {"name": "Mine"}),
                      (f"/catalog/categories/{finance_category.pk}/", {"name": "Mine"}),
                      (f"/catalog/categories/{finance_category.pk}/delete/", {})):
        response = client.post(url, data)
        assert response.status_code == 403 and ADMINS_ONLY in response.content.decode(), url
    assert sorted(Category.objects.values_list("path", flat=True)) == ["Finance", "Finance/Payments"]


def test_another_tenants_category_is_404(world, finance):
    finance_category, _ = finance
    client = client_for(world["stranger"])
    assert client.get(f"/catalog/categories/{finance_category.pk}/").status_code == 404
    assert client.post(f"/catalog/categories/{finance_category.pk}/", {"name": "Stolen"}).status_code == 404
    assert client.post(f"/catalog/categories/{finance_category.pk}/delete/").status_code == 404
    assert "Finance" not in page_of(world["stranger"], "/catalog/categories/")
    assert Category.objects.filter(pk=finance_category.pk, name="Finance").exists()


# --- glossary -----------------------------------------------------------------------------------

@pytest.fixture
def customer_term(world):
    """Term Customer (category Sales) on table customers and its column, and on salaries."""
    owner = world["owner"]
    sales = vocabulary.category_create(actor=owner, name="Sales")
    term = vocabulary.glossary_term_create(actor=owner, name="Customer", definition="Someone who buys.",
                                           category=sales, synonyms=["Client"])
    vocabulary.glossary_term_create(actor=owner, name="Salary", definition="Monthly pay.")
    vocabulary.table_metadata_update(actor=owner, table=world["customers"], terms=[term])
    vocabulary.column_metadata_update(actor=owner, column=world["customers"].columns.get(), terms=[term])
    vocabulary.table_metadata_update(actor=owner, table=world["salaries"], terms=[term])
    return term


def test_glossary_lists_terms_with_the_usage_the_user_may_see(world, customer_term):
    owner_row = page_of(world["owner"], "/catalog/glossary/").split(f'href="/catalog/glossary/{customer_term.pk}/"')[1]
    assert "also Client" in owner_row and '<td class="text-end">2</td>' in owner_row.split("</tr>")[0]
    plain_page = page_of(world["plain"], "/catalog/glossary/")
    plain_row = plain_page.split(f'href="/catalog/glossary/{customer_term.pk}/"')[1].split("</tr>")[0]
    assert plain_row.count('<td class="text-end">1</td>') == 2  # one table, one column
    assert "Salary" in plain_page


def test_glossary_search_and_category_filter(world, customer_term):
    by_synonym = page_of(world["plain"], "/catalog/glossary/", q="client")
    assert "Customer" in by_synonym and "Salary" not in by_synonym
    by_category = page_of(world["plain"], "/catalog/glossary/", category=str(customer_term.category_id))
    assert "Customer" in by_category and "Monthly pay" not in by_category
    unknown = page_of(world["plain"], "/catalog/glossary/", category="999999")
    assert "Category: no such category" in unknown and "Monthly pay" in unknown


def test_term_page_links_the_tables_and_columns_the_user_may_see(world, customer_term):
    customers, salaries = world["customers"], world["salaries"]
    column = customers.columns.get()
    owner_page = page_of(world["owner"], f"/catalog/glossary/{customer_term.pk}/")
    assert "Someone who buys." in owner_page and "Client" in owner_page and "Sales" in owner_page
    assert f'href="/catalog/tables/{salaries.pk}/"' in owner_page
    plain_page = page_of(world["plain"], f"/catalog/glossary/{customer_term.pk}/")
    assert f'href="/catalog/tables/{customers.pk}/"' in plain_page
    assert f'href="/catalog/tables/{customers.pk}/#column-{column.pk}"' in plain_page
    assert f'href="/catalog/tables/{salaries.pk}/"' not in plain_page
    assert 'id="term-edit"' not in plain_page


def test_tenant_admin_adds_edits_and_deletes_a_term(world):
    client = client_for(world["tenant_admin"])
    sales = vocabulary.category_create(actor=world["owner"], name="Sales")
    response = client.post("/catalog/glossary/", {"name": "Order", "category": str(sales.pk),
                                                  "synonyms": "Purchase, , purchase", "definition": "A sale."},
                           follow=True)
    term = GlossaryTerm.objects.get(name="Order")
    assert (term.category, term.synonyms, term.definition) == (sales, ["Purchase"], "A sale.")
    assert response.redirect_chain[-1][0] == f"/catalog/glossary/{term.pk}/"
    assert "Term Order added to the glossary." in response.content.decode()

    response = client.post(f"/catalog/glossary/{term.pk}/", {"name": "Sales order", "category": "",
                                                             "synonyms": "", "definition": "A sale."}, follow=True)
    term.refresh_from_db()
    assert (term.name, term.category, term.synonyms) == ("Sales order", None, [])
    assert "Term Sales order saved." in response.content.decode()

    response = client.post(f"/catalog/glossary/{term.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/catalog/glossary/" and "Term Sales order deleted." in response.content.decode()
    assert not GlossaryTerm.objects.filter(pk=term.pk).exists()


def test_duplicate_term_is_explained_and_changes_nothing(world, customer_term):
    response = client_for(world["owner"]).post("/catalog/glossary/", {"name": "customer", "definition": "Again"})
    assert response.status_code == 200
    assert "The glossary already has a term named &#x27;customer&#x27;." in response.content.decode()
    renamed = client_for(world["owner"]).post(f"/catalog/glossary/{customer_term.pk}/", {"name": "Salary"})
    assert "The glossary already has a term named &#x27;Salary&#x27;." in renamed.content.decode()
    assert sorted(GlossaryTerm.objects.values_list("name", flat=True)) == ["Customer", "Salary"]


def test_plain_member_cannot_change_the_glossary(world, customer_term):
    client = client_for(world["plain"])
    assert 'id="term-create"' not in page_of(world["plain"], "/catalog/glossary/")
    for url, data in (("/catalog/glossary/", {"name": "Mine"}),
                      (f"/catalog/glossary/{customer_term.pk}/", {"name": "Mine"}),
                      (f"/catalog/glossary/{customer_term.pk}/delete/", {})):
        response = client.post(url, data)
        assert response.status_code == 403 and ADMINS_ONLY in response.content.decode(), url
    assert sorted(GlossaryTerm.objects.values_list("name", flat=True)) == ["Customer", "Salary"]


def test_another_tenants_term_is_404(world, customer_term):
    client = client_for(world["stranger"])
    assert client.get(f"/catalog/glossary/{customer_term.pk}/").status_code == 404
    assert client.post(f"/catalog/glossary/{customer_term.pk}/delete/").status_code == 404
    assert "Customer" not in page_of(world["stranger"], "/catalog/glossary/")
    assert GlossaryTerm.objects.filter(pk=customer_term.pk).exists()


# --- tags ---------------------------------------------------------------------------------------

@pytest.fixture
def pii(world):
    owner = world["owner"]
    vocabulary.table_metadata_update(actor=owner, table=world["customers"], tags=["pii"])
    vocabulary.column_metadata_update(actor=owner, column=world["customers"].columns.get(), tags=["pii"])
    vocabulary.table_metadata_update(actor=owner, table=world["salaries"], tags=["pii"])
    return Tag.objects.get(name="pii")


def test_tags_list_their_usage_and_link_to_the_search(world, pii):
    row = page_of(world["plain"], "/catalog/tags/").split('href="/catalog/search/?q=pii"')[1].split("</tr>")[0]
    assert ">#pii<" in row and row.count('<td class="text-end">1</td>') == 2
    assert "Delete" not in row
    owner_row = page_of(world["owner"], "/catalog/tags/").split('href="/catalog/search/?q=pii"')[1].split("</tr>")[0]
    assert '<td class="text-end">2</td>' in owner_row and f'action="/catalog/tags/{pii.pk}/delete/"' in owner_row


def test_tenant_admin_deletes_a_tag_everywhere(world, pii):
    response = client_for(world["tenant_admin"]).post(f"/catalog/tags/{pii.pk}/delete/", follow=True)
    assert "Tag pii deleted." in response.content.decode()
    assert not Tag.objects.filter(pk=pii.pk).exists() and not world["customers"].tags.exists()


def test_plain_member_cannot_delete_a_tag_and_other_tenants_get_404(world, pii):
    response = client_for(world["plain"]).post(f"/catalog/tags/{pii.pk}/delete/")
    assert response.status_code == 403 and ADMINS_ONLY in response.content.decode()
    assert client_for(world["stranger"]).post(f"/catalog/tags/{pii.pk}/delete/").status_code == 404
    assert "#pii" not in page_of(world["stranger"], "/catalog/tags/")
    assert Tag.objects.filter(pk=pii.pk).exists()


# --- sensitive types ----------------------------------------------------------------------------

@pytest.fixture
def loyalty_id(world):
    return vocabulary.sensitive_type_create(actor=world["owner"], code="loyalty_id", name="Loyalty card number",
                                            category="Commercial", default_level=2)


def test_taxonomy_marks_built_in_types_and_groups_by_category(world, loyalty_id):
    mobile = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    page = page_of(world["plain"], "/catalog/sensitive-types/")
    builtin_row = page.split('id="type-mobile_phone"')[1].split("</tr>")[0]
    assert "built-in" in builtin_row and f"L{mobile.default_level}" in builtin_row
    custom_row = page.split('id="type-loyalty_id"')[1].split("</tr>")[0]
    assert "custom" in custom_row and "L2" in custom_row
    assert page.index(">Commercial</h2>") < page.index('id="type-loyalty_id"')
    assert 'id="sensitive-type-create"' not in page
    assert 'id="sensitive-type-edit"' not in page_of(world["owner"], f"/catalog/sensitive-types/{mobile.pk}/")


def test_tenant_admin_creates_edits_and_deletes_a_custom_type(world):
    client = client_for(world["tenant_admin"])
    response = client.post("/catalog/sensitive-types/", {"code": "badge_no", "name": "Badge number",
                                                         "category": "Employment", "default_level": "3"}, follow=True)
    badge = SensitiveType.objects.get(code="badge_no")
    assert badge.tenant_id == world["owner"].tenant_id and badge.default_level == 3
    assert "Sensitive type Badge number created." in response.content.decode()

    response = client.post(f"/catalog/sensitive-types/{badge.pk}/", {"code": "renamed", "name": "Staff badge",
                                                                    "category": "Employment", "default_level": "4",
                                                                    "description": "On the lanyard"}, follow=True)
    badge.refresh_from_db()
    assert (badge.code, badge.name, badge.default_level, badge.description) == ("badge_no", "Staff badge", 4,
                                                                                "On the lanyard")
    assert "Sensitive type Staff badge saved." in response.content.decode()

    response = client.post(f"/catalog/sensitive-types/{badge.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/catalog/sensitive-types/"
    assert not SensitiveType.objects.filter(pk=badge.pk).exists()


def test_bad_sensitive_type_input_is_explained_and_changes_nothing(world, loyalty_id):
    client = client_for(world["owner"])
    builtin_code = client.post("/catalog/sensitive-types/", {"code": "mobile_phone", "name": "Phone",
                                                             "category": "Personal", "default_level": "1"})
    assert "&#x27;mobile_phone&#x27; is the code of a built-in sensitive type." in builtin_code.content.decode()
    too_high = client.post(f"/catalog/sensitive-types/{loyalty_id.pk}/", {"name": "Loyalty", "category": "Commercial",
                                                                          "default_level": "12"})
    assert "Default level: Ensure this value is less than or equal to 9." in too_high.content.decode()
    loyalty_id.refresh_from_db()
    assert (loyalty_id.name, loyalty_id.default_level) == ("Loyalty card number", 2)
    assert not SensitiveType.objects.filter(code="mobile_phone", tenant__isnull=False).exists()


def test_type_in_use_is_not_deleted_and_the_page_says_why(world, loyalty_id):
    services.column_classify(actor=world["owner"], column=world["customers"].columns.get(), classification=loyalty_id)
    response = client_for(world["owner"]).post(f"/catalog/sensitive-types/{loyalty_id.pk}/delete/", follow=True)
    assert "1 column(s) are classified as loyalty_id" in response.content.decode()
    assert SensitiveType.objects.filter(pk=loyalty_id.pk).exists()


def test_built_in_types_are_read_only_even_to_the_owner(world):
    mobile = SensitiveType.objects.get(tenant__isnull=True, code="mobile_phone")
    client = client_for(world["owner"])
    edit = client.post(f"/catalog/sensitive-types/{mobile.pk}/", {"name": "Mine", "category": "Personal",
                                                                  "default_level": "0"})
    assert edit.status_code == 403 and "Built-in sensitive types are read-only." in edit.content.decode()
    assert client.post(f"/catalog/sensitive-types/{mobile.pk}/delete/").status_code == 403
    mobile.refresh_from_db()
    assert mobile.name != "Mine"


def test_plain_member_cannot_change_types_and_other_tenants_get_404(world, loyalty_id):
    client = client_for(world["plain"])
    for url, data in (("/catalog/sensitive-types/", {"code": "mine", "name": "Mine", "category": "X",
                                                     "default_level": "1"}),
                      (f"/catalog/sensitive-types/{loyalty_id.pk}/", {"name": "Mine"}),
                      (f"/catalog/sensitive-types/{loyalty_id.pk}/delete/", {})):
        response = client.post(url, data)
        assert response.status_code == 403 and ADMINS_ONLY in response.content.decode(), url
    stranger = client_for(world["stranger"])
    assert stranger.get(f"/catalog/sensitive-types/{loyalty_id.pk}/").status_code == 404
    assert stranger.post(f"/catalog/sensitive-types/{loyalty_id.pk}/delete/").status_code == 404
    assert "loyalty_id" not in page_of(world["stranger"], "/catalog/sensitive-types/")
    loyalty_id.refresh_from_db()
    assert loyalty_id.name == "Loyalty card number"
