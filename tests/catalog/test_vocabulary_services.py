"""The business vocabulary and metadata edits: categories (with their paths), glossary terms,
tags, custom sensitive types, table and column metadata; who may change them, what bad
input says, and what the audit log keeps."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import services, vocabulary
from apps.catalog.models import Category, GlossaryTerm, SensitiveType, Table, Tag
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import TenantRoleName
from apps.tenancy.roles import ADMIN
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def make_table(project, name="customers", columns=("id", "mobile")):
    now = timezone.now()
    table = Table.objects.create(data_source=services.warehouse_source_ensure(project=project), schema=project.name,
                                 name=name, first_seen_at=now, last_seen_at=now)
    for ordinal, column in enumerate(columns, start=1):
        table.columns.create(name=column, ordinal=ordinal, data_type="text", first_seen_at=now, last_seen_at=now)
    return table


def member(owner, project, *, role=None):
    user = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=user)
    if role is not None:
        tenancy_services.role_assign(actor=owner, role=project.roles.get(name=role), user=user)
    return user


def paths(tenant_id):
    return list(Category.objects.filter(tenant_id=tenant_id).order_by("path").values_list("path", flat=True))


@pytest.fixture
def owner():
    return make_owner()


# --- categories ----------------------------------------------------------------------------------

def test_categories_nest_and_their_paths_follow_a_rename(owner):
    finance = vocabulary.category_create(actor=owner, name="Finance")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    cards = vocabulary.category_create(actor=owner, name="Cards", parent=payments)
    assert cards.path == "Finance/Payments/Cards"

    vocabulary.category_update(actor=owner, category=finance, name="Money")

    assert paths(owner.tenant_id) == ["Money", "Money/Payments", "Money/Payments/Cards"]
    event = Event.objects.get(action="catalog.category.update")
    assert event.details["name"] == {"from": "Finance", "to": "Money"}
    assert event.details["path"] == {"from": "Finance", "to": "Money"}
    assert event.details["descendants_moved"] == 2


def test_moving_a_category_moves_its_subtree_and_leaves_lookalikes_alone(owner):
    finance = vocabulary.category_create(actor=owner, name="Finance")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    vocabulary.category_create(actor=owner, name="Cards", parent=payments)
    # "Finance/PaymentsArchive" shares a prefix with "Finance/Payments" but is not below it.
    vocabulary.category_create(actor=owner, name="PaymentsArchive", parent=finance)
    sales = vocabulary.category_create(actor=owner, name="Sales")

    vocabulary.category_update(actor=owner, category=payments, parent=sales)

    assert paths(owner.tenant_id) == ["Finance", "Finance/PaymentsArchive", "Sales", "Sales/Payments",
                                      "Sales/Payments/Cards"]
    vocabulary.category_update(actor=owner, category=payments, parent=None)
    assert Category.objects.get(pk=payments.pk).parent_id is None
    assert "Payments/Cards" in paths(owner.tenant_id)


def test_a_category_cannot_move_under_its_own_descendant(owner):
    finance = vocabulary.category_create(actor=owner, name="Finance")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    before = paths(owner.tenant_id)

    for new_parent in (payments, finance):
        with pytest.raises(ValidationError) as error:
            vocabulary.category_update(actor=owner, category=finance, parent=new_parent)
        assert "parent" in error.value.message_dict
    assert paths(owner.tenant_id) == before


@pytest.mark.parametrize("name, message", [("", "blank"), ("a/b", "'/'"), ("x" * 101, "100")])
def test_bad_category_names_are_refused(owner, name, message):
    with pytest.raises(ValidationError) as error:
        vocabulary.category_create(actor=owner, name=name)
    assert message in error.value.message_dict["name"][0]
    assert not Category.objects.exists()


def test_sibling_category_names_are_unique_case_insensitively(owner):
    finance = vocabulary.category_create(actor=owner, name="Finance")
    vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    vocabulary.category_create(actor=owner, name="payments")  # another parent: fine
    with pytest.raises(ValidationError):
        vocabulary.category_create(actor=owner, name="PAYMENTS", parent=finance)
    other = vocabulary.category_create(actor=owner, name="Other", parent=finance)
    with pytest.raises(ValidationError):
        vocabulary.category_update(actor=owner, category=other, name="payments")
    assert Category.objects.get(pk=other.pk).path == "Finance/Other"


def test_only_tenant_admins_manage_categories(owner):
    project = make_project(owner)
    plain, project_admin = member(owner, project), member(owner, project, role=ADMIN)
    tenant_admin = make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=tenant_admin, role=TenantRoleName.ADMIN)
    finance = vocabulary.category_create(actor=tenant_admin, name="Finance")

    for user in (plain, project_admin, make_owner()):
        with pytest.raises(PermissionDenied):
            vocabulary.category_update(actor=user, category=finance, name="Other")
        with pytest.raises(PermissionDenied):
            vocabulary.category_delete(actor=user, category=finance)
    with pytest.raises(PermissionDenied):
        vocabulary.category_create(actor=plain, name="Mine")
    assert paths(owner.tenant_id) == ["Finance"]


def test_another_tenants_category_is_no_parent(owner):
    theirs = vocabulary.category_create(actor=make_owner(), name="Theirs")
    with pytest.raises(ValidationError) as error:
        vocabulary.category_create(actor=owner, name="Mine", parent=theirs)
    assert error.value.message_dict == {"parent": ["No such category."]}


def test_only_an_empty_category_can_be_deleted(owner):
    project = make_project(owner)
    table = make_table(project)
    finance = vocabulary.category_create(actor=owner, name="Finance")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    term = vocabulary.glossary_term_create(actor=owner, name="Revenue", category=payments)
    vocabulary.table_metadata_update(actor=owner, table=table, categories=[payments])

    with pytest.raises(ValidationError, match="subcategories"):
        vocabulary.category_delete(actor=owner, category=finance)
    with pytest.raises(ValidationError, match="tables, glossary terms"):
        vocabulary.category_delete(actor=owner, category=payments)
    vocabulary.table_metadata_update(actor=owner, table=table, categories=[])
    vocabulary.glossary_term_update(actor=owner, term=term, category=None)

    vocabulary.category_delete(actor=owner, category=payments)
    vocabulary.category_delete(actor=owner, category=finance)
    assert not Category.objects.exists()
    assert Event.objects.filter(action="catalog.category.delete").count() == 2


# --- glossary terms ----------------------------------------------------------------------------

def test_glossary_terms_are_unique_per_tenant_case_insensitively(owner):
    term = vocabulary.glossary_term_create(actor=owner, name="Customer", definition="Someone who buys.",
                                           synonyms=["Client", " client ", "Buyer"])
    assert term.synonyms == ["Client", "Buyer"]
    with pytest.raises(ValidationError) as error:
        vocabulary.glossary_term_create(actor=owner, name="customer")
    assert "already" in error.value.message_dict["name"][0]
    vocabulary.glossary_term_create(actor=make_owner(), name="Customer")  # another tenant: fine
    assert GlossaryTerm.objects.filter(tenant_id=owner.tenant_id).count() == 1


def test_a_glossary_term_update_is_audited_with_before_and_after(owner):
    category = vocabulary.category_create(actor=owner, name="Sales")
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")

    vocabulary.glossary_term_update(actor=owner, term=term, name="CUSTOMER", category=category,
                                    synonyms=["Client"])

    event = Event.objects.get(action="catalog.glossary_term.update")
    assert event.details == {"name": {"from": "Customer", "to": "CUSTOMER"},
                             "category": {"from": None, "to": "Sales"},
                             "synonyms": {"from": [], "to": ["Client"]}}
    vocabulary.glossary_term_update(actor=owner, term=term, name="CUSTOMER")
    assert Event.objects.filter(action="catalog.glossary_term.update").count() == 1


def test_bad_glossary_input_changes_nothing(owner):
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")
    vocabulary.glossary_term_create(actor=owner, name="Order")
    theirs = vocabulary.category_create(actor=make_owner(), name="Theirs")
    for bad in ({"name": "order"}, {"name": "  "}, {"synonyms": "Client"}, {"synonyms": [""]},
                {"category": theirs}):
        with pytest.raises(ValidationError):
            vocabulary.glossary_term_update(actor=owner, term=term, **bad)
    term.refresh_from_db()
    assert (term.name, term.synonyms, term.category_id) == ("Customer", [], None)
    with pytest.raises(PermissionDenied):
        vocabulary.glossary_term_create(actor=make_subaccount(owner), name="Mine")


def test_deleting_a_term_removes_it_from_tables_and_columns(owner):
    table = make_table(make_project(owner))
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")
    vocabulary.table_metadata_update(actor=owner, table=table, terms=[term])
    vocabulary.column_metadata_update(actor=owner, column=table.columns.get(name="mobile"), terms=[term])

    vocabulary.glossary_term_delete(actor=owner, term=term)

    assert not table.terms.exists() and not table.columns.get(name="mobile").terms.exists()
    event = Event.objects.get(action="catalog.glossary_term.delete")
    assert (event.details["name"], event.details["tables"], event.details["columns"]) == ("Customer", 1, 1)


# --- custom sensitive types -------------------------------------------------------------------------

def test_custom_sensitive_types_are_the_tenants_own(owner):
    passport = vocabulary.sensitive_type_create(actor=owner, code="passport_no", name="Passport number",
                                                category="Identity", default_level=7)
    assert passport.tenant_id == owner.tenant_id and not passport.is_builtin
    vocabulary.sensitive_type_create(actor=make_owner(), code="passport_no", name="Passport", category="ID",
                                     default_level=3)
    vocabulary.sensitive_type_update(actor=owner, sensitive_type=passport, default_level=8)
    assert Event.objects.get(action="catalog.sensitive_type.update").details == {
        "default_level": {"from": 7, "to": 8}}
    with pytest.raises(PermissionDenied):
        vocabulary.sensitive_type_update(actor=make_owner(), sensitive_type=passport, name="Mine")


@pytest.mark.parametrize("code, level, field", [
    ("mobile_phone", 5, "code"),      # a built-in code
    ("Bad-Code", 5, "code"),
    ("1st", 5, "code"),
    ("ok_code", 10, "default_level"),
    ("ok_code", -1, "default_level"),
    ("ok_code", True, "default_level"),
])
def test_bad_sensitive_types_are_refused(owner, code, level, field):
    with pytest.raises(ValidationError) as error:
        vocabulary.sensitive_type_create(actor=owner, code=code, name="X", category="Y", default_level=level)
    assert field in error.value.message_dict
    assert not SensitiveType.objects.filter(tenant_id=owner.tenant_id).exists()


def test_built_in_sensitive_types_are_read_only(owner):
    mobile_phone = SensitiveType.objects.get(tenant=None, code="mobile_phone")
    with pytest.raises(PermissionDenied, match="read-only"):
        vocabulary.sensitive_type_update(actor=owner, sensitive_type=mobile_phone, default_level=0)
    with pytest.raises(PermissionDenied, match="read-only"):
        vocabulary.sensitive_type_delete(actor=owner, sensitive_type=mobile_phone)
    assert SensitiveType.objects.get(pk=mobile_phone.pk).default_level == mobile_phone.default_level


def test_a_sensitive_type_in_use_cannot_be_deleted(owner):
    table = make_table(make_project(owner))
    passport = vocabulary.sensitive_type_create(actor=owner, code="passport_no", name="Passport number",
                                                category="Identity", default_level=7)
    column = table.columns.get(name="mobile")
    services.column_classify(actor=owner, column=column, classification=passport)
    with pytest.raises(ValidationError, match="1 column"):
        vocabulary.sensitive_type_delete(actor=owner, sensitive_type=passport)
    services.column_classify(actor=owner, column=column, classification=None)
    vocabulary.sensitive_type_delete(actor=owner, sensitive_type=passport)
    assert not SensitiveType.objects.filter(pk=passport.pk).exists()


# --- table and column metadata -------------------------------------------------------------------

def test_table_metadata_edit_is_audited_with_before_and_after(owner):
    project = make_project(owner)
    table = make_table(project)
    steward = member(owner, project)
    category = vocabulary.category_create(actor=owner, name="Sales")
    term = vocabulary.glossary_term_create(actor=owner, name="Customer")

    vocabulary.table_metadata_update(actor=owner, table=table, description="Who buys.", owner=steward,
                                     stewards=[steward, owner], categories=[category], terms=[term],
                                     tags=["PII", "gold"])

    table.refresh_from_db()
    assert table.description == "Who buys." and table.owner == steward
    assert sorted(table.tags.values_list("name", flat=True)) == ["PII", "gold"]
    details = Event.objects.get(action="catalog.table.metadata_update").details
    assert details == {
        "description": {"from": "", "to": "Who buys."},
        "owner": {"from": None, "to": steward.username},
        "stewards": {"from": [], "to": sorted([steward.username, owner.username])},
        "categories": {"from": [], "to": ["Sales"]},
        "terms": {"from": [], "to": ["Customer"]},
        "tags": {"from": [], "to": ["PII", "gold"]},
    }
    assert Event.objects.filter(action="catalog.tag.create").count() == 2


def test_tags_are_created_on_first_use_and_reused_whatever_the_case(owner):
    table = make_table(make_project(owner))
    vocabulary.table_metadata_update(actor=owner, table=table, tags=["PII"])
    vocabulary.column_metadata_update(actor=owner, column=table.columns.get(name="mobile"), tags=["pii", "Contact"])
    assert sorted(Tag.objects.filter(tenant_id=owner.tenant_id).values_list("name", flat=True)) == ["Contact", "PII"]
    with pytest.raises(ValidationError):
        vocabulary.table_metadata_update(actor=owner, table=table, tags=["a,b"])
    assert list(table.tags.values_list("name", flat=True)) == ["PII"]


def test_who_may_edit_a_tables_metadata(owner):
    project = make_project(owner)
    table = make_table(project)
    table_owner, plain = member(owner, project), member(owner, project)
    project_admin = member(owner, project, role=ADMIN)
    tenant_admin = make_subaccount(owner)
    tenancy_services.tenant_role_assign(actor=owner, user=tenant_admin, role=TenantRoleName.ADMIN)
    vocabulary.table_metadata_update(actor=owner, table=table, owner=table_owner)

    for user in (table_owner, project_admin, tenant_admin):
        vocabulary.table_metadata_update(actor=user, table=table, description=f"by {user.username}")
        vocabulary.column_metadata_update(actor=user, column=table.columns.first(), description=user.username)
    for user in (plain, make_owner()):
        with pytest.raises(PermissionDenied):
            vocabulary.table_metadata_update(actor=user, table=table, description="nope")
        with pytest.raises(PermissionDenied):
            vocabulary.column_metadata_update(actor=user, column=table.columns.first(), description="nope")
    # A table owner removed from the project edits no more.
    tenancy_services.member_remove(actor=owner, membership=project.memberships.get(user=table_owner))
    with pytest.raises(PermissionDenied):
        vocabulary.table_metadata_update(actor=table_owner, table=table, description="nope")
    table.refresh_from_db()
    assert table.description == f"by {tenant_admin.username}"


def test_owner_and_stewards_must_be_members_and_bad_input_changes_nothing(owner):
    project = make_project(owner)
    table = make_table(project)
    outsider = make_subaccount(owner)  # same tenant, not a member
    other_tenant = make_owner()
    theirs_category = vocabulary.category_create(actor=other_tenant, name="Theirs")
    theirs_term = vocabulary.glossary_term_create(actor=other_tenant, name="Theirs")
    for field, bad in (("owner", outsider), ("stewards", [owner, outsider]), ("categories", [theirs_category]),
                       ("terms", [theirs_term]), ("tags", ["x" * 64])):
        with pytest.raises(ValidationError) as error:
            vocabulary.table_metadata_update(actor=owner, table=table, description="changed", **{field: bad})
        assert field in error.value.message_dict
    table.refresh_from_db()
    assert table.description == "" and table.owner is None and not table.stewards.exists()
    assert not Event.objects.filter(action="catalog.table.metadata_update").exists()


def test_dropped_tables_and_columns_are_not_edited(owner):
    table = make_table(make_project(owner))
    column = table.columns.first()
    Table.objects.filter(pk=table.pk).update(is_dropped=True)
    with pytest.raises(ValidationError, match="dropped"):
        vocabulary.table_metadata_update(actor=owner, table=table, description="x")
    with pytest.raises(ValidationError, match="dropped"):
        vocabulary.column_metadata_update(actor=owner, column=column, description="x")


def test_column_metadata_edit_is_audited(owner):
    table = make_table(make_project(owner))
    column = table.columns.get(name="mobile")
    term = vocabulary.glossary_term_create(actor=owner, name="Phone number")
    vocabulary.column_metadata_update(actor=owner, column=column, description="Mobile phone", terms=[term],
                                      tags=["PII"])
    vocabulary.column_metadata_update(actor=owner, column=column, description="Mobile phone", terms=[term])
    events = Event.objects.filter(action="catalog.column.metadata_update")
    assert events.count() == 1
    assert events.get().details == {"description": {"from": "", "to": "Mobile phone"},
                                    "terms": {"from": [], "to": ["Phone number"]},
                                    "tags": {"from": [], "to": ["PII"]}}
    assert events.get().project_id == table.data_source.project_id


# --- selectors ------------------------------------------------------------------------------------

def test_category_tree_counts_only_tables_the_reader_may_see(owner):
    visible, hidden = make_project(owner), make_project(owner)
    reader = member(owner, visible)
    orders, customers, secrets = make_table(visible, "orders"), make_table(visible, "customers"), make_table(hidden)
    finance = vocabulary.category_create(actor=owner, name="Finance")
    payments = vocabulary.category_create(actor=owner, name="Payments", parent=finance)
    vocabulary.category_create(actor=owner, name="Archive")
    vocabulary.table_metadata_update(actor=owner, table=orders, categories=[finance, payments])
    vocabulary.table_metadata_update(actor=owner, table=customers, categories=[payments])
    vocabulary.table_metadata_update(actor=owner, table=secrets, categories=[payments])

    tree = vocabulary.category_tree(user=reader)

    assert [node["name"] for node in tree] == ["Archive", "Finance"]
    finance_node = tree[1]
    assert (finance_node["table_count"], finance_node["total_table_count"]) == (1, 2)
    payments_node = finance_node["children"][0]
    assert (payments_node["path"], payments_node["table_count"], payments_node["total_table_count"]) == \
        ("Finance/Payments", 2, 2)
    assert vocabulary.category_tree(user=owner)[1]["children"][0]["table_count"] == 3
    assert vocabulary.category_tree(user=make_owner()) == []


def test_term_and_tag_usage_counts(owner):
    table = make_table(make_project(owner))
    term = vocabulary.glossary_term_create(actor=owner, name="Customer", synonyms=["Client"])
    vocabulary.glossary_term_create(actor=owner, name="Unused")
    vocabulary.table_metadata_update(actor=owner, table=table, terms=[term], tags=["PII"])
    for column in table.columns.all():
        vocabulary.column_metadata_update(actor=owner, column=column, terms=[term], tags=["PII"])

    terms = {t.name: (t.table_count, t.column_count) for t in vocabulary.glossary_term_list(user=owner)}
    assert terms == {"Customer": (1, 2), "Unused": (0, 0)}
    assert [t.name for t in vocabulary.glossary_term_list(user=owner, filters={"q": "client"})] == ["Customer"]
    tags = {t.name: (t.table_count, t.column_count) for t in vocabulary.tag_list(user=owner)}
    assert tags == {"PII": (1, 2)}
    assert list(vocabulary.tag_list(user=make_owner())) == []


def test_sensitive_type_list_has_built_ins_and_the_tenants_own(owner):
    vocabulary.sensitive_type_create(actor=owner, code="passport_no", name="Passport", category="Identity",
                                     default_level=7)
    vocabulary.sensitive_type_create(actor=make_owner(), code="theirs", name="Theirs", category="X", default_level=1)
    codes = set(vocabulary.sensitive_type_list(user=owner).values_list("code", flat=True))
    assert "passport_no" in codes and "mobile_phone" in codes and "theirs" not in codes
