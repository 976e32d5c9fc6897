"""The security pages of a project: the overview (switches, protection, trusted projects, IP
whitelists), grants, roles, policies, labels and packages; and the table page's "who has
access" panel."""

import json

import pytest

from apps.permissions import services, table_access
from apps.permissions.models import (
    Clearance,
    Grant,
    LabelGrant,
    Package,
    PackageAllowance,
    PackageInstall,
    PackageObject,
    Policy,
    TableLabel,
    TrustedProject,
)
from apps.permissions.selectors import project_security, tenant_security
from apps.tenancy.models import Role, RoleAssignment
from apps.tenancy.roles import ADMIN
from tests.factories import client_for, make_owner, make_project
from tests.permissions.services_world import make_world, nothing_changes

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

PAGES = ("", "grants/", "roles/", "policies/", "labels/", "packages/")


@pytest.fixture
def world():
    world = make_world()
    world.package = services.package_create(actor=world.owner, project=world.project, name="shared")
    world.base = f"/security/{world.project.name}/"
    return world


def post(user, url, data=None, **kwargs):
    return client_for(user).post(url, data or {}, **kwargs)


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"]) if response.context else ""


# --- every page, for whom ---------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_with_its_forms_for_the_owner(world, page):
    response = client_for(world.owner).get(world.base + page)

    assert response.status_code == 200
    assert 'id="security-nav"' in response.content.decode()
    assert f'action="{world.base}' in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_a_plain_member_sees_each_page_without_forms(world, page):
    response = client_for(world.carol).get(world.base + page)

    assert response.status_code == 200
    assert f'action="{world.base}' not in response.content.decode()


@pytest.mark.parametrize("page", PAGES + ("grants/new/", "policies/validate/"))
def test_another_tenant_gets_404(world, page):
    stranger = make_owner()
    method = "post" if page.endswith(("new/", "validate/")) else "get"

    assert getattr(client_for(stranger), method)(world.base + page).status_code == 404


def test_a_plain_members_posts_are_refused_and_change_nothing(world):
    w = world
    grant = services.grant_create(actor=w.owner, project=w.project, subject_user=w.bob, object_type="table",
                                  object_name="orders", actions=["Select"])
    label_grant = services.label_grant_create(actor=w.owner, project=w.project, subject_user=w.bob,
                                              table_name="orders", level=2)
    posts = [
        ("settings/flag/", {"name": "LabelSecurity", "value": "true"}),
        ("settings/protection/", {"enabled": "true"}),
        ("trusted/add/", {"trusted_name": make_project(w.owner).name}),
        ("whitelist/", {"network": "ip", "entries": "10.0.0.0/8"}),
        ("whitelist/tenant/", {"network": "ip", "entries": "10.0.0.0/8"}),
        ("grants/new/", {"subject": f"user:{w.carol.username}", "object_type": "table", "object_name": "orders",
                         "actions_table": ["Select"]}),
        (f"grants/{grant.pk}/revoke/", {}),
        ("roles/new/", {"name": "spies", "role_type": "resource"}),
        ("roles/analyst/drop/", {}),
        ("roles/analyst/assign/", {"username": w.carol.username}),
        (f"roles/{ADMIN}/unassign/{w.admin.username}/", {}),
        ("policies/save/", {"role": "", "document": ""}),
        ("labels/table/", {"table_name": "orders", "level": "3"}),
        ("labels/clearance/", {"subject": f"user:{w.carol.username}", "level": "5"}),
        ("labels/grants/new/", {"subject": f"user:{w.carol.username}", "table_name": "orders", "level": "3"}),
        (f"labels/grants/{label_grant.pk}/revoke/", {}),
        ("labels/grants/clear-expired/", {}),
        ("packages/new/", {"name": "mine"}),
        ("packages/shared/objects/add/", {"object_type": "table", "object_name": "orders"}),
        ("packages/shared/allow/", {"consumer_name": make_project(w.owner).name}),
        ("packages/shared/drop/", {}),
        ("packages/install/", {"package": "elsewhere.pkg"}),
    ]
    client = client_for(w.carol)
    with nothing_changes(w.project):
        for url, data in posts:
            response = client.post(w.base + url, data)
            assert response.status_code == 403, url
            assert 'id="forbidden-reason"' in response.content.decode()


