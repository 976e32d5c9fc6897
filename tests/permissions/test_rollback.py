"""Rolling a project's security state back to an earlier version: the rows say again what
they said then, the rollback is a version of its own, and what can no longer be applied is
reported rather than half-applied."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.audit.models import Event
from apps.catalog.models import Table
from apps.catalog.services import warehouse_source_ensure
from apps.permissions import services
from apps.permissions.facts import fact_key
from apps.permissions.models import (
    Clearance,
    Grant,
    LabelGrant,
    PackageInstall,
    Policy,
    ProjectSecurity,
    SecurityState,
    SecurityVersion,
    TableLabel,
    TenantSecurity,
    TrustedProject,
)
from apps.permissions.rollback import security_rollback
from apps.permissions.selectors import security_facts
from apps.permissions.versions import UNVERSIONED_KINDS, facts_at
from apps.tenancy.models import Membership, Role, RoleAssignment
from apps.tenancy.services import member_add, security_version_bump
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def current_version(project) -> int:
    return SecurityState.objects.get(project=project).version


def versioned_keys(project) -> set[str]:
    return {fact_key(fact) for fact in security_facts(project) if fact["kind"] not in UNVERSIONED_KINDS}


def keys_at(project, number: int) -> set[str]:
    return {fact_key(fact) for fact in facts_at(project, number)}


def changed(project, actor, summary: str) -> int:
    security_version_bump(project, actor=actor, summary=summary)
    return current_version(project)


def project_policy(statement_count: int = 1) -> str:
    return json.dumps({"Version": "1", "Statement": [
        {"Effect": "Deny", "Action": ["odps:Drop"], "Resource": [f"acs:odps:*:projects/p/tables/t{index}"]}
        for index in range(statement_count)]})


def test_rolling_back_a_series_of_changes_restores_the_facts_of_that_version(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    start = current_version(project)
    mobile = grant.table.columns.get(name="mobile")

    Grant.objects.create(project=project, user=carol, object_type="table", object_name="customers",
                         table=grant.table, columns=["mobile"], actions=["Select"])
    changed(project, owner, "grant select on customers (mobile) to carol")
    mobile.sensitivity_level = 3
    mobile.save(update_fields=["sensitivity_level"])
    ProjectSecurity.objects.update_or_create(project=project, defaults={"label_security": True})
    changed(project, owner, "set label 3 to table customers(mobile); set LabelSecurity=true")
    analysts = Role.objects.create(project=project, name="analysts")
    RoleAssignment.objects.create(role=analysts, user=carol)
    Policy.objects.create(project=project, role=analysts, document=project_policy())
    Clearance.objects.create(project=project, role=analysts, level=2)
    grant.delete()
    changed(project, owner, "a role for analysts, and bob's grant revoked")

    result = security_rollback(actor=owner, project=project, number=start)

    assert versioned_keys(project) == keys_at(project, start)
    assert result.version.number == current_version(project) == start + 4
    assert result.version.summary == f"rollback to version {start}" and result.version.actor == owner
    assert result.added == {"grant": 1, "setting": 1}
    assert result.removed == {"grant": 1, "label": 1, "role": 1, "role_member": 1, "policy": 1, "clearance": 1}
    assert result.skipped == []
    assert not Role.objects.filter(project=project, name="analysts").exists()
    mobile.refresh_from_db()
    assert mobile.sensitivity_level is None
    event = Event.objects.get(project=project, action="permissions.rollback")
    assert event.details["target_version"] == start and event.details["version"] == start + 4
    assert event.details["removed"]["grant"] == 1 and event.details["skipped"] == []


def test_rolling_forward_again_undoes_the_rollback(column_grant_world):
    owner, project, _, carol, grant = column_grant_world
    start = current_version(project)
    Policy.objects.create(project=project, document=project_policy(2))
    Membership.objects.filter(project=project, user=carol).update(is_active=False)
    TableLabel.objects.create(table=grant.table, level=4)
    later = changed(project, owner, "project policy, carol removed, table label 4")

    security_rollback(actor=owner, project=project, number=start)
    assert Membership.objects.get(project=project, user=carol).is_active
    result = security_rollback(actor=owner, project=project, number=later)

    assert versioned_keys(project) == keys_at(project, later)
    assert result.added == {"policy": 1, "label": 1} and result.removed == {"member": 1}
    assert not Membership.objects.get(project=project, user=carol).is_active


def test_a_changed_value_is_changed_in_place_not_dropped_and_recreated(column_grant_world):
    owner, project, _, carol, grant = column_grant_world
    analysts = Role.objects.create(project=project, name="analysts")
    Grant.objects.create(project=project, role=analysts, object_type="table", object_name="*", actions=["Describe"])
    RoleAssignment.objects.create(role=analysts, user=carol)
    Policy.objects.create(project=project, role=analysts, document=project_policy(1))
    start = changed(project, owner, "role analysts")
    Role.objects.filter(pk=analysts.pk).update(role_type="admin")
    Policy.objects.filter(role=analysts).update(document=project_policy(3))
    changed(project, owner, "analysts made an admin role with a longer policy")

    result = security_rollback(actor=owner, project=project, number=start)

    assert versioned_keys(project) == keys_at(project, start)
    assert result.added == {"role": 1, "policy": 1} and result.removed == {}
    analysts.refresh_from_db()
    assert analysts.role_type == "resource"
    assert Grant.objects.filter(role=analysts).count() == 1 and RoleAssignment.objects.filter(role=analysts).exists()


def test_a_dropped_role_comes_back_with_its_members_grants_and_policy(column_grant_world):
    owner, project, _, carol, grant = column_grant_world
    analysts = Role.objects.create(project=project, name="Analysts")
    Grant.objects.create(project=project, role=analysts, object_type="table", object_name="customers",
                         table=grant.table, columns=["mobile"], actions=["Select"],
                         expires_at=timezone.now() + timezone.timedelta(days=3),
                         condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}})
    RoleAssignment.objects.create(role=analysts, user=carol)
    Policy.objects.create(project=project, role=analysts, document=project_policy())
    LabelGrant.objects.create(project=project, role=analysts, table=grant.table, columns=["mobile"], level=3,
                              expires_at=timezone.now() + timezone.timedelta(days=30))
    start = changed(project, owner, "role analysts")
    analysts.delete()
    changed(project, owner, "drop role analysts")

    result = security_rollback(actor=owner, project=project, number=start)

    assert versioned_keys(project) == keys_at(project, start)
    assert result.added == {"role": 1, "role_member": 1, "grant": 1, "policy": 1, "label_grant": 1}
    assert RoleAssignment.objects.filter(role__project=project, role__name="analysts", user=carol).exists()


def test_what_is_gone_is_skipped_and_listed_and_the_rest_applied(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    other_owner = make_owner()
    garden = make_project(other_owner)
    TrustedProject.objects.create(project=project, trusted=garden)
    TenantSecurity.objects.create(tenant=project.tenant, ip_whitelist=["10.0.0.0/8"])
    start = changed(project, owner, "trust garden; a tenant whitelist")
    TrustedProject.objects.filter(project=project).delete()
    TenantSecurity.objects.filter(tenant=project.tenant).update(ip_whitelist=[])
    Grant.objects.filter(pk=grant.pk).delete()
    Table.objects.filter(pk=grant.table_id).update(is_dropped=True)
    changed(project, owner, "customers dropped, garden untrusted, tenant whitelist cleared")
    garden.delete()

    result = security_rollback(actor=owner, project=project, number=start)

    assert sorted(result.skipped) == [
        "restore add trustedproject " + garden.name + f": project {garden.name} is gone",
        f"restore grant Select on table customers (id) to user {bob.principal_name}: table customers is gone",
        "restore setproject tenant odps.security.ip.whitelist=10.0.0.0/8: the tenant's IP whitelists are the "
        "tenant's, not the project's to roll back",
    ]
    assert result.version is None and result.added == {} and result.removed == {}
    assert Event.objects.get(project=project, action="permissions.rollback").details["skipped"] == result.skipped
    assert not Grant.objects.filter(project=project).exists()


def test_rolling_back_to_the_current_version_changes_nothing(column_grant_world):
    owner, project, *_ = column_grant_world
    number = current_version(project)
    versions = SecurityVersion.objects.filter(project=project).count()

    result = security_rollback(actor=owner, project=project, number=number)

    assert result.version is None and result.added == result.removed == {} and result.skipped == []
    assert SecurityVersion.objects.filter(project=project).count() == versions
    assert not Event.objects.filter(action="permissions.rollback").exists()


def test_only_those_who_manage_security_roll_back(column_grant_world):
    owner, project, bob, _, grant = column_grant_world
    start = current_version(project) - 1
    versions = SecurityVersion.objects.filter(project=project).count()

    with pytest.raises(PermissionDenied):
        security_rollback(actor=bob, project=project, number=start)

    assert Grant.objects.filter(pk=grant.pk).exists()
    assert SecurityVersion.objects.filter(project=project).count() == versions


def test_a_version_the_project_never_had_is_a_field_error(column_grant_world):
    owner, project, *_ = column_grant_world
    with pytest.raises(ValidationError) as error:
        security_rollback(actor=owner, project=project, number=current_version(project) + 5)
    assert "has no version" in error.value.message_dict["number"][0]


def test_packages_roll_back_and_forward_through_the_services(column_grant_world):
    owner, provider, _, carol, _ = column_grant_world
    consumer = make_project(owner)
    member_add(actor=owner, project=consumer, user=carol)
    provider_start, consumer_start = current_version(provider), current_version(consumer)
    package = services.package_create(actor=owner, project=provider, name="sales")
    services.package_object_add(actor=owner, package=package, object_type="table", object_name="customers")
    services.package_allow(actor=owner, package=package, consumer_name=consumer.name, label=2)
    install = services.package_install(actor=owner, consumer=consumer, provider_name=provider.name,
                                       package_name="sales")
    services.grant_create(actor=owner, project=consumer, subject_user=carol, object_type="table",
                          object_name="customers", actions=["Select"], package_install=install)
    installed = current_version(consumer)

    security_rollback(actor=owner, project=consumer, number=consumer_start)
    assert versioned_keys(consumer) == keys_at(consumer, consumer_start)
    assert not PackageInstall.objects.filter(consumer=consumer).exists()
    forward = security_rollback(actor=owner, project=consumer, number=installed)
    assert versioned_keys(consumer) == keys_at(consumer, installed)
    assert forward.added == {"package_install": 1, "grant": 1}

    consumer_before = current_version(consumer)
    back = security_rollback(actor=owner, project=provider, number=provider_start)

    assert versioned_keys(provider) == keys_at(provider, provider_start)
    assert back.removed == {"package": 1, "package_object": 1, "package_allowance": 1}
    # The consumer's install went with the package, and the consumer has a version that says so.
    assert not PackageInstall.objects.filter(consumer=consumer).exists()
    assert current_version(consumer) == consumer_before + 1
    assert SecurityVersion.objects.get(project=consumer, number=consumer_before + 1).summary == (
        f"rollback to version {provider_start} of {provider.name}")


# --- any sequence of changes, any version --------------------------------------------------------

FLAGS = ["label_security", "no_write_down", "project_protection", "check_permission_using_acl"]


def _grant(world, n):
    user = world["users"][n % 2]
    columns = [["id"], ["mobile"], []][n % 3]
    Grant.objects.create(project=world["project"], user=user, object_type="table", object_name="customers",
                         table=world["table"], columns=columns, actions=[["Select"], ["Select", "Update"]][n // 2 % 2])


def _revoke(world, n):
    grants = list(Grant.objects.filter(project=world["project"]).order_by("pk"))
    if grants:
        grants[n % len(grants)].delete()


def _flag(world, n):
    security, _ = ProjectSecurity.objects.get_or_create(project=world["project"])
    setattr(security, FLAGS[n % len(FLAGS)], not getattr(security, FLAGS[n % len(FLAGS)]))
    security.protection_exception = project_policy() if security.project_protection and n % 2 else ""
    security.ip_whitelist = ["10.0.0.0/8"] if n % 3 == 0 else []
    security.save()


def _label(world, n):
    column = world["table"].columns.get(name=["id", "mobile"][n % 2])
    column.sensitivity_level = [None, 1, 3][n % 3]
    column.save(update_fields=["sensitivity_level"])
    if n % 4 == 0:
        TableLabel.objects.update_or_create(table=world["table"], defaults={"level": n % 10})


def _role(world, n):
    role = Role.objects.filter(project=world["project"], name="analysts").first()
    if role is None:
        role = Role.objects.create(project=world["project"], name="analysts", role_type=["resource", "admin"][n % 2])
        RoleAssignment.objects.create(role=role, user=world["users"][n % 2])
        Grant.objects.create(project=world["project"], role=role, object_type="table", object_name="*",
                             actions=["Describe"])
        Policy.objects.create(project=world["project"], role=role, document=project_policy(n % 3))
    elif n % 3 == 0:
        role.delete()
    else:
        Clearance.objects.update_or_create(project=world["project"], role=role, defaults={"level": n % 10})


def _member(world, n):
    membership = Membership.objects.get(project=world["project"], user=world["users"][n % 2])
    membership.is_active = not membership.is_active
    membership.save(update_fields=["is_active"])


def _clearance_and_label_grant(world, n):
    user = world["users"][n % 2]
    if n % 2:
        Clearance.objects.update_or_create(project=world["project"], user=user, defaults={"level": n % 10})
    else:
        LabelGrant.objects.create(project=world["project"], user=user, table=world["table"], columns=["mobile"],
                                  level=n % 10, expires_at=timezone.now() + timezone.timedelta(days=n + 1))


CHANGES = [_grant, _revoke, _flag, _label, _role, _member, _clearance_and_label_grant]


def _world():
    owner = make_owner()
    project = make_project(owner)
    users = [make_subaccount(owner), make_subaccount(owner)]
    for user in users:
        member_add(actor=owner, project=project, user=user)
    now = timezone.now()
    table = Table.objects.create(data_source=warehouse_source_ensure(project=project), schema=project.schema_name,
                                 name="customers", first_seen_at=now, last_seen_at=now)
    for ordinal, name in enumerate(["id", "mobile"], start=1):
        table.columns.create(name=name, ordinal=ordinal, data_type="text", first_seen_at=now, last_seen_at=now)
    return {"owner": owner, "project": project, "users": users, "table": table}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(CHANGES), st.integers(0, 1000)), min_size=1, max_size=8),
       data=st.data())
def test_any_version_can_be_rolled_back_to(changes, data):
    world = _world()
    project, owner = world["project"], world["owner"]
    numbers = [current_version(project)]
    for change, n in changes:
        change(world, n)
        numbers.append(changed(project, owner, f"{change.__name__} {n}"))
    # The first version is drawn more often: rolling back the most changes finds the most.
    target = data.draw(st.sampled_from([numbers[0], *sorted(set(numbers))]), label="target")
    before = current_version(project)

    result = security_rollback(actor=owner, project=project, number=target)

    assert versioned_keys(project) == keys_at(project, target)
    assert result.skipped == []
    assert (result.version is None) == (keys_at(project, target) == keys_at(project, before))
