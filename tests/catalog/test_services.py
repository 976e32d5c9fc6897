"""Data source services: who may register, change, remove and harvest; what is audited; the
warehouse source registered on first use; harvests queued once and on schedule."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog import connectors, hooks, selectors, services
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import (
    DataSource,
    DataSourceKind,
    HarvestRun,
    HarvestSchedule,
    HarvestStatus,
    Table,
    TLSMode,
)
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import TenantRoleName
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

PASSWORD = "Data-source-pw-7731"


def _create(actor, project, **overrides):
    fields = dict(kind=DataSourceKind.POSTGRESQL, name="crm", host="db.example.internal", port=5432,
                  database="crm", username="reader", password=PASSWORD, tls_mode=TLSMode.REQUIRE)
    fields.update(overrides)
    return services.data_source_create(actor=actor, project=project, **fields)


@pytest.fixture
def tenant():
    owner = make_owner()
    project = make_project(owner)
    member = make_subaccount(owner)
    tenancy_services.member_add(actor=owner, project=project, user=member)
    return owner, project, member


def test_owner_registers_a_source_with_its_password_encrypted_and_unaudited(tenant):
    owner, project, _ = tenant
    data_source = _create(owner, project)

    assert data_source.tenant_id == project.tenant_id and data_source.created_by == owner
    stored = bytes(data_source.password_encrypted)
    assert PASSWORD.encode() not in stored
    assert connectors.password_of(DataSource.objects.get(pk=data_source.pk)) == PASSWORD
    assert PASSWORD not in repr(connectors.ConnectionParameters.of(data_source))
    event = Event.objects.get(action="catalog.data_source_create")
    assert event.project_id == project.pk and event.actor_id == owner.pk
    assert event.details["host"] == "db.example.internal" and event.details["password_set"] is True
    assert PASSWORD not in str(event.details)


def test_tenant_admin_may_register_a_source(tenant):
    owner, project, member = tenant
    tenancy_services.tenant_role_assign(actor=owner, user=member, role=TenantRoleName.ADMIN)
    assert _create(member, project).pk is not None


def test_plain_member_may_not_register_change_test_harvest_or_remove_a_source(tenant):
    owner, project, member = tenant
    data_source = _create(owner, project)

    with pytest.raises(PermissionDenied):
        _create(member, project, name="mine")
    with pytest.raises(PermissionDenied):
        services.data_source_update(actor=member, data_source=data_source, host="elsewhere")
    with pytest.raises(PermissionDenied):
        services.data_source_test_connection(actor=member, data_source=data_source)
    with pytest.raises(PermissionDenied):
        services.harvest_start(actor=member, data_source=data_source)
    with pytest.raises(PermissionDenied):
        services.project_harvest_start(actor=member, project=project)
    with pytest.raises(PermissionDenied):
        services.data_source_delete(actor=member, data_source=data_source)

    assert list(DataSource.objects.filter(project=project)) == [data_source]
    assert not HarvestRun.objects.exists()
    # A member still sees the project's sources.
    assert list(selectors.data_source_list(user=member, project=project)) == [data_source]


def test_other_tenants_source_is_invisible_and_untouchable(tenant):
    owner, project, member = tenant
    data_source = _create(owner, project)
    services.warehouse_source_ensure(project=project)
    stranger = make_owner()

    assert not DataSource.objects.restrict(stranger).exists()
    assert not Table.objects.restrict(stranger).exists()
    assert not HarvestRun.objects.restrict(stranger).exists()
    with pytest.raises(DataSource.DoesNotExist):
        selectors.data_source_get(user=stranger, pk=data_source.pk)
    with pytest.raises(PermissionDenied):
        services.data_source_update(actor=stranger, data_source=data_source, host="evil.example")
    with pytest.raises(PermissionDenied):
        _create(stranger, project, name="sneaky")
    assert selectors.data_source_get(user=member, pk=data_source.pk) == data_source


@pytest.mark.parametrize("overrides, field", [
    ({"name": "Bad Name"}, "name"),
    ({"host": ""}, "host"),
    ({"port": 70000}, "port"),
    ({"tls_mode": "sometimes"}, "tls_mode"),
    ({"kind": "oracle"}, "kind"),
    ({"kind": DataSourceKind.WAREHOUSE}, "kind"),
    ({"harvest_schedule": "hourlyish"}, "harvest_schedule"),
], ids=["name", "host", "port", "tls", "kind", "warehouse-kind", "schedule"])
def test_bad_input_is_refused_by_field_and_saves_nothing(tenant, overrides, field):
    owner, project, _ = tenant
    with pytest.raises(ValidationError) as raised:
        _create(owner, project, **overrides)
    assert field in raised.value.message_dict
    assert PASSWORD not in str(raised.value)
    assert not DataSource.objects.exists()


def test_duplicate_name_in_a_project_is_refused(tenant):
    owner, project, _ = tenant
    _create(owner, project)
    with pytest.raises(ValidationError) as raised:
        _create(owner, project, host="other.example")
    assert "already has a data source named 'crm'" in raised.value.message_dict["name"][0]


def test_update_audits_what_changed_and_only_says_that_the_password_changed(tenant):
    owner, project, _ = tenant
    data_source = _create(owner, project)

    services.data_source_update(actor=owner, data_source=data_source, host="db2.example.internal",
                                password="New-pw-that-is-secret", harvest_schedule=HarvestSchedule.DAILY)

    data_source.refresh_from_db()
    assert data_source.host == "db2.example.internal" and data_source.harvest_schedule == HarvestSchedule.DAILY
    assert connectors.password_of(data_source) == "New-pw-that-is-secret"
    event = Event.objects.get(action="catalog.data_source_update")
    assert event.details["host"] == {"from": "db.example.internal", "to": "db2.example.internal"}
    assert event.details["password"] == "changed"
    assert "New-pw-that-is-secret" not in str(event.details) and PASSWORD not in str(event.details)


def test_pointing_the_source_elsewhere_needs_the_password_again(tenant):
    owner, project, _ = tenant
    data_source = _create(owner, project)
    for change in ({"host": "attacker.example"}, {"port": 15432}, {"username": "other"},
                   {"tls_mode": TLSMode.DISABLE}):
        with pytest.raises(ValidationError) as raised:
            services.data_source_update(actor=owner, data_source=data_source, **change)
        assert "Enter the password again" in raised.value.message_dict["password"][0]
    data_source.refresh_from_db()
    assert (data_source.host, data_source.port, data_source.tls_mode) == ("db.example.internal", 5432, "require")
    # The database on the same server, the schedule and the description need no password.
    services.data_source_update(actor=owner, data_source=data_source, database="crm_archive",
                                description="Archive")
    assert DataSource.objects.get(pk=data_source.pk).database == "crm_archive"


def test_the_warehouse_source_keeps_its_connection(tenant):
    owner, project, _ = tenant
    warehouse = services.warehouse_source_ensure(project=project)
    with pytest.raises(ValidationError) as raised:
        services.data_source_update(actor=owner, data_source=warehouse, host="elsewhere", password="x")
    assert set(raised.value.message_dict) == {"host", "password"}
    with pytest.raises(ValidationError):
        services.data_source_delete(actor=owner, data_source=warehouse)
    services.data_source_update(actor=owner, data_source=warehouse, harvest_schedule=HarvestSchedule.HOURLY)
    warehouse.refresh_from_db()
    assert warehouse.harvest_schedule == HarvestSchedule.HOURLY


def test_warehouse_source_is_registered_once(tenant):
    _, project, _ = tenant
    first = services.warehouse_source_ensure(project=project)
    second = services.warehouse_source_ensure(project=project)
    assert first == second and first.kind == DataSourceKind.WAREHOUSE and first.name == "warehouse"
    assert Event.objects.filter(action="catalog.data_source_register", project=project).count() == 1


def test_delete_hands_the_sources_objects_to_the_hooks_and_audits(tenant, monkeypatch, warehouse_sql):
    owner, project, _ = tenant
    data_source = _create(owner, project)
    now = timezone.now()
    table = Table.objects.create(data_source=data_source, schema="public", name="people", first_seen_at=now,
                                 last_seen_at=now)
    table.columns.create(name="email", ordinal=1, data_type="text", first_seen_at=now, last_seen_at=now)
    seen = []
    monkeypatch.setattr(hooks, "on_objects_dropped", [
        lambda *, data_source, tables, columns: seen.append(([t.name for t in tables], [c.name for c in columns]))
    ])

    services.data_source_delete(actor=owner, data_source=data_source)

    assert seen == [(["people"], ["email"])]
    assert not DataSource.objects.filter(pk=data_source.pk).exists()
    assert not Table.objects.filter(pk=table.pk).exists()
    assert Event.objects.get(action="catalog.data_source_delete").details["tables"] == 1


def test_harvest_start_queues_one_run_and_sends_the_task_on_commit(tenant, django_capture_on_commit_callbacks):
    owner, project, _ = tenant
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.project_harvest_start(actor=owner, project=project)
    assert len(callbacks) == 1
    assert run.status == HarvestStatus.QUEUED and run.requested_by == owner and run.progress == 0
    assert Event.objects.filter(action="catalog.harvest_start", project=project).count() == 1

    with pytest.raises(ValidationError) as raised:
        services.project_harvest_start(actor=owner, project=project)
    assert "already queued" in raised.value.message_dict["data_source"][0]

    # A run whose worker vanished long ago gives way.
    HarvestRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - datetime.timedelta(hours=2))
    again = services.project_harvest_start(actor=owner, project=project)
    run.refresh_from_db()
    assert run.status == HarvestStatus.FAILED and "Abandoned" in run.error
    assert again.status == HarvestStatus.QUEUED

    # A task delivered twice harvests once.
    assert harvest_run_execute(run_id=again.pk) == HarvestStatus.SUCCEEDED
    assert harvest_run_execute(run_id=again.pk) is None


def test_scheduled_sources_are_harvested_when_due(tenant):
    owner, project, _ = tenant
    daily = _create(owner, project, name="daily", harvest_schedule=HarvestSchedule.DAILY)
    _create(owner, project, name="manual")
    recent = _create(owner, project, name="recent", harvest_schedule=HarvestSchedule.HOURLY)
    DataSource.objects.filter(pk=recent.pk).update(last_harvest_at=timezone.now() - datetime.timedelta(minutes=5))

    started = services.harvest_start_due()

    assert [run.data_source_id for run in started] == [daily.pk]
    assert started[0].requested_by is None
    # Already queued: not again.
    assert services.harvest_start_due() == []
    later = timezone.now() + datetime.timedelta(hours=2)
    assert [run.data_source_id for run in services.harvest_start_due(now=later)] == [recent.pk]
