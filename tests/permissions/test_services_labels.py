"""LabelSecurity: table and column labels, clearances, label grants and their expiry."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import hooks as catalog_hooks
from apps.catalog.models import Column, SearchDocument
from apps.permissions import services
from apps.permissions.models import Clearance, LabelGrant, TableLabel
from apps.permissions.selectors import label_grant_list
from tests.factories import make_owner
from tests.permissions.services_world import facts_of_kind, latest_version, make_world, nothing_changes

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_world()


def test_a_tables_own_label_is_set_versioned_and_removed_with_level_0(world):
    services.table_label_set(actor=world.owner, project=world.project, table_name="CUSTOMERS", level=3)

    assert TableLabel.objects.get(table=world.customers).level == 3
    version = latest_version(world.project)
    assert version.summary == "set label 3 to table customers"
    assert facts_of_kind(version.added, "label") == [{"kind": "label", "table": "customers", "column": None,
                                                      "level": 3}]
    assert Event.objects.get(action="permissions.label_set").details == {"table": {"from": 0, "to": 3}}

    services.table_label_set(actor=world.owner, project=world.project, table_name="customers", level=0)
    assert not TableLabel.objects.exists()
    assert facts_of_kind(latest_version(world.project).removed, "label")[0]["level"] == 3


def test_column_labels_go_to_the_catalog_and_its_search_documents(world):
    services.table_label_set(actor=world.security, project=world.project, table_name="customers", level=4,
                             columns=["Mobile", "email"])

    levels = dict(Column.objects.filter(table=world.customers).values_list("name", "sensitivity_level"))
    assert levels == {"id": None, "mobile": 4, "email": 4}
    assert SearchDocument.objects.get(table=world.customers, column=None).level == 4
    version = latest_version(world.project)
    assert version.summary == "set label 4 to table customers(mobile, email)"
    assert sorted(fact["column"] for fact in facts_of_kind(version.added, "label")) == ["email", "mobile"]


@pytest.mark.parametrize("arguments, field", [
    ({"table_name": "missing", "level": 1}, "table_name"),
    ({"table_name": "customers", "level": 10}, "level"),
    ({"table_name": "customers", "level": True}, "level"),
    ({"table_name": "customers", "level": 2, "columns": ["nope"]}, "columns"),
])
def test_bad_labels_are_refused(world, arguments, field):
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.table_label_set(actor=world.owner, project=world.project, **arguments)
    assert field in raised.value.message_dict


def test_admins_set_labels_and_plain_members_may_not(world):
    services.table_label_set(actor=world.admin, project=world.project, table_name="orders", level=1)
    stranger = make_owner()
    for actor in (world.carol, world.bob, stranger):
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.table_label_set(actor=actor, project=world.project, table_name="orders", level=2)
        with nothing_changes(world.project), pytest.raises(PermissionDenied):
            services.clearance_set(actor=actor, project=world.project, subject_user=world.carol, level=2)


def test_clearances_are_set_changed_and_removed_by_level_0(world):
    clearance = services.clearance_set(actor=world.owner, project=world.project, subject_user=world.carol, level=3)
    assert (clearance.user, clearance.level) == (world.carol, 3)
    added = facts_of_kind(latest_version(world.project).added, "clearance")
    assert added == [{"kind": "clearance", "subject": {"user": world.carol.principal_name}, "level": 3}]

    assert services.clearance_set(actor=world.owner, project=world.project, subject_role=world.analyst,
                                  level=5).role == world.analyst
    assert services.clearance_set(actor=world.owner, project=world.project, subject_user=world.carol,
                                  level=6).pk == clearance.pk
    assert services.clearance_set(actor=world.owner, project=world.project, subject_user=world.carol,
                                  level=0) is None
    assert list(Clearance.objects.values_list("role__name", "level")) == [("analyst", 5)]
    assert Event.objects.filter(action="permissions.clearance").count() == 4


def test_a_clearance_for_someone_outside_the_project_is_refused(world):
    stranger = make_owner()
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.clearance_set(actor=world.owner, project=world.project, subject_user=stranger, level=2)
    assert "subject_user" in raised.value.message_dict


def test_a_label_grant_lasts_180_days_by_default_and_is_replaced_when_granted_again(world):
    before = timezone.now()
    grant = services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                        table_name="customers", columns=["mobile"], level=4)
    assert (grant.level, grant.columns, grant.table) == (4, ["mobile"], world.customers)
    assert before + timedelta(days=180) <= grant.expires_at <= timezone.now() + timedelta(days=180)
    version = latest_version(world.project)
    assert version.summary.endswith("with exp 180")
    assert facts_of_kind(version.added, "label_grant")[0]["columns"] == ["mobile"]

    again = services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                        table_name="customers", columns=["MOBILE"], level=2, days=7)
    assert again.pk == grant.pk and again.level == 2
    assert LabelGrant.objects.count() == 1


def test_the_longest_expiry_is_held_at_the_end_of_year_9999(world):
    grant = services.label_grant_create(actor=world.owner, project=world.project, subject_role=world.analyst,
                                        table_name="customers", level=9, days=2**63 - 1)
    assert grant.expires_at == services.FOREVER
    grant.refresh_from_db()
    assert grant.expires_at == services.FOREVER


@pytest.mark.parametrize("arguments, field", [
    ({"days": -1}, "days"),
    ({"days": 2**63}, "days"),
    ({"days": "30"}, "days"),
    ({"level": 11}, "level"),
    ({"columns": ["nope"]}, "columns"),
    ({"table_name": "nope"}, "table_name"),
])
def test_bad_label_grants_are_refused(world, arguments, field):
    call = {"table_name": "customers", "level": 3} | arguments
    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol, **call)
    assert field in raised.value.message_dict


def test_revoking_a_label_grant_by_columns_or_whole(world):
    column_grant = services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                               table_name="customers", columns=["mobile", "email"], level=4)
    services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                table_name="customers", level=1)

    services.label_grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol,
                                table_name="customers", columns=["email"])
    column_grant.refresh_from_db()
    assert column_grant.columns == ["mobile"] and LabelGrant.objects.count() == 2

    with nothing_changes(world.project), pytest.raises(ValidationError) as raised:
        services.label_grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol,
                                    table_name="orders")
    assert "No such label grant" in str(raised.value)

    assert services.label_grant_revoke(actor=world.owner, project=world.project, subject_user=world.carol,
                                       table_name="customers") == 2
    assert not LabelGrant.objects.exists()
    assert Event.objects.filter(action="permissions.label_revoke").count() == 2


def test_clear_expired_grants_deletes_only_the_expired(world):
    services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                table_name="customers", level=3, days=0)
    kept = services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.bob,
                                       table_name="customers", level=3, days=1)

    assert services.label_grants_clear_expired(actor=world.admin, project=world.project) == 1
    assert list(LabelGrant.objects.all()) == [kept]
    assert latest_version(world.project).summary == "clear expired grants"
    with nothing_changes(world.project):
        assert services.label_grants_clear_expired(actor=world.owner, project=world.project) == 0
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.label_grants_clear_expired(actor=world.carol, project=world.project)


def test_dropping_a_table_removes_its_label_grants(world):
    services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                table_name="customers", level=3)
    catalog_hooks.objects_dropped(data_source=world.customers.data_source, tables=[world.customers], columns=[])
    assert not LabelGrant.objects.exists()


def test_label_grant_list_by_subject_and_table(world):
    grant = services.label_grant_create(actor=world.owner, project=world.project, subject_user=world.carol,
                                        table_name="customers", level=3)
    services.label_grant_create(actor=world.owner, project=world.project, subject_role=world.analyst,
                                table_name="orders", level=3)
    assert list(label_grant_list(user=world.owner, project=world.project, subject_user=world.carol)) == [grant]
    assert list(label_grant_list(user=world.owner, project=world.project, table=world.customers)) == [grant]
    assert not label_grant_list(user=make_owner(), project=world.project).exists()
