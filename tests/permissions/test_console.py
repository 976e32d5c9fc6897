"""The security console's executor: every statement kind through ``statement_run``, against
the same services as the portal and the API, with MaxCompute's output formats for reads and
one audit event per run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import Event
from apps.permissions.console import MAX_AUDITED_TEXT, STATEMENT_EVENT, console_history, statement_run
from apps.permissions.models import (
    Clearance,
    Grant,
    LabelGrant,
    Origin,
    Package,
    PackageAllowance,
    PackageInstall,
    Policy,
    TableLabel,
    TrustedProject,
)
from apps.permissions.selectors import project_security, security_facts
from apps.tenancy.models import Membership, Project, RoleAssignment
from apps.tenancy.services import member_add, security_version_bump
from tests.factories import make_project, make_subaccount
from tests.permissions.services_world import make_world, role_named, version_count

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_world()


def run(world, text, actor=None, project=None):
    return statement_run(actor=actor or world.owner, project=project or world.project, text=text)


def ok(world, text, actor=None, project=None) -> str:
    result = run(world, text, actor, project)
    assert result.ok, result.error
    return result.output


def path(world, rest=""):
    return f"projects/{world.project.name}{rest}"


# --- users and roles --------------------------------------------------------------------------

def test_users_are_added_listed_and_removed_by_any_spelling_of_their_principal(world):
    dave = make_subaccount(world.owner)

    added = ok(world, f"add user {dave.username}")
    listed = ok(world, "list users")
    ok(world, f"remove user RAM${world.project.tenant.name}:{dave.username}")

    assert added.splitlines() == ["OK", f"add user {dave.principal_name}"]
    assert dave.principal_name in listed.splitlines() and world.owner.principal_name in listed.splitlines()
    assert Membership.objects.get(project=world.project, user=dave).is_active is False


def test_roles_are_created_granted_described_revoked_and_dropped(world):
    ok(world, 'create role reader privilegeproperties("type"="admin")')
    ok(world, f"grant reader to {world.carol.principal_name}")
    described = ok(world, "describe role READER")
    listed = ok(world, "list roles")
    role = role_named(world.project, "reader")

    assert role.role_type == "admin" and "reader" in listed.splitlines()
    assert RoleAssignment.objects.filter(role=role, user=world.carol).exists()
    assert described.splitlines()[:3] == ["[Type]\tAdmin", "[users]", world.carol.principal_name]

    ok(world, f"revoke reader from RAM${world.carol.username}")
    ok(world, "drop role reader")
    assert not world.project.roles.filter(name="reader").exists()


def test_whoami_names_the_caller_and_their_roles(world):
    output = ok(world, "whoami", actor=world.admin)

    assert output.splitlines() == [f"Name: {world.admin.principal_name}", f"Project: {world.project.name}",
                                   f"Tenant: {world.project.tenant.name}", "Roles: admin"]


def test_purge_privs_removes_what_a_removed_user_kept(world):
    ok(world, f"grant select on table customers to user {world.carol.username}")
    ok(world, f"remove user {world.carol.username}")

    output = ok(world, f"purge privs from user {world.carol.principal_name}")

    assert "Removed 1 grants, 0 label grants and 0 clearances." in output
    assert not Grant.objects.filter(user=world.carol).exists()


# --- ACL grants and what show grants prints ---------------------------------------------------

def test_a_column_grant_is_made_by_the_service_and_shown_in_maxcompute_format(world):
    output = ok(world, f"grant select (id, mobile) on table customers to user {world.carol.username}")

    grant = Grant.objects.get(user=world.carol)
    assert (grant.object_name, grant.columns, grant.actions, grant.origin, grant.grantor) == (
        "customers", ["id", "mobile"], ["Select"], Origin.STATEMENT, world.owner)
    assert output == f"OK\ngrant Select on table customers(id, mobile) to user {world.carol.principal_name}"
    assert ok(world, f"show grants for {world.carol.principal_name}").splitlines() == [
        "[roles]", "", "Authorization Type: ACL", f"[user/{world.carol.principal_name}]",
        f"A\t{path(world, '/tables/customers(id, mobile)')}: Select"]


def test_show_grants_lists_the_roles_their_grants_expiry_and_creator_rights(world):
    ok(world, "grant select on table * to role analyst")
    ok(world, f"grant analyst to {world.bob.username}")
    ok(world, f'grant describe, select on table orders to user {world.bob.username} '
              f'privilegeproperties("expires"="5")')

    lines = ok(world, "show grants", actor=world.bob).splitlines()

    assert lines[:3] == ["[roles]", "analyst", ""]
    bob_grant = next(line for line in lines if "/tables/orders:" in line)
    assert bob_grant.startswith(f"A\t{path(world, '/tables/orders')}: Describe | Select\tExpires:")
    assert lines[lines.index("[role/analyst]") + 1] == f"A\t{path(world, '/tables/*')}: Select"
    assert lines[-2:] == ["Authorization Type: ObjectCreator", f"AG\t{path(world, '/tables/customers')}: All"]


def test_show_grants_on_one_object_and_show_acl(world):
    ok(world, f"grant select on table customers to user {world.carol.username}")
    ok(world, f"grant update on table orders to user {world.carol.username}")
    ok(world, "grant describe on table customers to role analyst")

    on_orders = ok(world, f"show grants for {world.carol.username} on table orders")
    acl = ok(world, f"show acl for {world.project.name}.customers on type table").splitlines()

    assert "tables/orders: Update" in on_orders and "customers" not in on_orders
    assert acl == ["Authorization Type: ACL", "[role/analyst]", f"A\t{path(world, '/tables/customers')}: Describe",
                   f"[user/{world.carol.principal_name}]", f"A\t{path(world, '/tables/customers')}: Select"]


def test_revoke_takes_the_actions_off(world):
    ok(world, f"grant select, describe on table customers to user {world.carol.username}")

    ok(world, f"revoke select on table customers from user {world.carol.username}")

    assert Grant.objects.get(user=world.carol).actions == ["Describe"]


# --- policies ---------------------------------------------------------------------------------

def test_a_policy_grant_adds_a_deny_statement_to_the_roles_policy_and_revoke_removes_it(world):
    statement = ('{} select on table orders {} role analyst privilegeproperties("policy"="true", "allow"="false")')

    ok(world, statement.format("grant", "to"))
    shown = ok(world, "show grants for role analyst").splitlines()
    policy = Policy.objects.get(project=world.project, role=world.analyst)

    assert '"Effect": "Deny"' in policy.document
    assert shown == ["Authorization Type: Policy", "[role/analyst]", f"D\t{path(world, '/tables/orders')}: Select"]
    ok(world, statement.format("revoke", "from"))
    assert not Policy.objects.filter(role=world.analyst).exists()


def test_put_policy_replaces_the_project_policy_and_get_policy_prints_it(world):
    document = ('{"Version": "1", "Statement": [{"Effect": "Allow", "Principal": "%s", "Action": ["odps:Select"], '
                '"Resource": ["acs:odps:*:projects/%s/tables/orders"], '
                '"Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}'
                % (world.carol.principal_name, world.project.name))

    ok(world, f"put policy {document}")
    printed = ok(world, "get policy")
    carols = ok(world, f"show grants for {world.carol.username}")

    assert printed == Policy.objects.get(project=world.project, role=None).document and "odps:Select" in printed
    assert f"[project]\nAC\t{path(world, '/tables/orders')}: Select" in carols


# --- switches, protection, trusted projects, whitelists ---------------------------------------

def test_flags_and_protection_are_set_and_shown(world):
    exception = ('{"Version": "1", "Statement": [{"Effect": "Allow", "Principal": "%s", "Action": ["odps:Select"], '
                 '"Resource": ["acs:odps:*:projects/%s/tables/orders"]}]}' % (world.bob.principal_name,
                                                                               world.project.name))
    ok(world, "set LabelSecurity=true")
    ok(world, f"set ProjectProtection=true with exception {exception}")

    shown = ok(world, "show SecurityConfiguration", actor=world.security).splitlines()

    security = project_security(world.project)
    assert security.label_security and security.project_protection and security.protection_exception
    assert "LabelSecurity=true" in shown and "ProjectProtection=true" in shown and "Exception policy:" in shown


def test_trusted_projects_and_ip_whitelists(world):
    other = make_project(world.owner)

    ok(world, f"add trustedproject {other.name}")
    listed = ok(world, "list trustedprojects")
    ok(world, "setproject odps.security.ip.whitelist=10.0.0.0/8,192.168.1.1")
    properties = ok(world, "setproject")

    assert listed == other.name
    assert project_security(world.project).ip_whitelist == ["10.0.0.0/8", "192.168.1.1"]
    assert "odps.security.ip.whitelist=10.0.0.0/8,192.168.1.1" in properties.splitlines()
    ok(world, f"remove trustedproject {other.name}")
    assert not TrustedProject.objects.filter(project=world.project).exists()


# --- LabelSecurity ----------------------------------------------------------------------------

def test_labels_clearances_and_label_grants(world):
    ok(world, "set label 2 to table customers")
    ok(world, "set label 3 to table customers(mobile)")
    ok(world, f"set label 2 to user {world.carol.username}")
    ok(world, "set label 1 to role analyst")
    ok(world, f"grant label 3 on table customers(mobile) to user {world.carol.username} with exp 10")

    shown = ok(world, f"show label grants for user {world.carol.username}").splitlines()
    own = ok(world, "show label 3 grants", actor=world.carol).splitlines()
    described = ok(world, "describe customers").splitlines()

    assert TableLabel.objects.get(table=world.customers).level == 2
    assert world.customers.columns.get(name="mobile").sensitivity_level == 3
    assert Clearance.objects.get(user=world.carol).level == 2 and Clearance.objects.get(role=world.analyst).level == 1
    grant = LabelGrant.objects.get(user=world.carol)
    assert (grant.level, grant.columns) == (3, ["mobile"])
    assert timedelta(days=9) < grant.expires_at - timezone.now() <= timedelta(days=10)
    assert shown[:3] == ["User Label: 2", f"[user/{world.carol.principal_name}]",
                         f"{path(world, '/tables/customers')}(mobile): Label 3\tExpires:"
                         f"{grant.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    assert own == shown
    assert "Label: 2" in described and "mobile\ttext\tLabel 3" in described and "id\ttext\tLabel 2" in described

    ok(world, f"revoke label on table customers from user {world.carol.username}")
    assert not LabelGrant.objects.filter(user=world.carol).exists()


def test_a_label_grant_without_expiry_lasts_180_days_and_clear_expired_grants_removes_expired_ones(world):
    ok(world, f"grant label 2 on table orders to user {world.carol.username}")
    expired = LabelGrant.objects.create(project=world.project, table=world.customers, user=world.bob, level=1,
                                        expires_at=timezone.now() - timedelta(days=1))
    security_version_bump(world.project, actor=world.owner, summary="a label grant that has expired")

    output = ok(world, "clear expired grants")

    assert "clear expired grants" in output
    assert not LabelGrant.objects.filter(pk=expired.pk).exists()
    kept = LabelGrant.objects.get(user=world.carol)
    assert timedelta(days=179) < kept.expires_at - timezone.now() <= timedelta(days=180)


# --- packages ---------------------------------------------------------------------------------

def test_a_package_travels_from_provider_to_consumer_and_back(world):
    provider, consumer = world.project, make_project(world.owner)
    member_add(actor=world.owner, project=consumer, user=world.carol)

    ok(world, "create package shared")
    ok(world, "add table customers to package shared")
    ok(world, f"allow project {consumer.name} to install package shared using label 2")
    provider_view = ok(world, "describe package shared")
    package = Package.objects.get(project=provider, name="shared")
    assert package.objects_in.get().actions == ["Describe", "Select"]
    assert PackageAllowance.objects.get(package=package).label_limit == 2
    assert provider_view.splitlines()[:3] == [f"Package: {provider.name}.shared", "Objects:",
                                              "table customers: Describe | Select"]

    ok(world, f"install package {provider.name}.shared", project=consumer)
    ok(world, f"grant read on package {provider.name}.shared to user {world.carol.username}", project=consumer)
    ok(world, f'grant select on table customers to user {world.carol.username} privilegeproperties('
              f'"refobject"="true", "refproject"="{provider.name}", "package"="shared")', project=consumer)
    install = PackageInstall.objects.get(package=package, consumer=consumer)
    whole, one_object = Grant.objects.filter(project=consumer).order_by("pk")
    assert (whole.object_type, whole.object_name, whole.package_install) == ("package", f"{provider.name}.shared",
                                                                            install)
    assert (one_object.object_name, one_object.package_install) == ("customers", install)
    packages = ok(world, "show packages", project=consumer)
    assert f"{provider.name}.shared" in packages
    assert "table customers: Describe | Select" in ok(world, f"describe package {provider.name}.shared",
                                                         project=consumer)
    carols = ok(world, f"show grants for {world.carol.username}", project=consumer)
    assert f"A\tprojects/{provider.name}/packages/shared: Read" in carols
    assert f"A\tprojects/{provider.name}/packages/shared/tables/customers: Select" in carols
    acl = ok(world, f"show acl for {provider.name}.shared on type package", project=consumer)
    assert f"[user/{world.carol.principal_name}]" in acl

    ok(world, f"uninstall package {provider.name}.shared", project=consumer)
    assert not Grant.objects.filter(project=consumer).exists()
    ok(world, f"disallow project {consumer.name} to install package shared")
    ok(world, "remove table customers from package shared")
    ok(world, "delete package shared")
    assert not Package.objects.filter(project=provider).exists()


# --- failures change nothing and are still audited --------------------------------------------

def _state(project):
    project = Project.objects.get(pk=project.pk)
    return security_facts(project), version_count(project), project.security_version


def _statement_events():
    return list(Event.objects.filter(action=STATEMENT_EVENT).order_by("pk"))


@pytest.mark.parametrize(("statement", "message"), [
    ("grant select on table customers to user nobody", "Unknown user nobody"),
    ("grant select on table customers to user RAM$elsewhere:bob", "Unknown user RAM$elsewhere:bob"),
    ("grant select on table customers to user `RAM$acme:role/reader`", "is a RAM role"),
    ("grant select on table customers to role nosuchrole", "No role named nosuchrole"),
    ("grant select on table elsewhere.customers to role analyst", "runs in project"),
    ("describe elsewhere.customers", "runs in project"),
    ("grant select on table nosuchtable to role analyst", "No table named 'nosuchtable'"),
    ("install package nosuchproject.pkg", "No project named 'nosuchproject'"),
])
def test_invalid_statements_change_nothing_and_say_why(world, statement, message):
    before = _state(world.project)

    result = run(world, statement)

    assert result.ok is False and result.refused is False and result.position is None
    assert message in result.error
    assert _state(world.project) == before
    event = _statement_events()[-1]
    assert event.details["ok"] is False and event.details["error"] == result.error


def test_a_refused_statement_changes_nothing_and_is_audited_as_denied(world):
    before = _state(world.project)

    result = run(world, f"grant select on table orders to user {world.bob.username}", actor=world.carol)
    refused_read = run(world, f"show grants for {world.bob.username}", actor=world.carol)

    assert result.ok is False and result.refused is True and "may not grant" in result.error
    assert refused_read.refused is True
    assert _state(world.project) == before
    assert not Event.objects.filter(action="permissions.grant").exists()
    event = _statement_events()[-2]
    assert (event.actor, event.decision, event.details["kind"]) == (world.carol, "deny", "grant")


def test_a_statement_failing_half_way_leaves_nothing_behind(world):
    # The policy text is valid JSON but names another project: the service refuses it after parsing.
    before = _state(world.project)

    result = run(world, 'put policy {"Version": "1", "Statement": [{"Effect": "Allow", "Principal": "*", '
                        '"Action": ["odps:Select"], "Resource": ["acs:odps:*:projects/elsewhere/tables/t"]}]}')

    assert result.ok is False and "Statement[0].Resource[0]" in result.error
    assert _state(world.project) == before


def test_a_syntax_error_gives_its_position_and_changes_nothing(world):
    before = _state(world.project)

    result = run(world, f"grant selec on table customers to user {world.carol.username}")

    assert (result.ok, result.position, result.statement_kind) == (False, 6, "")
    assert "did you mean 'Select'" in result.error
    assert _state(world.project) == before
    assert _statement_events()[-1].details["position"] == 6


def test_every_run_is_one_statement_event_and_the_history_is_the_callers_newest_first(world):
    ok(world, "whoami")
    ok(world, f"grant select on table customers to user {world.carol.username}")
    run(world, "show grants for nobody")
    ok(world, "whoami", actor=world.carol)
    long_text = "show grants for " + "x" * 3000

    run(world, long_text)

    history = list(console_history(user=world.owner, project=world.project))
    assert [event.details["statement"] for event in history[1:]] == [
        "show grants for nobody", f"grant select on table customers to user {world.carol.username}", "whoami"]
    assert len(history[0].details["statement"]) == MAX_AUDITED_TEXT
    assert [event.details["ok"] for event in history[1:]] == [False, True, True]
    assert [event.details["statement"] for event in console_history(user=world.carol, project=world.project)] == [
        "whoami"]
    assert Event.objects.filter(action="permissions.grant").count() == 1


def test_every_statement_form_the_parser_knows_has_a_handler():
    from apps.permissions import console
    from apps.permissions.statements import ast

    forms = {cls for cls in vars(ast).values()
             if isinstance(cls, type) and issubclass(cls, ast.Statement) and cls is not ast.Statement}

    assert forms == set(console._HANDLERS)