# --- the overview -----------------------------------------------------------------------------

def test_the_owner_toggles_a_switch_and_sets_protection_with_an_exception(world):
    w = world
    post(w.owner, w.base + "settings/flag/", {"name": "LabelSecurity", "value": "true"})
    exception = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Principal": ["*"], "Action": ["odps:Select"],
        "Resource": [f"acs:odps:*:projects/{w.project.name}/tables/orders"]}]})
    post(w.owner, w.base + "settings/protection/", {"enabled": "true", "exception_policy": exception})

    security = project_security(w.project)
    assert security.label_security is True
    assert security.project_protection is True and "orders" in security.protection_exception
    page = client_for(w.owner).get(w.base).content.decode()
    assert 'id="protection-state">on<' in page


def test_a_bad_exception_policy_is_a_message_and_changes_nothing(world):
    w = world
    with nothing_changes(w.project):
        response = post(w.owner, w.base + "settings/protection/",
                        {"enabled": "true", "exception_policy": '{"Version": "1", "Statement": [{"Effect": "Deny"}]}'},
                        follow=True)
    assert "Exception policy:" in messages_of(response)


def test_trusted_projects_and_whitelists_are_set_from_the_overview(world):
    w = world
    other = make_project(w.owner)
    post(w.owner, w.base + "trusted/add/", {"trusted_name": other.name})
    assert TrustedProject.objects.filter(project=w.project, trusted=other).exists()
    post(w.owner, w.base + "trusted/remove/", {"trusted_name": other.name})
    assert not TrustedProject.objects.filter(project=w.project).exists()

    post(w.owner, w.base + "whitelist/", {"network": "ip", "entries": "10.0.0.0/8\n192.168.1.1"})
    post(w.owner, w.base + "whitelist/tenant/", {"network": "vpc", "entries": "172.16.0.0/12"})
    assert project_security(w.project).ip_whitelist == ["10.0.0.0/8", "192.168.1.1"]
    assert tenant_security(w.project.tenant_id).vpc_whitelist == ["172.16.0.0/12"]


def test_a_bad_whitelist_entry_is_readable_and_changes_nothing(world):
    w = world
    with nothing_changes(w.project):
        response = post(w.owner, w.base + "whitelist/", {"network": "ip", "entries": "10.0.0.300"}, follow=True)
    assert "entry 1 '10.0.0.300'" in messages_of(response)


def test_an_admin_grants_but_leaves_the_security_configuration_alone(world):
    w = world
    overview = client_for(w.admin).get(w.base).content.decode()
    grants = client_for(w.admin).get(w.base + "grants/").content.decode()

    assert 'id="grant-form"' in grants
    assert f'action="{w.base}settings/flag/"' not in overview and 'id="protection-form"' not in overview
    response = post(w.admin, w.base + "settings/flag/", {"name": "NoWriteDown", "value": "true"})
    assert response.status_code == 403 and project_security(w.project).no_write_down is False


def test_the_security_administrator_may_not_edit_the_tenant_whitelist(world):
    w = world
    page = client_for(w.security).get(w.base).content.decode()

    assert 'id="whitelist-project-ip"' in page and 'id="whitelist-tenant-ip"' not in page


# --- grants -----------------------------------------------------------------------------------

def test_a_column_grant_made_on_the_grants_page_is_listed_and_revoked(world):
    w = world
    post(w.owner, w.base + "grants/new/", {
        "subject": f"user:{w.carol.username}", "object_type": "table", "object_name": "customers",
        "columns": "id, mobile", "actions_table": ["Select", "Describe"], "actions_project": ["List"],
        "expires_days": "30", "condition": "acs:SourceIp in ('10.0.0.0/8')"})

    grant = Grant.objects.get(project=w.project, user=w.carol)
    assert (grant.columns, sorted(grant.actions), grant.origin) == (["id", "mobile"], ["Describe", "Select"], "ui")
    assert grant.expires_at is not None and grant.condition is not None
    by_object = client_for(w.owner).get(w.base + "grants/", {"by": "object", "object": "customers"}).content.decode()
    assert f'id="grant-{grant.pk}"' in by_object and "table customers" in by_object
    by_other_subject = client_for(w.owner).get(w.base + "grants/", {"subject": f"user:{w.bob.username}"})
    assert f'id="grant-{grant.pk}"' not in by_other_subject.content.decode()

    post(w.owner, w.base + f"grants/{grant.pk}/revoke/")
    assert not Grant.objects.filter(project=w.project, user=w.carol).exists()


