"""Packages: a provider shares tables with a consumer project, end to end."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.permissions import services
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest, Step
from apps.permissions.models import Grant, Package, PackageAllowance, PackageInstall, PackageObject
from apps.permissions.runtime import decide
from apps.permissions.selectors import package_install_list, package_list
from apps.tenancy.models import Project
from apps.tenancy.roles import ADMIN
from apps.tenancy.services import member_add, role_assign
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import facts_of_kind, latest_version, make_world, nothing_changes

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    """The provider world plus a consumer project of another tenant, with members dave and
    erin and an Admin (consumer_admin)."""
    world = make_world()
    consumer_owner = make_owner()
    consumer = make_project(consumer_owner)
    dave, erin, consumer_admin = (make_subaccount(consumer_owner) for _ in range(3))
    for user in (dave, erin, consumer_admin):
        member_add(actor=consumer_owner, project=consumer, user=user)
    role_assign(actor=consumer_owner, role=consumer.roles.get(name=ADMIN), user=consumer_admin)
    return SimpleNamespace(**vars(world), consumer_owner=consumer_owner, consumer=consumer, dave=dave, erin=erin,
                           consumer_admin=consumer_admin)


def shared(world, name="share", label=0) -> Package:
    """``name`` holding customers (the default actions), allowed to the consumer."""
    package = services.package_create(actor=world.owner, project=world.project, name=name)
    services.package_object_add(actor=world.owner, package=package, object_type="table", object_name="customers")
    services.package_allow(actor=world.owner, package=package, consumer_name=world.consumer.name, label=label)
    return package


def installed(world, name="share", label=0) -> PackageInstall:
    package = shared(world, name, label)
    return services.package_install(actor=world.consumer_owner, consumer=world.consumer,
                                    provider_name=world.project.name, package_name=package.name)


def reads(world, user, columns=("id",)):
    return decide(AccessRequest(principal=user.principal_name, project=world.project.name, action="Select",
                                object_type="table", object_name="customers", columns=columns,
                                via_project=world.consumer.name,
                                context=RequestContext(current_time=timezone.now())))


def security_version(project) -> int:
    return Project.objects.get(pk=project.pk).security_version


def test_a_package_flows_from_provider_to_consumer_and_back_out(world):
    services.security_flag_set(actor=world.owner, project=world.project, name="LabelSecurity", value=True)
    services.table_label_set(actor=world.owner, project=world.project, table_name="customers", level=3,
                             columns=["mobile"])
    package = services.package_create(actor=world.owner, project=world.project, name="Share")
    item = services.package_object_add(actor=world.owner, package=package, object_type="TABLE",
                                       object_name="Customers")
    assert (item.object_name, item.actions, item.table) == ("customers", ["Describe", "Select"], world.customers)
    assert facts_of_kind(latest_version(world.project).added, "package_object") == [{
        "kind": "package_object", "package": "Share", "object_type": "table", "object": "customers",
        "actions": ["Describe", "Select"]}]

    consumer_before = security_version(world.consumer)
    services.package_allow(actor=world.owner, package=package, consumer_name=world.consumer.name.upper(), label=2)
    assert security_version(world.consumer) == consumer_before + 1
    assert facts_of_kind(latest_version(world.project).added, "package_allowance")[0]["label"] == 2

    provider_before = security_version(world.project)
    install = services.package_install(actor=world.consumer_admin, consumer=world.consumer,
                                       provider_name=world.project.name, package_name="share")
    assert security_version(world.project) == provider_before + 1
    assert facts_of_kind(latest_version(world.consumer).added, "package_install") == [{
        "kind": "package_install", "provider": world.project.name, "package": "Share"}]
    assert not reads(world, world.dave).allowed

    whole = services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                                  object_type="package", object_name=f"{world.project.name}.share", actions=["read"])
    assert (whole.object_name, whole.package_install) == (f"{world.project.name}.Share", install)
    refobject = services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.erin,
                                      object_type="table", object_name="customers", actions=["Select"],
                                      columns=["id"], package_install=install, origin="package")
    assert latest_version(world.consumer).summary.endswith(
        f'privilegeproperties("refobject"="true", "refproject"="{world.project.name}", "package"="Share")')

    dave_reads = reads(world, world.dave)
    assert dave_reads.allowed and dave_reads.step == Step.PACKAGE
    assert reads(world, world.erin).allowed
    assert not reads(world, world.erin, columns=("email",)).allowed, "erin was granted column id only"
    above_cap = reads(world, world.dave, columns=("id", "mobile"))
    assert not above_cap.allowed and above_cap.denied_columns == ("mobile",), "the package caps labels at 2"

    services.package_uninstall(actor=world.consumer_owner, consumer=world.consumer,
                               provider_name=world.project.name.upper(), package_name="SHARE")
    assert not PackageInstall.objects.exists()
    assert not Grant.objects.filter(pk__in=[whole.pk, refobject.pk]).exists()
    assert not reads(world, world.dave).allowed
    assert Event.objects.get(action="permissions.package_uninstall").details["grants_removed"] == 2


def test_package_names_follow_maxcompute(world):
    services.package_create(actor=world.owner, project=world.project, name="Sales_2024")
    for name in ("1sales", "sales-eu", "x" * 129, "SALES_2024", ""):
        with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
            services.package_create(actor=world.owner, project=world.project, name=name)
        assert "name" in raised.value.message_dict
    assert services.package_create(actor=world.owner, project=world.project, name="_" + "x" * 127).name


def test_only_security_managers_run_the_provider_side(world):
    package = services.package_create(actor=world.security, project=world.project, name="share")
    for call in (lambda actor: services.package_create(actor=actor, project=world.project, name="other"),
                 lambda actor: services.package_object_add(actor=actor, package=package, object_type="table",
                                                           object_name="orders"),
                 lambda actor: services.package_allow(actor=actor, package=package,
                                                      consumer_name=world.consumer.name),
                 lambda actor: services.package_drop(actor=actor, package=package)):
        for actor in (world.admin, world.carol, world.consumer_owner):
            with nothing_changes(world.project), pytest.raises(PermissionDenied):
                call(actor)


@pytest.mark.parametrize("arguments, field", [
    ({"object_type": "table", "object_name": "missing"}, "object_name"),
    ({"object_type": "table", "object_name": "other.customers"}, "object_name"),
    ({"object_type": "project", "object_name": "x"}, "object_type"),
    ({"object_type": "table", "object_name": "customers", "actions": ["Execute"]}, "actions"),
    ({"object_type": "function", "object_name": "bad name"}, "object_name"),
])
def test_bad_package_objects_are_refused(world, arguments, field):
    package = services.package_create(actor=world.owner, project=world.project, name="share")
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.package_object_add(actor=world.owner, package=package, **arguments)
    assert field in raised.value.message_dict


def test_adding_an_object_again_replaces_its_actions_and_the_limit_holds(world, monkeypatch):
    package = services.package_create(actor=world.owner, project=world.project, name="share")
    services.package_object_add(actor=world.owner, package=package, object_type="table", object_name="customers")
    item = services.package_object_add(actor=world.owner, package=package, object_type="table",
                                       object_name="customers", actions=["describe"])
    assert item.actions == ["Describe"] and PackageObject.objects.count() == 1
    assert services.package_object_add(actor=world.owner, package=package, object_type="function",
                                       object_name="mask_phone").actions == ["Read", "Execute"]

    monkeypatch.setattr(services, "MAX_OBJECTS_PER_PACKAGE", 2)
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.package_object_add(actor=world.owner, package=package, object_type="table", object_name="orders")
    assert "at most 2 objects" in raised.value.message_dict["object_name"][0]


def test_installing_needs_an_allowance_in_force(world):
    package = services.package_create(actor=world.owner, project=world.project, name="share")
    install = {"actor": world.consumer_owner, "consumer": world.consumer, "provider_name": world.project.name,
               "package_name": "share"}
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
        services.package_install(**install)
    assert "has not allowed" in raised.value.message_dict["package_name"][0]

    services.package_allow(actor=world.owner, package=package, consumer_name=world.consumer.name,
                           expires_at=timezone.now() + timedelta(days=1))
    PackageAllowance.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
        services.package_install(**install)
    assert "expired" in raised.value.message_dict["package_name"][0]


@pytest.mark.parametrize("arguments, field", [
    ({"provider_name": "no_such_project"}, "provider_name"),
    ({"package_name": "no_such_package"}, "package_name"),
])
def test_installing_a_missing_package_is_refused(world, arguments, field):
    shared(world)
    call = {"provider_name": world.project.name, "package_name": "share"} | arguments
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
        services.package_install(actor=world.consumer_owner, consumer=world.consumer, **call)
    assert field in raised.value.message_dict


def test_installing_twice_or_past_the_limit_is_refused(world, monkeypatch):
    installed(world)
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
        services.package_install(actor=world.consumer_owner, consumer=world.consumer,
                                 provider_name=world.project.name, package_name="share")
    assert "already installed" in raised.value.message_dict["package_name"][0]

    shared(world, "second")
    monkeypatch.setattr(services, "MAX_INSTALLS_FROM_ONE_PROVIDER", 1)
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
        services.package_install(actor=world.consumer_owner, consumer=world.consumer,
                                 provider_name=world.project.name, package_name="second")
    assert "at most 1 packages" in raised.value.message_dict["package_name"][0]


def test_plain_members_may_not_install_or_uninstall(world):
    shared(world)
    with nothing_changes(world.project, world.consumer), pytest.raises(PermissionDenied):
        services.package_install(actor=world.dave, consumer=world.consumer, provider_name=world.project.name,
                                 package_name="share")
    services.package_install(actor=world.consumer_admin, consumer=world.consumer, provider_name=world.project.name,
                             package_name="share")
    with nothing_changes(world.project, world.consumer), pytest.raises(PermissionDenied):
        services.package_uninstall(actor=world.dave, consumer=world.consumer, provider_name=world.project.name,
                                   package_name="share")
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError):
        services.package_uninstall(actor=world.consumer_owner, consumer=world.consumer,
                                   provider_name=world.project.name, package_name="nothing")


def test_a_consumer_grants_at_most_what_the_package_shares_on_what_it_holds(world):
    install = installed(world)
    for arguments, field in (({"actions": ["Update"]}, "actions"), ({"object_name": "orders"}, "object_name"),
                             ({"columns": ["nope"]}, "columns")):
        call = {"object_type": "table", "object_name": "customers", "actions": ["Select"]} | arguments
        with nothing_changes(world.consumer), pytest.raises(ValidationError) as raised:
            services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                                  package_install=install, **call)
        assert field in raised.value.message_dict
    with nothing_changes(world.project), pytest.raises(ValidationError):
        services.grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                              object_type="table", object_name="customers", actions=["Select"],
                              package_install=install)


def test_removing_an_object_from_a_package_takes_the_consumers_grants_on_it(world):
    install = installed(world)
    package = install.package
    services.package_object_add(actor=world.owner, package=package, object_type="table", object_name="orders")
    services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="table", object_name="customers", actions=["Select"], package_install=install)
    kept = services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                                 object_type="table", object_name="orders", actions=["Select"],
                                 package_install=install)
    consumer_before = security_version(world.consumer)

    services.package_object_remove(actor=world.owner, package=package, object_type="table", object_name="CUSTOMERS")

    assert list(Grant.objects.filter(project=world.consumer)) == [kept]
    assert security_version(world.consumer) == consumer_before + 1
    with nothing_changes(world.project), pytest.raises(ValidationError):
        services.package_object_remove(actor=world.owner, package=package, object_type="table",
                                       object_name="customers")


def test_disallowing_keeps_the_install_but_stops_the_flow(world):
    install = installed(world)
    services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="package", object_name=f"{world.project.name}.share", actions=["Read"])
    assert reads(world, world.dave).allowed

    services.package_disallow(actor=world.owner, package=install.package, consumer_name=world.consumer.name)

    assert PackageInstall.objects.filter(pk=install.pk).exists() and not PackageAllowance.objects.exists()
    assert not reads(world, world.dave).allowed
    with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError):
        services.package_disallow(actor=world.owner, package=install.package, consumer_name=world.consumer.name)


def test_dropping_an_installed_package_takes_its_installs_and_grants(world):
    install = installed(world)
    services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="package", object_name=f"{world.project.name}.share", actions=["Read"])
    consumer_before = security_version(world.consumer)

    services.package_drop(actor=world.owner, package=install.package)

    assert not Package.objects.exists() and not PackageInstall.objects.exists()
    assert not Grant.objects.filter(project=world.consumer).exists()
    assert security_version(world.consumer) == consumer_before + 1
    assert {fact["kind"] for fact in latest_version(world.consumer).removed} == {"package_install", "grant"}
    assert Event.objects.get(action="permissions.package_drop").details == {"installed_in": [world.consumer.name]}


def test_allowing_rejects_unknown_projects_the_provider_itself_and_bad_labels(world):
    package = services.package_create(actor=world.owner, project=world.project, name="share")
    for arguments, field in (({"consumer_name": "no_such_project"}, "consumer_name"),
                             ({"consumer_name": world.project.name}, "consumer_name"),
                             ({"consumer_name": world.consumer.name, "label": 10}, "label"),
                             ({"consumer_name": world.consumer.name,
                               "expires_at": timezone.now() - timedelta(days=1)}, "expires_at")):
        with nothing_changes(world.project, world.consumer), pytest.raises(ValidationError) as raised:
            services.package_allow(actor=world.owner, package=package, **arguments)
        assert field in raised.value.message_dict


def test_package_selectors_list_what_a_project_provides_and_installed(world):
    install = installed(world)
    [package] = package_list(user=world.owner, project=world.project)
    assert [item.object_name for item in package.objects_in.all()] == ["customers"]
    assert [allowance.consumer for allowance in package.allowances.all()] == [world.consumer]
    assert list(package_install_list(user=world.consumer_owner, project=world.consumer)) == [install]
    assert not package_list(user=world.consumer_owner, project=world.project).exists()


def test_grants_on_an_installed_package_are_revoked_by_name(world):
    install = installed(world)
    services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="package", object_name=f"{world.project.name}.share", actions=["Read"])
    services.grant_create(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="table", object_name="customers", actions=["Describe", "Select"],
                          package_install=install)
    with nothing_changes(world.consumer), pytest.raises(ValidationError):
        services.grant_revoke(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                              object_type="table", object_name="customers", actions=["Select"])

    services.grant_revoke(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="package", object_name=f"{world.project.name.upper()}.SHARE", actions=["Read"])
    services.grant_revoke(actor=world.consumer_owner, project=world.consumer, subject_user=world.dave,
                          object_type="table", object_name="customers", actions=["Select"], package_install=install)

    assert list(Grant.objects.filter(project=world.consumer).values_list("object_type", "actions")) == [
        ("table", ["Describe"])]
