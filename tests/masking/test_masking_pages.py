"""The masking pages: /masking/<project>/ (rules, tenant rules, preview, unmask whitelist) and
/masking/tenant/, for managers, plain members and other tenants."""

import pytest

from apps.audit.models import Event
from apps.masking.algorithms import ALGORITHMS
from apps.masking.models import MaskingRule, UnmaskGrant
from tests.factories import client_for, make_owner
from tests.masking.factories import (
    KEEP_ALGORITHM,
    TEXT_ALGORITHM,
    MaskingRuleFactory,
    UnmaskGrantFactory,
    make_masking_world,
    sensitive_type,
)

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


@pytest.fixture
def world():
    world = make_masking_world()
    world.base = f"/masking/{world.project.name}/"
    return world


def test_the_page_renders_rules_tenant_rules_and_grants_with_forms_for_a_manager(world):
    rule = MaskingRuleFactory.for_column(world.customers.cols.email, name="email column")
    tenant_rule = MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant, name="tenant mobiles")
    grant = UnmaskGrantFactory.on(world.customers, user=world.carol, columns=["email"])

    response = client_for(world.security).get(world.base)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="security-nav"' in page
    assert f'id="rule-{rule.pk}"' in page and f'id="rule-{tenant_rule.pk}"' in page
    assert f'id="unmask-grant-{grant.pk}"' in page
    assert f'action="{world.base}rules/new/"' in page and 'id="preview-form"' in page
    assert f'action="{world.base}unmask/new/"' in page
    # The tenant's rules are read-only for a project's security administrator.
    assert f'action="/masking/tenant/rules/{tenant_rule.pk}/edit/"' not in page


def test_a_plain_member_sees_the_page_without_forms(world):
    MaskingRuleFactory.for_type("mobile_phone", project=world.project, name="mobiles")

    response = client_for(world.carol).get(world.base)

    page = response.content.decode()
    assert response.status_code == 200 and "mobiles" in page
    assert "<form method=\"post\" action=\"/masking/" not in page


@pytest.mark.parametrize("path", ["", "rules/new/", "preview/", "unmask/new/"])
def test_another_tenant_gets_404(world, path):
    client = client_for(make_owner())
    method = client.get if not path else client.post

    assert method(world.base + path).status_code == 404


def test_a_manager_creates_a_column_rule_through_the_form(world):
    column = world.customers.cols.mobile

    response = client_for(world.security).post(world.base + "rules/new/", {
        "name": "mobile column", "target": f"column:{column.pk}", "algorithm": KEEP_ALGORITHM, "enabled": "true",
        "description": "call centre"}, follow=True)

    rule = MaskingRule.objects.get()
    assert (rule.column, rule.algorithm, rule.enabled, rule.description) == (column, KEEP_ALGORITHM, True,
                                                                            "call centre")
    assert "Masking rule created." in messages_of(response)


def test_a_manager_creates_a_type_rule_with_parameters(world):
    client_for(world.owner).post(world.base + "rules/new/", {
        "name": "mobiles", "target": f"type:{sensitive_type('mobile_phone').pk}", "algorithm": KEEP_ALGORITHM,
        "param_first": "2", "param_last": " 3 ", "param_mask_char": "#"})

    rule = MaskingRule.objects.get()
    assert (rule.sensitive_type.code, rule.project, rule.params) == (
        "mobile_phone", world.project, {"first": 2, "last": 3, "mask_char": "#"})
    # An unticked box is a disabled rule.
    assert not rule.enabled


def test_bad_parameters_are_a_message_naming_them(world):
    response = client_for(world.owner).post(world.base + "rules/new/", {
        "name": "mobiles", "target": f"type:{sensitive_type('mobile_phone').pk}", "algorithm": KEEP_ALGORITHM,
        "param_first": "many"}, follow=True)

    assert not MaskingRule.objects.exists()
    assert "First characters kept: Enter a whole number." in messages_of(response)


def test_bad_form_input_is_a_message_and_changes_nothing(world):
    events = Event.objects.count()

    response = client_for(world.security).post(world.base + "rules/new/", {
        "name": "", "target": "type:999999", "algorithm": TEXT_ALGORITHM}, follow=True)

    assert not MaskingRule.objects.exists() and Event.objects.count() == events
    assert "Target" in messages_of(response)


def test_a_manager_edits_and_deletes_a_rule(world):
    rule = MaskingRuleFactory.for_type("email", project=world.project, name="emails")
    client = client_for(world.security)

    client.post(f"{world.base}rules/{rule.pk}/edit/", {"name": "emails (off)", "algorithm": TEXT_ALGORITHM})
    rule.refresh_from_db()
    assert (rule.name, rule.enabled) == ("emails (off)", False)

    client.post(f"{world.base}rules/{rule.pk}/delete/")
    assert not MaskingRule.objects.exists()


def test_the_preview_shows_masked_samples(world):
    response = client_for(world.security).post(world.base + "preview/", {
        "algorithm": TEXT_ALGORITHM, "samples": "+1-415-555-0100\nalice@example.com", "data_type": "text"})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview-results"' in page
    assert [sample for sample, _ in response.context["preview"]] == ["+1-415-555-0100", "alice@example.com"]
    assert all(masked != sample for sample, masked in response.context["preview"])


