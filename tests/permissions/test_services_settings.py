"""The project's switches, ProjectProtection, trusted projects, IP whitelists and policies."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import Event
from apps.permissions import services
from apps.permissions.models import Policy, ProjectSecurity, TenantSecurity, TrustedProject
from apps.tenancy.models import Project
from tests.factories import make_owner, make_project
from tests.permissions.services_world import facts_of_kind, latest_version, make_world, nothing_changes

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_world()


def project_policy(principal="*", effect="Deny", action="odps:Select", table="customers", project="{project}"):
    return {"Version": "1", "Statement": [{
        "Effect": effect, "Principal": principal, "Action": [action],
        "Resource": [f"acs:odps:*:projects/{project}/tables/{table}"]}]}


# --- switches ---------------------------------------------------------------------------------

def test_a_flag_is_set_by_any_spelling_of_its_name_and_versioned(world):
    services.security_flag_set(actor=world.owner, project=world.project, name="labelsecurity", value=True)

    assert ProjectSecurity.objects.get(project=world.project).label_security is True
    version = latest_version(world.project)
    assert version.summary == "set LabelSecurity=true"
    assert facts_of_kind(version.added, "setting") == [{"kind": "setting", "name": "LabelSecurity", "value": True}]
    assert facts_of_kind(version.removed, "setting") == [{"kind": "setting", "name": "LabelSecurity",
                                                          "value": False}]
    assert Event.objects.get(action="permissions.setting").details == {"LabelSecurity": {"from": False, "to": True}}

    with nothing_changes(world.project):
        services.security_flag_set(actor=world.owner, project=world.project, name="LABELSECURITY", value=True)


@pytest.mark.parametrize("name, value, field", [("NoSuchFlag", True, "name"), ("LabelSecurity", "true", "value"),
                                                ("LabelSecurity", 1, "value")])
def test_unknown_flags_and_non_booleans_are_refused(world, name, value, field):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.security_flag_set(actor=world.owner, project=world.project, name=name, value=value)
    assert field in raised.value.message_dict


def test_the_security_configuration_is_the_security_administrators_and_not_admins(world):
    services.security_flag_set(actor=world.security, project=world.project, name="NoWriteDown", value=True)
    stranger = make_owner()
    for actor in (world.admin, world.carol, stranger):
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.security_flag_set(actor=actor, project=world.project, name="CheckPermissionUsingACL",
                                       value=False)
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.ip_whitelist_set(actor=actor, project=world.project, network="ip", entries=["10.0.0.0/8"])
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.policy_put(actor=actor, project=world.project, document="")


# --- ProjectProtection and trusted projects -----------------------------------------------------

def test_protection_with_an_exception_policy_and_off_again(world):
    exception = json.dumps(project_policy(principal=world.carol.principal_name, effect="allow",
                                          project=world.project.name))
    services.project_protection_set(actor=world.owner, project=world.project, enabled=True,
                                    exception_policy=exception)

    security = ProjectSecurity.objects.get(project=world.project)
    assert security.project_protection is True
    assert json.loads(security.protection_exception)["Statement"][0]["Effect"] == "Allow"
    version = latest_version(world.project)
    assert version.summary == "set ProjectProtection=true with exception <policy>"
    assert [fact["kind"] for fact in version.added] == ["setting", "protection_exception"]

    services.project_protection_set(actor=world.owner, project=world.project, enabled=False)
    security.refresh_from_db()
    assert (security.project_protection, security.protection_exception) == (False, "")


@pytest.mark.parametrize("enabled, policy, message", [
    (True, "{not json", "not valid JSON"),
    (True, "deny", "Statement[0].Effect"),
    (False, "allow", "only applies while ProjectProtection is on"),
])
def test_bad_exception_policies_are_refused(world, enabled, policy, message):
    if policy in ("deny", "allow"):
        policy = project_policy(effect=policy, project=world.project.name)
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.project_protection_set(actor=world.owner, project=world.project, enabled=enabled,
                                        exception_policy=policy)
    assert message in raised.value.message_dict["exception_policy"][0]


def test_trusted_projects_of_any_tenant_are_added_and_removed(world):
    other_tenants = make_project(make_owner())
    row = services.trusted_project_add(actor=world.owner, project=world.project,
                                       trusted_name=other_tenants.name.upper())
    assert row.trusted == other_tenants
    assert facts_of_kind(latest_version(world.project).added, "trusted_project") == [
        {"kind": "trusted_project", "project": other_tenants.name}]

    for name in (other_tenants.name, "no_such_project", world.project.name):
        with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
            services.trusted_project_add(actor=world.owner, project=world.project, trusted_name=name)
        assert "trusted_name" in raised.value.message_dict

    services.trusted_project_remove(actor=world.owner, project=world.project, trusted_name=other_tenants.name)
    assert not TrustedProject.objects.exists()
    assert latest_version(world.project).summary == f"remove trustedproject {other_tenants.name}"
    with nothing_changes(world.project), pytest.raises(ValidationError):
        services.trusted_project_remove(actor=world.owner, project=world.project, trusted_name=other_tenants.name)


# --- IP whitelists ----------------------------------------------------------------------------

def test_a_project_whitelist_is_stored_canonically_and_cleared_by_an_empty_list(world):
    services.ip_whitelist_set(actor=world.owner, project=world.project, network="vpc",
                              entries="10.1.2.3/8, 192.168.0.1-192.168.0.9,")
    security = ProjectSecurity.objects.get(project=world.project)
    assert security.vpc_whitelist == ["10.0.0.0/8", "192.168.0.1-192.168.0.9"] and security.ip_whitelist == []
    assert latest_version(world.project).summary == \
        "setproject odps.security.vpc.whitelist=10.0.0.0/8,192.168.0.1-192.168.0.9"

    services.ip_whitelist_set(actor=world.owner, project=world.project, network="vpc", entries=[])
    security.refresh_from_db()
    assert security.vpc_whitelist == []
    assert facts_of_kind(latest_version(world.project).removed, "ip_whitelist")[0]["scope"] == "project"


@pytest.mark.parametrize("network, entries, field", [("ip", ["10.0.0.300"], "entries"),
                                                     ("ip", ["10.0.0.9-10.0.0.1"], "entries"),
                                                     ("wifi", ["10.0.0.1"], "network")])
def test_bad_whitelists_are_refused(world, network, entries, field):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.ip_whitelist_set(actor=world.owner, project=world.project, network=network, entries=entries)
    assert field in raised.value.message_dict


def test_the_tenant_whitelist_versions_every_project_of_the_tenant(world):
    second = make_project(world.owner)
    before = {project.pk: project.security_version for project in Project.objects.filter(tenant=world.owner.tenant)}

    services.tenant_ip_whitelist_set(actor=world.owner, tenant=world.owner.tenant, network="ip",
                                     entries=["203.0.113.0/24"])

    assert TenantSecurity.objects.get(tenant=world.owner.tenant).ip_whitelist == ["203.0.113.0/24"]
    for project in (world.project, second):
        assert Project.objects.get(pk=project.pk).security_version == before[project.pk] + 1
        assert facts_of_kind(latest_version(project).added, "ip_whitelist") == [
            {"kind": "ip_whitelist", "scope": "tenant", "network": "ip", "entries": ["203.0.113.0/24"]}]
    assert Event.objects.filter(action="permissions.tenant_ip_whitelist").count() == 1


def test_only_the_tenants_owner_and_administrators_set_its_whitelist(world):
    stranger = make_owner()
    for actor in (world.carol, world.admin, stranger):
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.tenant_ip_whitelist_set(actor=actor, tenant=world.owner.tenant, network="ip",
                                             entries=["10.0.0.0/8"])
    assert not TenantSecurity.objects.exists()


# --- policies ---------------------------------------------------------------------------------

def test_put_policy_stores_the_canonical_document_and_an_empty_one_deletes_it(world):
    document = project_policy(project=world.project.name)
    document["statement"] = document.pop("Statement")

    policy = services.policy_put(actor=world.security, project=world.project, document=json.dumps(document))

    stored = json.loads(policy.document)
    assert stored["Statement"][0]["Principal"] == ["*"] and stored["Statement"][0]["Effect"] == "Deny"
    assert facts_of_kind(latest_version(world.project).added, "policy")[0]["role"] is None
    assert latest_version(world.project).summary == "put policy (1 statements)"

    assert services.policy_put(actor=world.owner, project=world.project,
                               document={"Version": "1", "Statement": []}) is None
    assert not Policy.objects.exists()
    assert Event.objects.filter(action="permissions.policy_put").count() == 2
    with nothing_changes(world.project):
        assert services.policy_put(actor=world.owner, project=world.project, document="  ") is None


def test_a_bad_policy_names_the_bad_part(world):
    document = project_policy(project=world.project.name)
    document["Statement"][0]["Resource"] = ["acs:odps:*:projects/another/tables/t"]
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.policy_put(actor=world.owner, project=world.project, document=document)
    assert raised.value.message_dict["document"][0].startswith("Statement[0].Resource[0]:")

    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.policy_put(actor=world.owner, project=world.project, role=world.analyst, document=document)
    assert any("names no Principal" in message for message in raised.value.message_dict["document"])


def test_a_role_of_another_project_has_no_policy_here(world):
    foreign = make_project(world.owner).roles.get(name="admin")
    role_document = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "odps:Select",
                                                    "Resource": f"acs:odps:*:projects/{world.project.name}"}]}
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.policy_put(actor=world.owner, project=world.project, role=foreign, document=role_document)
    assert "role" in raised.value.message_dict


def test_policy_grants_append_statements_and_revokes_remove_exact_matches(world):
    services.policy_statement_add(actor=world.owner, project=world.project, role=world.analyst, effect="allow",
                                  actions=["select", "describe"], object_type="table", object_name="t_app_*")
    policy = services.policy_statement_add(actor=world.owner, project=world.project, role=world.analyst,
                                           effect="deny", actions=["Select"], object_type="table",
                                           object_name="customers", condition="acs:SourceIp in ('10.0.0.0/8')",
                                           expires_days=30)

    statements = json.loads(policy.document)["Statement"]
    assert statements[0] == {"Effect": "Allow", "Action": ["odps:Describe", "odps:Select"],
                             "Resource": [f"acs:odps:*:projects/{world.project.name}/tables/t_app_*"]}
    assert statements[1]["Effect"] == "Deny"
    assert statements[1]["Condition"]["IpAddress"] == {"acs:SourceIp": ["10.0.0.0/8"]}
    assert list(statements[1]["Condition"]["DateLessThan"]) == ["acs:CurrentTime"]
    assert latest_version(world.project).summary == ('grant Select on table customers to role analyst '
                                                     'privilegeproperties("policy"="true", "allow"="false")')

    for arguments in ({"effect": "allow"}, {"actions": ["Select", "Update"]}, {"object_name": "orders"}):
        call = {"effect": "deny", "actions": ["Select"], "object_type": "table", "object_name": "customers"} | arguments
        with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
            services.policy_statement_remove(actor=world.owner, project=world.project, role=world.analyst, **call)
        assert "No such policy entry" in str(raised.value)

    policy = services.policy_statement_remove(actor=world.owner, project=world.project, role=world.analyst,
                                              effect="Deny", actions=["select"], object_type="table",
                                              object_name="CUSTOMERS")
    assert len(json.loads(policy.document)["Statement"]) == 1
    assert services.policy_statement_remove(actor=world.owner, project=world.project, role=world.analyst,
                                            effect="allow", actions=["Describe", "Select"], object_type="table",
                                            object_name="t_app_*") is None
    assert not Policy.objects.exists()


@pytest.mark.parametrize("arguments, field", [
    ({"effect": "maybe"}, "effect"),
    ({"actions": ["Execute"]}, "actions"),
    ({"object_type": "view"}, "object_type"),
    ({"expires_days": 0}, "expires_days"),
    ({"condition": "acs:NoSuchKey = 'x'"}, "condition"),
    ({"condition": {"DateLessThan": {"acs:CurrentTime": ["2030-01-01T00:00:00Z"]}}, "expires_days": 3},
     "expires_days"),
    ({"object_type": "project", "object_name": "elsewhere"}, "object_name"),
])
def test_bad_policy_grants_are_refused(world, arguments, field):
    call = {"effect": "allow", "actions": ["Select"], "object_type": "table", "object_name": "customers"} | arguments
    if call["object_type"] == "project":
        call["actions"] = ["List"]
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.policy_statement_add(actor=world.owner, project=world.project, role=world.analyst, **call)
    assert field in raised.value.message_dict


def test_admins_may_not_write_policies(world):
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.policy_statement_add(actor=world.admin, project=world.project, role=world.analyst, effect="allow",
                                      actions=["Select"], object_type="table", object_name="customers")
