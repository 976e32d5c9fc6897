"""The masking rule services and the tenant's masking key: who may change rules, what input
they take, and what a change leaves behind (audit events, security versions)."""

from contextlib import contextmanager

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import Event
from apps.catalog.models import SensitiveType
from apps.masking import services
from apps.masking.algorithms import params_validated
from apps.masking.models import MaskingKey, MaskingRule
from apps.tenancy.models import Project, TenantRoleName
from apps.tenancy.services import tenant_role_assign
from tests.factories import make_owner, make_project, make_subaccount
from tests.masking.factories import (
    KEEP_ALGORITHM,
    TEXT_ALGORITHM,
    MaskingRuleFactory,
    make_customers,
    make_masking_world,
    sensitive_type,
)

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    return make_masking_world()


def versions(*projects) -> list[int]:
    return [Project.objects.get(pk=project.pk).security_version for project in projects]


@contextmanager
def nothing_changes(*projects):
    before = (versions(*projects), MaskingRule.objects.count(), Event.objects.count(),
              list(MaskingRule.objects.values().order_by("pk")))
    yield
    assert (versions(*projects), MaskingRule.objects.count(), Event.objects.count(),
            list(MaskingRule.objects.values().order_by("pk"))) == before


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


def project_rule(world, actor=None, **kwargs):
    arguments = {"name": "mobiles", "algorithm": TEXT_ALGORITHM, "project": world.project,
                 "sensitive_type": sensitive_type("mobile_phone"), **kwargs}
    return services.masking_rule_create(actor=actor or world.security, **arguments)


# --- create ------------------------------------------------------------------------------------

def test_a_security_administrator_creates_a_project_rule_audited_and_versioned(world):
    before = versions(world.project)[0]

    rule = project_rule(world)

    assert (rule.project, rule.tenant, rule.algorithm, rule.created_by) == (
        world.project, world.tenant, TEXT_ALGORITHM, world.security)
    assert versions(world.project) == [before + 1]
    event = Event.objects.get(action="masking.rule_create")
    assert (event.project_id, event.actor_id, event.details["algorithm"]) == (world.project.pk, world.security.pk,
                                                                              TEXT_ALGORITHM)


@pytest.mark.parametrize("who", ["carol", "bob"])
def test_members_without_manage_security_may_not_create_rules(world, who):
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        project_rule(world, actor=getattr(world, who))


def test_another_tenant_may_not_create_rules_in_the_project(world):
    stranger = make_owner()

    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        project_rule(world, actor=stranger)


def test_a_column_rule_targets_a_live_column_of_the_project(world):
    rule = project_rule(world, sensitive_type=None, column=world.customers.cols.email, name="email column")

    assert (rule.column, rule.sensitive_type) == (world.customers.cols.email, None)


def test_a_column_of_another_project_is_a_field_error(world):
    elsewhere = make_customers(make_project(world.owner))

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, sensitive_type=None, column=elsewhere.cols.email)

    assert "column" in field_errors(excinfo)


def test_the_algorithm_must_apply_to_the_columns_kind(world):
    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, sensitive_type=None, column=world.customers.cols.birthday, algorithm=KEEP_ALGORITHM)

    assert "algorithm" in field_errors(excinfo)


@pytest.mark.parametrize(("arguments", "field"), [
    ({"algorithm": "no_such_algorithm"}, "algorithm"),
    ({"name": "  "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"params": "not an object"}, "params"),
    ({"sensitive_type": None}, "sensitive_type"),
])
def test_bad_input_is_a_field_error_and_changes_nothing(world, arguments, field):
    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, **arguments)

    assert field in field_errors(excinfo)


def test_bad_parameters_are_field_errors_keyed_by_parameter(world):
    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, algorithm=KEEP_ALGORITHM, params={"no_such_parameter": 1})

    assert any(key.startswith(("params", "algorithm")) for key in field_errors(excinfo))


def test_a_second_rule_for_the_same_type_in_the_project_is_a_field_error(world):
    project_rule(world)

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, name="again")

    assert "sensitive_type" in field_errors(excinfo)


def test_a_second_rule_for_the_same_column_is_a_field_error(world):
    project_rule(world, sensitive_type=None, column=world.customers.cols.email)

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, sensitive_type=None, column=world.customers.cols.email, name="again")

    assert "column" in field_errors(excinfo)


def test_another_tenants_own_sensitive_type_is_a_field_error(world):
    stranger = make_owner()
    foreign = SensitiveType.objects.create(tenant=stranger.tenant, code="foreign", name="Foreign", category="x",
                                           default_level=1)

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        project_rule(world, sensitive_type=foreign)

    assert "sensitive_type" in field_errors(excinfo)


# --- tenant-wide rules -------------------------------------------------------------------------

def test_a_tenant_admin_creates_a_tenant_rule_bumping_every_project_of_the_tenant(world):
    second = make_project(world.owner)
    stranger_project = make_project(make_owner())
    admin = make_subaccount(world.owner)
    tenant_role_assign(actor=world.owner, user=admin, role=TenantRoleName.ADMIN)
    before = versions(world.project, second, stranger_project)

    rule = services.masking_rule_create(actor=admin, name="emails", algorithm=TEXT_ALGORITHM,
                                        sensitive_type=sensitive_type("email"))

    assert (rule.tenant, rule.project) == (world.tenant, None)
    assert versions(world.project, second, stranger_project) == [before[0] + 1, before[1] + 1, before[2]]
    assert Event.objects.get(action="masking.rule_create").tenant_id == world.tenant.pk


