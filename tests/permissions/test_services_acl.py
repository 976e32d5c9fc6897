"""ACL grants and revokes, dropped objects, removed users and purge privs."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import hooks as catalog_hooks
from apps.catalog.models import Column
from apps.permissions import services
from apps.permissions.models import Clearance, Grant, LabelGrant, Origin
from apps.permissions.selectors import grant_list
from apps.tenancy.models import Membership
from apps.tenancy.services import member_add, member_remove
from tests.factories import make_owner, make_project
from tests.permissions.services_world import (
    facts_of_kind,
    latest_version,
    make_world,
    nothing_changes,
    version_count,
)

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_world()


def grant_to(world, user=None, role=None, **kwargs):
    arguments = {"object_type": "table", "object_name": "customers", "actions": ["Select"]} | kwargs
    return services.grant_create(actor=world.owner, project=world.project, subject_user=user, subject_role=role,
                                 **arguments)


def test_grant_is_stored_canonically_audited_and_versioned(world):
    versions = version_count(world.project)

    grant = services.grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                  object_type="TABLE", object_name="Customers", actions=["select", "DESCRIBE"],
                                  origin=Origin.UI)

    assert (grant.object_type, grant.object_name, grant.table, grant.actions, grant.grantor) == (
        "table", "customers", world.customers, ["Select", "Describe"], world.owner)
    assert version_count(world.project) == versions + 1
    version = latest_version(world.project)
    assert version.summary == f"grant Select, Describe on table customers to user {world.carol.principal_name}"
    assert facts_of_kind(version.added, "grant") == [{
        "kind": "grant", "subject": {"user": world.carol.principal_name}, "object_type": "table",
        "object": "customers", "columns": [], "actions": ["Describe", "Select"], "expires": None,
        "condition": None, "origin": "ui", "package": None}]
    assert version.removed == []
    event = Event.objects.get(action="permissions.grant")
    assert event.actor == world.owner and event.project == world.project
    assert event.details["actions"] == ["Select", "Describe"] and event.details["merged"] is False


def test_the_same_grant_again_merges_its_actions_into_the_existing_row(world):
    first = grant_to(world, world.carol)
    again = grant_to(world, world.carol, actions=["Update", "select"])

    assert again.pk == first.pk and Grant.objects.count() == 1
    assert again.actions == ["Select", "Update"]
    version = latest_version(world.project)
    assert facts_of_kind(version.added, "grant")[0]["actions"] == ["Select", "Update"]
    assert facts_of_kind(version.removed, "grant")[0]["actions"] == ["Select"]


def test_granting_what_is_already_granted_changes_nothing(world):
    grant_to(world, world.carol, actions=["Select", "Describe"])
    with nothing_changes(world.project):
        grant = grant_to(world, world.carol, actions=["describe"])
    assert grant.actions == ["Select", "Describe"]


def test_grants_differing_in_columns_expiry_or_condition_are_separate_rows(world):
    whole = grant_to(world, world.carol)
    columns = grant_to(world, world.carol, columns=["ID", "mobile"])
    later = grant_to(world, world.carol, expires_at=timezone.now() + timedelta(days=3))
    conditioned = grant_to(world, world.carol, condition="acs:SourceIp in ('10.0.0.0/8')")

    assert len({whole.pk, columns.pk, later.pk, conditioned.pk}) == 4
    assert columns.columns == ["id", "mobile"]
    assert conditioned.condition == {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}
    assert grant_to(world, world.carol, columns=["mobile", "id"], actions=["Update"]).pk == columns.pk


def test_every_object_is_for_roles_only(world):
    grant = grant_to(world, role=world.analyst, object_name="*")
    assert (grant.object_name, grant.table, grant.role) == ("*", None, world.analyst)
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        grant_to(world, world.carol, object_name="*")
    assert "object_name" in raised.value.message_dict


def test_project_write_is_not_grantable_and_all_on_a_project_leaves_it_out(world):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        grant_to(world, world.carol, object_type="project", object_name=world.project.name, actions=["write"])
    assert "cannot be granted" in raised.value.message_dict["actions"][0]

    grant = grant_to(world, world.carol, object_type="project", object_name=world.project.name.upper(),
                     actions=["all"])
    assert grant.object_name == world.project.name
    assert "Write" not in grant.actions and {"Read", "List", "CreateTable"} <= set(grant.actions)


@pytest.mark.parametrize("arguments, field", [
    ({"object_name": "no_such_table"}, "object_name"),
    ({"columns": ["id", "no_such_column"]}, "columns"),
    ({"object_type": "function", "object_name": "f1", "actions": ["Read"], "columns": ["id"]}, "columns"),
    ({"object_type": "project", "object_name": "another_project", "actions": ["List"]}, "object_name"),
    ({"object_type": "package", "object_name": "provider.never_installed", "actions": ["Read"]}, "object_name"),
    ({"object_type": "function", "object_name": "bad name;", "actions": ["Execute"]}, "object_name"),
    ({"object_type": "view"}, "object_type"),
    ({"actions": ["Execute"]}, "actions"),
    ({"actions": []}, "actions"),
    ({"condition": "acs:SourceIp in ('10.0.0.300')"}, "condition"),
    ({"condition": {"NoSuchOperator": {"acs:SourceIp": ["10.0.0.1"]}}}, "condition"),
])
def test_bad_grants_are_refused_field_by_field(world, arguments, field):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        grant_to(world, world.carol, **arguments)
    assert field in raised.value.message_dict


def test_an_expiry_in_the_past_is_refused(world):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        grant_to(world, world.carol, expires_at=timezone.now() - timedelta(minutes=1))
    assert "expires_at" in raised.value.message_dict


def test_functions_resources_and_instances_are_named_without_a_catalog(world):
    grant = grant_to(world, world.carol, object_type="function", object_name="mask_phone",
                     actions=["execute", "read"])
    assert (grant.object_type, grant.object_name, grant.actions) == ("function", "mask_phone", ["Execute", "Read"])


def test_the_grantee_must_be_an_active_member_or_a_role_of_the_project(world):
    stranger = make_owner()
    other_project = make_project(world.owner)
    foreign_role = other_project.roles.get(name="admin")
    for subject, field in (({"user": stranger}, "subject_user"), ({"role": foreign_role}, "subject_role"),
                           ({"user": world.owner}, "subject_user"), ({}, "subject"),
                           ({"user": world.carol, "role": world.analyst}, "subject")):
        with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
            grant_to(world, **subject)
        assert field in raised.value.message_dict


def test_admins_and_security_administrators_grant_but_plain_members_and_strangers_may_not(world):
    services.grant_create(actor=world.admin, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="orders", actions=["Select"])
    services.grant_create(actor=world.security, project=world.project, subject_role=world.analyst,
                          object_type="table", object_name="orders", actions=["Describe"])
    for actor in (world.carol, make_owner()):
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.grant_create(actor=actor, project=world.project, subject_user=world.bob, object_type="table",
                                  object_name="orders", actions=["Select"])


def test_a_creator_grants_on_their_own_table_only_while_the_project_lets_them(world):
    grant = services.grant_create(actor=world.bob, project=world.project, subject_user=world.carol,
                                  object_type="table", object_name="customers", actions=["Select"])
    assert grant.grantor == world.bob
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.grant_create(actor=world.bob, project=world.project, subject_user=world.carol, object_type="table",
                              object_name="orders", actions=["Select"])

    services.security_flag_set(actor=world.owner, project=world.project, name="objectcreatorhasgrantpermission",
                               value=False)
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.grant_revoke(actor=world.bob, project=world.project, subject_user=world.carol, object_type="table",
                              object_name="customers", actions=["Select"])


def test_revoke_takes_actions_off_and_deletes_a_grant_left_with_none(world):
    grant = grant_to(world, world.carol, actions=["Select", "Describe"])

    assert services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol,
                                 object_type="table", object_name="CUSTOMERS", actions=["select"]) == 1
    grant.refresh_from_db()
    assert grant.actions == ["Describe"]
    version = latest_version(world.project)
    assert version.summary == f"revoke Select on table CUSTOMERS from user {world.carol.principal_name}"
    assert facts_of_kind(version.removed, "grant")[0]["actions"] == ["Describe", "Select"]
    assert Event.objects.filter(action="permissions.revoke").count() == 1

    services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="customers", actions=["Describe"])
    assert not Grant.objects.exists()


def test_revoking_one_action_of_all_keeps_the_others(world):
    grant = grant_to(world, role=world.analyst, actions=["All"])
    services.grant_revoke(actor=world.owner, project=world.project, subject_role=world.analyst, object_type="table",
                          object_name="customers", actions=["Drop"])
    grant.refresh_from_db()
    assert grant.actions == ["Describe", "Select", "Alter", "Update", "ShowHistory"]


def test_a_revoke_that_matches_nothing_is_no_such_grant(world):
    grant_to(world, world.carol, actions=["Select"])
    for arguments in ({"actions": ["Update"]}, {"object_name": "orders"}, {"columns": ["id"]}):
        call = {"object_type": "table", "object_name": "customers", "actions": ["Select"]} | arguments
        with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
            services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, **call)
        assert "No such grant" in str(raised.value)


def test_revoking_columns_splits_a_grant_that_holds_other_actions(world):
    grant = grant_to(world, world.carol, actions=["Select", "Describe"], columns=["id", "mobile", "email"])
    whole = grant_to(world, world.carol, actions=["Select"])

    services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="customers", actions=["Select"], columns=["MOBILE"])

    grant.refresh_from_db()
    assert (grant.actions, grant.columns) == (["Describe"], ["id", "mobile", "email"])
    split = Grant.objects.exclude(pk__in=[grant.pk, whole.pk]).get()
    assert (split.actions, split.columns, split.user, split.table) == (["Select"], ["id", "email"], world.carol,
                                                                       world.customers)
    assert Grant.objects.get(pk=whole.pk).actions == ["Select"], "a whole-table grant is not a column grant"


def test_revoking_columns_from_a_single_action_grant_narrows_it_then_deletes_it(world):
    grant = grant_to(world, world.carol, columns=["id", "mobile"])
    services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="customers", actions=["Select"], columns=["mobile"])
    grant.refresh_from_db()
    assert grant.columns == ["id"]
    services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="customers", actions=["Select"], columns=["id"])
    assert not Grant.objects.exists()


def test_dropping_a_table_or_a_column_removes_its_grants(world):
    grant_to(world, world.carol)
    column_grant = grant_to(world, world.carol, object_name="orders", columns=["id", "amount"])
    amount = Column.objects.get(table=world.orders, name="amount")

    world.customers.is_dropped = True
    world.customers.save(update_fields=["is_dropped"])
    catalog_hooks.objects_dropped(data_source=world.customers.data_source, tables=[world.customers],
                                  columns=[amount])

    assert list(Grant.objects.values_list("object_name", "columns")) == [("orders", ["id"])]
    assert Grant.objects.get().pk == column_grant.pk
    assert Event.objects.filter(action="permissions.grants_dropped_with_objects").exists()
    with pytest.raises(ValidationError):
        grant_to(world, world.carol)


def test_a_removed_user_keeps_their_grants_and_purge_clears_them(world):
    grant_to(world, world.carol)
    services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                table_name="customers", level=3)
    services.clearance_set(actor=world.owner, project=world.project, subject_user=world.carol, level=2)
    membership = Membership.objects.get(project=world.project, user=world.carol)

    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.privileges_purge(actor=world.owner, project=world.project, user=world.carol)
    assert "user" in raised.value.message_dict

    member_remove(actor=world.owner, membership=membership)
    assert Grant.objects.filter(user=world.carol).count() == 1

    member_add(actor=world.owner, project=world.project, user=world.carol)
    assert Grant.objects.filter(user=world.carol).count() == 1, "re-adding the user brings the grant back"

    member_remove(actor=world.owner, membership=Membership.objects.get(project=world.project, user=world.carol))
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.privileges_purge(actor=world.admin, project=world.project, user=world.carol)

    counts = services.privileges_purge(actor=world.owner, project=world.project, user=world.carol)

    assert counts == {"grants": 1, "label_grants": 1, "clearances": 1}
    assert not Grant.objects.exists() and not LabelGrant.objects.exists() and not Clearance.objects.exists()
    version = latest_version(world.project)
    assert {fact["kind"] for fact in version.removed} == {"grant", "label_grant", "clearance"}
    assert Event.objects.get(action="permissions.purge").details == counts


def test_a_removed_users_grant_can_still_be_revoked(world):
    grant_to(world, world.carol)
    member_remove(actor=world.owner, membership=Membership.objects.get(project=world.project, user=world.carol))
    services.grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol, object_type="table",
                          object_name="customers", actions=["Select"])
    assert not Grant.objects.exists()


def test_grant_list_filters_by_subject_and_object_and_hides_other_tenants(world):
    on_customers = grant_to(world, world.carol)
    grant_to(world, role=world.analyst, object_name="orders")

    assert list(grant_list(user=world.owner, project=world.project, subject_user=world.carol)) == [on_customers]
    assert list(grant_list(user=world.owner, project=world.project, object_type="table",
                           object_name="CUSTOMERS")) == [on_customers]
    assert grant_list(user=world.owner, project=world.project).count() == 2
    assert not grant_list(user=make_owner(), project=world.project).exists()
