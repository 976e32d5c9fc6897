"""The taxonomy of sensitive types and the catalog's constraints."""

import pytest
from django.db import IntegrityError
from django.utils import timezone

from apps.catalog.models import Column, SensitiveType, Table
from apps.catalog.services import warehouse_source_ensure
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

REQUIRED_BUILTINS = {"person_name", "mobile_phone", "email", "national_id", "bank_card", "address", "birthday",
                     "salary", "ip_address", "passport", "license_plate"}


def test_builtin_sensitive_types_are_seeded_with_levels():
    builtins = {t.code: t for t in SensitiveType.objects.filter(tenant__isnull=True)}
    assert REQUIRED_BUILTINS <= set(builtins)
    assert all(0 <= t.default_level <= 9 and t.category and t.name for t in builtins.values())
    assert builtins["national_id"].default_level > builtins["ip_address"].default_level


def test_tenant_types_are_visible_to_their_tenant_only_and_builtins_to_everyone():
    owner, stranger = make_owner(), make_owner()
    own = SensitiveType.objects.create(tenant=owner.tenant, code="employee_no", name="Employee number",
                                       category="hr", default_level=4)
    assert own in SensitiveType.objects.restrict(owner)
    assert own not in SensitiveType.objects.restrict(stranger)
    assert SensitiveType.objects.restrict(stranger).filter(code="mobile_phone").exists()
    # Nobody changes a built-in type.
    assert not SensitiveType.objects.restrict(owner, "change").filter(tenant__isnull=True).exists()


def test_column_sensitivity_level_must_be_0_to_9():
    owner = make_owner()
    source = warehouse_source_ensure(project=make_project(owner))
    now = timezone.now()
    table = Table.objects.create(data_source=source, schema="s", name="t", first_seen_at=now, last_seen_at=now)
    with pytest.raises(IntegrityError):
        Column.objects.create(table=table, name="c", ordinal=1, data_type="text", sensitivity_level=10,
                              first_seen_at=now, last_seen_at=now)