def test_a_project_security_administrator_may_not_create_tenant_rules(world):
    with nothing_changes(world.project), pytest.raises(PermissionDenied):
        services.masking_rule_create(actor=world.security, name="emails", algorithm=TEXT_ALGORITHM,
                                     sensitive_type=sensitive_type("email"))


def test_a_second_tenant_rule_for_the_same_type_is_a_field_error(world):
    services.masking_rule_create(actor=world.owner, name="a", algorithm=TEXT_ALGORITHM,
                                 sensitive_type=sensitive_type("email"))

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        services.masking_rule_create(actor=world.owner, name="b", algorithm=TEXT_ALGORITHM,
                                     sensitive_type=sensitive_type("email"))

    assert "sensitive_type" in field_errors(excinfo)


def test_a_tenant_rule_and_a_project_rule_for_the_same_type_coexist(world):
    services.masking_rule_create(actor=world.owner, name="a", algorithm=TEXT_ALGORITHM,
                                 sensitive_type=sensitive_type("mobile_phone"))

    project_rule(world)

    assert MaskingRule.objects.filter(sensitive_type__code="mobile_phone").count() == 2


# --- update and delete -------------------------------------------------------------------------

def test_updating_a_rule_records_what_changed(world):
    rule = project_rule(world)
    before = versions(world.project)[0]

    services.masking_rule_update(actor=world.security, rule=rule, enabled=False, name="off")

    rule.refresh_from_db()
    assert (rule.enabled, rule.name) == (False, "off")
    assert versions(world.project) == [before + 1]
    changes = Event.objects.get(action="masking.rule_update").details["changes"]
    assert changes["enabled"] == {"from": True, "to": False}


def test_an_update_that_changes_nothing_writes_nothing(world):
    rule = project_rule(world)

    with nothing_changes(world.project):
        services.masking_rule_update(actor=world.security, rule=rule, name=rule.name)


def test_a_new_algorithm_without_params_starts_from_its_defaults(world):
    rule = project_rule(world, algorithm=KEEP_ALGORITHM, sensitive_type=None, column=world.customers.cols.email)

    services.masking_rule_update(actor=world.security, rule=rule, algorithm=TEXT_ALGORITHM)

    rule.refresh_from_db()
    assert (rule.algorithm, rule.params) == (TEXT_ALGORITHM, params_validated(TEXT_ALGORITHM, {}))


def test_bad_update_input_changes_nothing(world):
    rule = project_rule(world)

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        services.masking_rule_update(actor=world.security, rule=rule, algorithm="no_such_algorithm")

    assert "algorithm" in field_errors(excinfo)


def test_the_target_of_a_rule_cannot_be_changed(world):
    rule = project_rule(world)

    with nothing_changes(world.project), pytest.raises(ValidationError) as excinfo:
        services.masking_rule_update(actor=world.security, rule=rule, column=world.customers.cols.email)

    assert "column" in field_errors(excinfo)


def test_a_plain_member_may_not_update_or_delete_a_rule(world):
    rule = project_rule(world)

    with nothing_changes(world.project):
        with pytest.raises(PermissionDenied):
            services.masking_rule_update(actor=world.carol, rule=rule, enabled=False)
        with pytest.raises(PermissionDenied):
            services.masking_rule_delete(actor=world.carol, rule=rule)


def test_deleting_a_rule_is_audited_and_versioned(world):
    rule = project_rule(world)
    before = versions(world.project)[0]

    services.masking_rule_delete(actor=world.security, rule=rule)

    assert not MaskingRule.objects.filter(pk=rule.pk).exists()
    assert versions(world.project) == [before + 1]
    assert Event.objects.get(action="masking.rule_delete").details["name"] == "mobiles"


def test_a_tenant_admin_deletes_a_tenant_rule_and_every_project_is_bumped(world):
    rule = MaskingRuleFactory.for_type("email", tenant=world.tenant)
    second = make_project(world.owner)
    before = versions(world.project, second)

    services.masking_rule_delete(actor=world.owner, rule=rule)

    assert versions(world.project, second) == [before[0] + 1, before[1] + 1]


# --- the masking key ---------------------------------------------------------------------------

def test_the_masking_key_is_made_once_per_tenant_and_kept_encrypted(world):
    first = services.masking_key_secret(tenant=world.tenant)
    second = services.masking_key_secret(tenant=world.tenant.pk)
    other = services.masking_key_secret(tenant=make_owner().tenant)

    assert first == second != other
    assert len(first) == 32
    stored = bytes(MaskingKey.objects.get(tenant=world.tenant).secret_encrypted)
    assert first not in stored
    assert Event.objects.filter(action="masking.key_create").count() == 2


def test_a_committed_masking_key_is_cached_for_the_process(world, django_capture_on_commit_callbacks,
                                                           django_assert_num_queries):
    with django_capture_on_commit_callbacks(execute=True):
        secret = services.masking_key_secret(tenant=world.tenant)

    with django_assert_num_queries(0):
        assert services.masking_key_secret(tenant=world.tenant) == secret
