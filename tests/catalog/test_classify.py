"""Setting a column's sensitivity level and classification by hand."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import services
from apps.catalog.models import Column, SensitiveType, Table
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import Project
from apps.tenancy.roles import ADMIN, WorkspaceRole
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def column():
    owner = make_owner()
    project = make_project(owner)
    now = timezone.now()
    table = Table.objects.create(data_source=services.warehouse_source_ensure(project=project), schema=project.name,
                                 name="customers", first_seen_at=now, last_seen_at=now)
    return owner, table.columns.create(name="mobile", ordinal=1, data_type="text", first_seen_at=now,
                                       last_seen_at=now)


def test_classification_brings_its_default_level_and_is_audited(column):
    owner, mobile = column
    project = mobile.table.data_source.project
    version = project.security_version
    mobile_phone = SensitiveType.objects.get(tenant=None, code="mobile_phone")

    services.column_classify(actor=owner, column=mobile, classification=mobile_phone)

    mobile.refresh_from_db()
    assert mobile.classification == mobile_phone and mobile.sensitivity_level == mobile_phone.default_level
    assert Project.objects.get(pk=project.pk).security_version == version + 1
    event = Event.objects.get(action="catalog.column_classify")
    assert event.details == {"classification": {"from": None, "to": "mobile_phone"},
                             "sensitivity_level": {"from": None, "to": mobile_phone.default_level}}

    services.column_classify(actor=owner, column=mobile, sensitivity_level=2)
    mobile.refresh_from_db()
    assert mobile.sensitivity_level == 2 and mobile.classification == mobile_phone


def test_security_administrator_may_classify_but_a_project_admin_may_not(column):
    owner, mobile = column
    project = mobile.table.data_source.project
    security, admin = make_subaccount(owner), make_subaccount(owner)
    for user, role_name in ((security, WorkspaceRole.SECURITY_ADMINISTRATOR), (admin, ADMIN)):
        tenancy_services.member_add(actor=owner, project=project, user=user)
        tenancy_services.role_assign(actor=owner, role=project.roles.get(name=role_name), user=user)

    services.column_classify(actor=security, column=mobile, sensitivity_level=6)
    with pytest.raises(PermissionDenied):
        services.column_classify(actor=admin, column=mobile, sensitivity_level=1)
    with pytest.raises(PermissionDenied):
        services.column_classify(actor=make_owner(), column=mobile, sensitivity_level=1)
    assert Column.objects.get(pk=mobile.pk).sensitivity_level == 6


@pytest.mark.parametrize("level", [10, -1, 3.5, True])
def test_levels_outside_0_to_9_are_refused(column, level):
    owner, mobile = column
    with pytest.raises(ValidationError) as raised:
        services.column_classify(actor=owner, column=mobile, sensitivity_level=level)
    assert "sensitivity_level" in raised.value.message_dict
    assert Column.objects.get(pk=mobile.pk).sensitivity_level is None


def test_another_tenants_sensitive_type_is_refused(column):
    owner, mobile = column
    foreign = SensitiveType.objects.create(tenant=make_owner().tenant, code="secret_sauce", name="Secret sauce",
                                           category="trade", default_level=9)
    with pytest.raises(ValidationError) as raised:
        services.column_classify(actor=owner, column=mobile, classification=foreign)
    assert "classification" in raised.value.message_dict