def test_the_preview_of_a_rule_uses_its_algorithm(world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant, algorithm=TEXT_ALGORITHM)
    client = client_for(world.security)

    by_rule = client.post(world.base + "preview/", {"rule": rule.pk, "algorithm": KEEP_ALGORITHM,
                                                    "samples": "alice"}).context["preview"]
    by_algorithm = client.post(world.base + "preview/", {"algorithm": TEXT_ALGORITHM,
                                                         "samples": "alice"}).context["preview"]

    assert by_rule == by_algorithm


def test_a_manager_grants_and_revokes_unmasking(world):
    client = client_for(world.security)

    response = client.post(world.base + "unmask/new/", {
        "subject": "role:analyst", "table_name": "customers", "columns": "mobile, email", "days": "",
        "reason": "support"}, follow=True)

    grant = UnmaskGrant.objects.get()
    assert (grant.role, grant.columns, grant.reason, grant.origin) == (world.analyst, ["mobile", "email"], "support",
                                                                       "ui")
    # An empty number of days means the default, a month.
    assert 29 <= (grant.expires_at - grant.granted_at).days <= 30
    assert "Unmask grant given." in messages_of(response)

    client.post(f"{world.base}unmask/{grant.pk}/revoke/")
    assert not UnmaskGrant.objects.exists()


def test_a_grant_without_expiry_through_the_form(world):
    client_for(world.security).post(world.base + "unmask/new/", {
        "subject": f"user:{world.carol.username}", "table_name": "customers", "no_expiry": "true"})

    assert UnmaskGrant.objects.get().expires_at is None


@pytest.mark.parametrize("path", ["rules/new/", "rules/{rule}/edit/", "rules/{rule}/delete/", "preview/",
                                  "unmask/new/", "unmask/{grant}/revoke/"])
def test_a_plain_members_posts_are_refused_and_change_nothing(world, path):
    rule = MaskingRuleFactory.for_type("email", project=world.project)
    grant = UnmaskGrantFactory.on(world.customers, user=world.carol)
    events = Event.objects.count()

    response = client_for(world.carol).post(world.base + path.format(rule=rule.pk, grant=grant.pk), {
        "name": "x", "target": f"column:{world.customers.cols.mobile.pk}", "algorithm": TEXT_ALGORITHM,
        "subject": f"user:{world.carol.username}", "table_name": "customers", "samples": "x"})

    assert response.status_code == 403
    assert MaskingRule.objects.get() == rule and UnmaskGrant.objects.get() == grant
    rule.refresh_from_db()
    assert rule.name != "x" and Event.objects.count() == events


# --- the tenant page -----------------------------------------------------------------------------

def test_the_tenant_page_lets_the_owner_manage_tenant_rules(world):
    client = client_for(world.owner)
    page = client.get("/masking/tenant/").content.decode()
    assert 'action="/masking/tenant/rules/new/"' in page

    client.post("/masking/tenant/rules/new/", {"name": "emails", "sensitive_type": sensitive_type("email").pk,
                                               "algorithm": TEXT_ALGORITHM, "enabled": "true"})
    rule = MaskingRule.objects.get()
    assert (rule.project, rule.tenant, rule.enabled) == (None, world.tenant, True)

    client.post(f"/masking/tenant/rules/{rule.pk}/edit/", {"name": "emails", "algorithm": TEXT_ALGORITHM,
                                                           "next": world.base})
    rule.refresh_from_db()
    assert not rule.enabled

    response = client.post(f"/masking/tenant/rules/{rule.pk}/delete/", {"next": world.base})
    assert response.url == f"{world.base}#rules"
    assert not MaskingRule.objects.exists()


def test_the_tenant_page_preview_masks_samples(world):
    response = client_for(world.owner).post("/masking/tenant/preview/", {"algorithm": TEXT_ALGORITHM,
                                                                         "samples": "alice"})

    assert response.status_code == 200
    assert response.context["preview"][0][1] != "alice"


def test_other_accounts_read_the_tenant_page_without_forms_and_are_refused(world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant, name="tenant emails")
    client = client_for(world.security)

    page = client.get("/masking/tenant/").content.decode()
    assert "tenant emails" in page and "<form method=\"post\" action=\"/masking/" not in page
    for path in ("rules/new/", f"rules/{rule.pk}/edit/", f"rules/{rule.pk}/delete/", "preview/"):
        assert client.post(f"/masking/tenant/{path}", {"name": "x", "algorithm": TEXT_ALGORITHM}).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "tenant emails"


def test_another_tenants_rule_is_404_on_the_tenant_page(world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant)

    response = client_for(make_owner()).post(f"/masking/tenant/rules/{rule.pk}/delete/")

    assert response.status_code == 404
    assert MaskingRule.objects.exists()


def test_the_parameters_fragment_names_the_algorithms_fields(world):
    response = client_for(world.carol).get("/masking/algorithms/parameters/", {"algorithm": KEEP_ALGORITHM,
                                                                              "prefix": "x-"})

    page = response.content.decode()
    assert all(f'name="param_{parameter.name}"' in page for parameter in ALGORITHMS[KEEP_ALGORITHM].parameters)