def test_a_refused_grant_is_readable_and_changes_nothing(world):
    w = world
    with nothing_changes(w.project):
        response = post(w.owner, w.base + "grants/new/", {
            "subject": f"user:{w.carol.username}", "object_type": "table", "object_name": "customers",
            "columns": "salary", "actions_table": ["Select"]}, follow=True)
        bad_days = post(w.owner, w.base + "grants/new/", {
            "subject": f"user:{w.carol.username}", "object_type": "table", "object_name": "customers",
            "actions_table": ["Select"], "expires_days": "soon"}, follow=True)
    assert "customers has no column salary" in messages_of(response)
    assert "Expires days: Use a whole number" in messages_of(bad_days)


# --- roles ------------------------------------------------------------------------------------

def test_roles_are_created_assigned_unassigned_and_dropped(world):
    w = world
    post(w.owner, w.base + "roles/new/", {"name": "auditors", "role_type": "resource", "description": "read"})
    role = Role.objects.get(project=w.project, name="auditors")
    post(w.owner, w.base + "roles/auditors/assign/", {"username": w.carol.username})
    assert RoleAssignment.objects.filter(role=role, user=w.carol).exists()
    page = client_for(w.owner).get(w.base + "roles/").content.decode()
    assert 'id="role-auditors"' in page and "#policy-auditors" in page

    post(w.owner, w.base + f"roles/auditors/unassign/{w.carol.username}/")
    post(w.owner, w.base + "roles/auditors/drop/")
    assert not Role.objects.filter(project=w.project, name="auditors").exists()


# --- policies ---------------------------------------------------------------------------------

def test_the_validate_endpoint_points_at_the_bad_part_of_the_document(world):
    w = world
    bad = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["odps:Select"],
                                                     "Resource": ["acs:odps:*:projects/elsewhere/tables/t"]}]})
    response = post(w.owner, w.base + "policies/validate/", {"document": bad, "scope": "role"})
    assert response.status_code == 200
    assert "Statement[0].Resource[0]:" in response.content.decode()

    good = bad.replace("elsewhere", w.project.name)
    assert "valid: 1 statement" in post(w.owner, w.base + "policies/validate/",
                                        {"document": good, "scope": "role"}).content.decode()


def test_a_role_policy_is_saved_and_a_bad_one_keeps_the_draft(world):
    w = world
    document = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Deny", "Action": ["odps:Select"],
        "Resource": [f"acs:odps:*:projects/{w.project.name}/tables/customers"]}]})
    post(w.owner, w.base + "policies/save/", {"role": "analyst", "document": document})
    assert "customers" in Policy.objects.get(project=w.project, role=w.analyst).document

    with nothing_changes(w.project):
        response = post(w.owner, w.base + "policies/save/", {"role": "", "document": '{"Version": "2"}'})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Version:" in page and "not saved" in page and "&quot;Version&quot;: &quot;2&quot;" in page


# --- labels -----------------------------------------------------------------------------------

