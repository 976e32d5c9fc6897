"""The unmask whitelist services: who may grant and revoke, what a grant may name, and what a
change leaves behind."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.masking import services
from apps.masking.models import UnmaskGrant
from apps.masking.selectors import column_masks
from apps.tenancy.models import Project
from tests.factories import make_owner, make_project, make_subaccount
from tests.masking.factories import MaskingRuleFactory, make_customers, make_masking_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_masking_world()


def version(project) -> int:
    return Project.objects.get(pk=project.pk).security_version


@contextmanager
def nothing_changes(project):
    before = (version(project), UnmaskGrant.objects.count(), Event.objects.count())
    yield
    assert (version(project), UnmaskGrant.objects.count(), Event.objects.count()) == before


def grant(world, actor=None, **kwargs):
    arguments = {"project": world.project, "table": world.customers, "columns": ["mobile"], "user": world.carol,
                 "expires_at": timezone.now() + timedelta(days=30), "reason": "support case 42", **kwargs}
    return services.unmask_grant_create(actor=actor or world.security, **arguments)


def test_a_security_administrator_unmasks_a_column_for_a_member(world):
    MaskingRuleFactory.for_type("mobile_phone", tenant=world.tenant)
    before = version(world.project)

    created = grant(world)

    assert (created.columns, created.user, created.origin, created.granted_by) == (
        ["mobile"], world.carol, "ui", world.security)
    assert version(world.project) == before + 1
    event = Event.objects.get(action="masking.unmask_grant")
    assert (event.details["columns"], event.details["subject"], event.details["reason"]) == (
        ["mobile"], f"user {world.carol.username}", "support case 42")
    assert column_masks(user=world.carol, tables=[world.customers])[world.customers.pk] == {}


def test_column_names_take_the_catalogs_spelling_once_each(world):
    assert grant(world, columns=["MOBILE", "mobile", " email "]).columns == ["mobile", "email"]


def test_a_role_of_the_project_may_be_unmasked(world):
    assert grant(world, user=None, role=world.analyst).role == world.analyst


def test_approvals_grant_without_a_request_and_without_expiry(world):
    created = grant(world, origin="approval", expires_at=None, columns=[])

    assert (created.origin, created.expires_at, created.columns) == ("approval", None, [])


@pytest.mark.parametrize("who", ["carol", "bob"])
def test_members_without_manage_security_may_not_grant(world, who):
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        grant(world, actor=getattr(world, who))


def test_another_tenant_may_not_grant(world):
    stranger = make_owner()

    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        grant(world, actor=stranger)


def _bad_input(world):
    other_project = make_project(world.owner)
    return {
        "unknown column": ({"columns": ["nope"]}, "columns"),
        "table of another project": ({"table": make_customers(other_project)}, "table"),
        "no subject": ({"user": None}, "user"),
        "two subjects": ({"role": world.analyst}, "user"),
        "not a member": ({"user": make_subaccount(world.owner)}, "user"),
        "role of another project": ({"user": None, "role": other_project.roles.first()}, "role"),
        "expiry passed": ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expires_at"),
        "naive expiry": ({"expires_at": timezone.now().replace(tzinfo=None) + timedelta(days=1)}, "expires_at"),
        "reason too long": ({"reason": "x" * 301}, "reason"),
    }


def test_bad_input_is_a_field_error_and_changes_nothing(world):
    for name, (arguments, field) in _bad_input(world).items():
        with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
            grant(world, **arguments)
        assert field in excinfo.value.message_dict, name


def test_revoking_a_grant_is_audited_and_versioned(world):
    created = grant(world)
    before = version(world.project)

    services.unmask_grant_revoke(actor=world.owner, grant=created)

    assert not UnmaskGrant.objects.filter(pk=created.pk).exists()
    assert version(world.project) == before + 1
    assert "mobile" in Event.objects.get(action="masking.unmask_revoke").details["grant"]


def test_a_plain_member_may_not_revoke(world):
    created = grant(world)

    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.unmask_grant_revoke(actor=world.carol, grant=created)