def test_labels_clearances_and_label_grants_are_set_on_the_labels_page(world):
    w = world
    post(w.owner, w.base + "labels/table/", {"table_name": "customers", "level": "2"})
    post(w.owner, w.base + "labels/table/", {"table_name": "customers", "columns": "mobile", "level": "4"})
    post(w.owner, w.base + "labels/clearance/", {"subject": f"user:{w.carol.username}", "level": "3"})
    post(w.owner, w.base + "labels/clearance/", {"subject": "role:analyst", "level": "1"})
    post(w.owner, w.base + "labels/grants/new/", {"subject": f"user:{w.carol.username}", "table_name": "customers",
                                                  "columns": "mobile", "level": "4", "days": "7"})

    assert TableLabel.objects.get(table=w.customers).level == 2
    assert w.customers.columns.get(name="mobile").sensitivity_level == 4
    assert Clearance.objects.get(project=w.project, user=w.carol).level == 3
    assert Clearance.objects.get(project=w.project, role=w.analyst).level == 1
    label_grant = LabelGrant.objects.get(project=w.project, user=w.carol)
    assert (label_grant.columns, label_grant.level) == (["mobile"], 4)
    page = client_for(w.owner).get(w.base + "labels/").content.decode()
    row = page[page.index('id="label-customers-email"'):]
    assert "L2</span>" in row[:row.index("</tr>")]

    post(w.owner, w.base + f"labels/grants/{label_grant.pk}/revoke/")
    assert not LabelGrant.objects.filter(project=w.project).exists()


def test_clear_expired_removes_only_expired_label_grants(world):
    w = world
    services.label_grant_create(actor=w.owner, project=w.project, subject_user=w.carol, table_name="orders",
                                level=1, days=0)
    services.label_grant_create(actor=w.owner, project=w.project, subject_user=w.bob, table_name="orders", level=1)

    post(w.owner, w.base + "labels/grants/clear-expired/")

    assert list(LabelGrant.objects.filter(project=w.project).values_list("user", flat=True)) == [w.bob.pk]


def test_a_level_out_of_range_is_readable(world):
    w = world
    with nothing_changes(w.project):
        response = post(w.owner, w.base + "labels/table/", {"table_name": "customers", "level": "12"}, follow=True)
    assert "Level: Use a whole number from 0 to 9." in messages_of(response)


# --- packages ---------------------------------------------------------------------------------

def test_a_package_is_filled_allowed_installed_elsewhere_and_dropped(world):
    w = world
    consumer = make_project(w.owner)
    post(w.owner, w.base + "packages/new/", {"name": "exports"})
    post(w.owner, w.base + "packages/exports/objects/add/", {"object_type": "table", "object_name": "orders",
                                                             "actions": "Select"})
    post(w.owner, w.base + "packages/exports/allow/", {"consumer_name": consumer.name, "label": "2",
                                                       "expires_days": "10"})
    package = Package.objects.get(project=w.project, name="exports")
    assert PackageObject.objects.get(package=package).actions == ["Select"]
    allowance = PackageAllowance.objects.get(package=package, consumer=consumer)
    assert allowance.label_limit == 2 and allowance.expires_at is not None

    consumer_base = f"/security/{consumer.name}/"
    assert f"{w.project.name}.exports" in client_for(w.owner).get(consumer_base + "packages/").content.decode()
    post(w.owner, consumer_base + "packages/install/", {"package": f"{w.project.name}.exports"})
    install = PackageInstall.objects.get(package=package, consumer=consumer)
    post(w.owner, consumer_base + f"packages/installed/{install.pk}/uninstall/")
    assert not PackageInstall.objects.filter(consumer=consumer).exists()

    post(w.owner, w.base + "packages/exports/objects/remove/", {"object_type": "table", "object_name": "orders"})
    post(w.owner, w.base + "packages/exports/disallow/", {"consumer_name": consumer.name})
    assert not PackageObject.objects.filter(package=package).exists()
    assert not PackageAllowance.objects.filter(package=package).exists()
    post(w.owner, w.base + "packages/exports/drop/")
    assert not Package.objects.filter(pk=package.pk).exists()


def test_installing_a_package_not_allowed_is_readable(world):
    w = world
    consumer = make_project(w.owner)
    response = post(w.owner, f"/security/{consumer.name}/packages/install/",
                    {"package": f"{w.project.name}.shared"}, follow=True)
    assert "has not allowed" in messages_of(response)


# --- the table page's access panel ------------------------------------------------------------

def _access_row(page: str, column: str) -> str:
    row = page[page.index(f'id="access-column-{column}"'):]
    return row[:row.index("</tr>")]


def test_the_table_page_shows_a_granted_member_allowed_and_an_ungranted_one_denied(world):
    w = world
    grant = services.grant_create(actor=w.owner, project=w.project, subject_user=w.carol, object_type="table",
                                  object_name="customers", columns=["id"], actions=["Select"])

    page = client_for(w.owner).get(f"/catalog/tables/{w.customers.pk}/").content.decode()

    id_row, mobile_row = _access_row(page, "id"), _access_row(page, "mobile")
    allowed, denied = id_row.split('class="small access-denied"')
    assert f"<strong>{w.carol.username}</strong> <span class=\"text-muted\">ACL: grant #{grant.pk}</span>" in allowed
    assert f"<strong>{w.owner.username} (owner)</strong> <span class=\"text-muted\">ACL: project owner" in allowed
    assert f"<strong>{w.security.username}</strong>" in denied
    mobile_denied = mobile_row.split('class="small access-denied"')[1]
    assert f"<strong>{w.carol.username}</strong> <span class=\"text-muted\">ACL: no grant covers" in mobile_denied


def test_a_plain_member_sees_only_their_own_access_and_the_levels(world):
    w = world
    services.table_label_set(actor=w.owner, project=w.project, table_name="orders", level=2)

    page = client_for(w.carol).get(f"/catalog/tables/{w.orders.pk}/").content.decode()

    row = _access_row(page, "amount")
    assert f"<strong>{w.carol.username}</strong>" in row and f"<strong>{w.bob.username}</strong>" not in row
    assert "L2</span> <span class=\"small text-muted\">table label" in row


def test_the_panel_lists_at_most_so_many_members_and_says_how_many_more(world, monkeypatch):
    monkeypatch.setattr(table_access, "MAX_PRINCIPALS", 2)

    page = client_for(world.owner).get(f"/catalog/tables/{world.orders.pk}/").content.decode()

    row = _access_row(page, "amount")
    assert row.count("<strong>") == 2
    assert 'id="access-more">and 3 more members' in page


def test_the_panel_costs_the_same_queries_for_five_members_as_for_fifteen(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.tenancy.services import member_add
    from tests.factories import make_subaccount

    def panel_queries() -> int:
        client = client_for(world.owner)
        with CaptureQueriesContext(connection) as queries:
            client.get(f"/catalog/tables/{world.customers.pk}/")
        return len(queries)

    few = panel_queries()
    for _ in range(10):
        member_add(actor=world.owner, project=world.project, user=make_subaccount(world.owner))
    assert panel_queries() <= few + 2


def test_a_policy_preview_lists_who_would_lose_access_and_saves_nothing(world):
    import json

    from apps.permissions.access import AccessQuestion, access_check
    from apps.permissions.models import Policy

    w = world
    services.grant_create(actor=w.owner, project=w.project, subject_user=w.carol, object_type="table",
                          object_name="customers", actions=["Select"])
    assert access_check(actor=w.owner, project=w.project, question=AccessQuestion(
        principal=w.carol.principal_name, action="Select", object_name="customers")).allowed
    deny = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Deny", "Principal": [w.carol.principal_name], "Action": ["odps:Select"],
        "Resource": [f"acs:odps:*:projects/{w.project.name}/tables/customers"]}]})

    page = post(w.owner, f"{w.base}policies/save/", {"role": "", "document": deny, "action": "preview"}).content.decode()

    losses = page[page.index('id="impact-losses"'):]
    assert w.carol.principal_name in losses[:losses.index("</table>")]
    assert not Policy.objects.filter(project=w.project).exists()


def test_the_project_page_shows_each_members_clearance(world):
    w = world
    services.clearance_set(actor=w.owner, project=w.project, subject_user=w.carol, level=3)
    services.clearance_set(actor=w.owner, project=w.project, subject_role=w.analyst, level=5)
    from apps.tenancy.services import role_assign

    role_assign(actor=w.owner, role=w.analyst, user=w.bob)

    page = client_for(w.owner).get(f"/projects/{w.project.name}/").content.decode()

    def row(user):
        part = page[page.index(f'id="member-{user.username}"'):]
        return part[:part.index("</tr>")]

    assert "clearance L3" in row(w.carol) and "clearance L5" in row(w.bob) and "clearance L0" in row(w.admin)
    assert f'href="/security/{w.project.name}/labels/"' in row(w.carol)
