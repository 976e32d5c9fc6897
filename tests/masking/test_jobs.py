"""Static masking jobs: starting and cancelling them (``jobs.masking_job_start`` /
``masking_job_cancel``), and the runner called directly (``jobs.masking_job_run``)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.utils import timezone

from apps.audit.models import Event
from apps.catalog.harvest import warehouse_tables_sync
from apps.catalog.models import LineageEdge, SensitiveType, Table
from apps.masking import jobs
from apps.masking.algorithms import mask_value
from apps.masking.models import MaskingJob, MaskingJobStatus
from apps.masking.selectors import column_masks, rule_masks
from apps.masking.services import masking_key_secret, masking_rule_create, unmask_grant_create
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.services import role_assign
from tests.factories import make_owner, make_project
from tests.gateway.world import CUSTOMERS, column, console, make_shop, warehouse_execute

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def shop():
    return make_shop()


def source(shop, name="customers") -> Table:
    return warehouse_tables(shop.project).get(name=name)


def start(shop, actor=None, target_project=None, target_name="customers_masked", table="customers") -> MaskingJob:
    return jobs.masking_job_start(actor=actor or shop.owner, source_table=source(shop, table),
                                  target_project=target_project or shop.project, target_name=target_name)


def warehouse_rows(sql: str) -> list[tuple]:
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def relation_exists(schema: str, name: str) -> bool:
    return warehouse_rows(f"SELECT to_regclass('\"{schema}\".\"{name}\"') IS NOT NULL")[0][0]


def events(action: str):
    return Event.objects.filter(action=action)


def test_rule_masks_are_what_the_rules_mask_whatever_unmask_grants_say(shop):
    unmask_grant_create(actor=shop.owner, project=shop.project, table=source(shop), columns=[], user=shop.reader,
                        expires_at=None)

    assert column_masks(user=shop.reader, tables=[source(shop)])[source(shop).pk] == {}
    assert list(rule_masks(tables=[source(shop)])[source(shop).pk]) == ["mobile"]


# --- starting -------------------------------------------------------------------------------------

def test_starting_a_job_queues_it_on_commit_and_audits_it(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = start(shop)

    assert job.status == MaskingJobStatus.QUEUED and job.progress == 0
    assert job.project == shop.project and job.tenant_id == shop.project.tenant_id
    assert job.requested_by == shop.owner and job.masked_columns == ["mobile"]
    assert len(callbacks) == 1
    [event] = events("masking.job_start")
    assert event.details["target"] == f"{shop.project.name}.customers_masked"
    assert event.details["masked_columns"] == ["mobile"] and event.decision == "allow"
    assert [(check["what"], check["allowed"]) for check in event.details["checks"]] == [
        (f"Select on {shop.project.name}.customers", True), (f"CreateTable in {shop.project.name}", True)]


@pytest.mark.parametrize("name", ["", "Customers", "1copy", "copy-1", "pg_copy", "a" * 64, "drop table x"])
def test_a_target_name_that_is_not_a_plain_identifier_is_refused(shop, name):
    with pytest.raises(ValidationError) as error:
        start(shop, target_name=name)

    assert "target_name" in error.value.message_dict
    assert not MaskingJob.objects.exists()


def test_a_target_name_taken_in_the_catalog_the_warehouse_or_by_a_running_job_is_refused(shop):
    warehouse_execute(f'CREATE TABLE "{shop.project.schema_name}".not_catalogued (id integer)')
    start(shop, target_name="copy_one")

    for name in ("orders", "not_catalogued", "copy_one"):
        with pytest.raises(ValidationError) as error:
            start(shop, target_name=name)
        assert "target_name" in error.value.message_dict, name
    assert MaskingJob.objects.count() == 1


def test_a_target_project_of_another_tenant_is_refused(shop):
    other = make_owner()
    with pytest.raises(ValidationError) as error:
        start(shop, target_project=make_project(other))

    assert "target_project" in error.value.message_dict


def test_a_reader_without_select_is_denied_with_the_reason_and_nothing_is_made(shop):
    with pytest.raises(PermissionDenied) as error:
        start(shop, actor=shop.stranger)

    assert str(error.value).startswith(f"Select on {shop.project.name}.customers:")
    assert not MaskingJob.objects.exists() and not events("masking.job_start").exists()


def test_select_alone_is_not_enough_the_copy_needs_create_table_in_the_target(shop):
    with pytest.raises(PermissionDenied) as error:
        start(shop, actor=shop.reader)

    assert str(error.value).startswith(f"CreateTable in {shop.project.name}:")

    console(shop.owner, shop.project, f"grant createtable on project {shop.project.name} "
                                      f"to user {shop.reader.principal_name}")
    assert start(shop, actor=shop.reader).status == MaskingJobStatus.QUEUED


def test_a_copy_into_another_project_is_data_leaving_the_source_so_protection_applies(shop):
    lab = make_project(shop.owner)
    console(shop.owner, shop.project, "set ProjectProtection=true")

    with pytest.raises(PermissionDenied) as error:
        start(shop, target_project=lab)
    assert str(error.value).startswith(f"Select on {shop.project.name}.customers:")
    # Inside the project nothing leaves it; a trusted project may receive the copy.
    assert start(shop, target_name="inside").target_project == shop.project
    console(shop.owner, shop.project, f"add trustedproject {lab.name}")
    assert start(shop, target_project=lab).target_project == lab


# --- cancelling -----------------------------------------------------------------------------------

def test_cancelling_a_queued_job_ends_it_at_once(shop):
    job = jobs.masking_job_cancel(actor=shop.owner, job=start(shop))

    assert job.status == MaskingJobStatus.CANCELLED and job.cancel_requested and job.finished_at is not None
    assert events("masking.job_cancel").get().details["status"] == "cancelled"
    assert jobs.masking_job_run(job_id=job.pk) is None


def test_cancelling_a_running_job_asks_the_worker_to_stop(shop):
    job = start(shop)
    MaskingJob.objects.filter(pk=job.pk).update(status=MaskingJobStatus.RUNNING)

    job = jobs.masking_job_cancel(actor=shop.owner, job=job)

    assert job.status == MaskingJobStatus.RUNNING and job.cancel_requested


def test_only_the_requester_and_security_administrators_cancel(shop):
    console(shop.owner, shop.project, f"grant createtable on project {shop.project.name} "
                                      f"to user {shop.reader.principal_name}")
    job = start(shop, actor=shop.reader)

    with pytest.raises(PermissionDenied):
        jobs.masking_job_cancel(actor=shop.stranger, job=job)
    assert not MaskingJob.objects.get(pk=job.pk).cancel_requested

    role_assign(actor=shop.owner, role=shop.project.roles.get(name=WorkspaceRole.SECURITY_ADMINISTRATOR),
                user=shop.stranger)
    assert jobs.masking_job_cancel(actor=shop.stranger, job=job).status == MaskingJobStatus.CANCELLED


def test_a_finished_job_cannot_be_cancelled(shop):
    job = start(shop)
    assert jobs.masking_job_run(job_id=job.pk) == MaskingJobStatus.SUCCEEDED

    with pytest.raises(ValidationError) as error:
        jobs.masking_job_cancel(actor=shop.owner, job=job)

    assert "status" in error.value.message_dict


# --- the runner -----------------------------------------------------------------------------------

def test_the_copy_masks_every_masked_column_and_copies_the_others_into_the_target_project(shop):
    target_project = make_project(shop.owner)
    # The requester's own unmask grant does not apply: the copy is for sharing.
    unmask_grant_create(actor=shop.owner, project=shop.project, table=source(shop), columns=["mobile"],
                        user=shop.owner, expires_at=None)
    job = start(shop, target_project=target_project)

    assert jobs.masking_job_run(job_id=job.pk) == MaskingJobStatus.SUCCEEDED

    rule = shop.rule
    secret = masking_key_secret(tenant=shop.project.tenant_id)
    copied = warehouse_rows(f'SELECT id, name, mobile, email, region, salary FROM "{target_project.schema_name}"'
                            f".customers_masked ORDER BY id")
    assert [row[2] for row in copied] == [mask_value(rule.algorithm, rule.params, customer[2], data_type="text",
                                                     secret=secret) for customer in CUSTOMERS]
    assert [row[2] for row in copied] == ["138****5678", "139****4321", "137****2222", "136****4444"]
    assert [(row[0], row[1], row[3], row[4], int(row[5])) for row in copied] == \
        [(c[0], c[1], c[3], c[4], c[5]) for c in CUSTOMERS]
    job.refresh_from_db()
    assert (job.status, job.progress, job.rows_total, job.rows_copied) == ("succeeded", 100, 4, 4)
    assert job.started_at <= job.finished_at and job.masked_columns == ["mobile"] and job.error == ""
    [event] = events("masking.job_finish")
    assert (event.details["status"], event.details["rows"], event.details["masked_columns"]) == \
        ("succeeded", 4, ["mobile"])


def test_the_copy_enters_the_catalog_owned_by_the_requester_with_lineage_and_clear_columns_labels(shop):
    email_type = SensitiveType.objects.get(tenant__isnull=True, code="email")
    for name in ("email", "mobile"):
        source_column = column(shop.project, "customers", name)
        source_column.sensitivity_level, source_column.classification = 3, email_type
        source_column.save()
    job = start(shop)

    jobs.masking_job_run(job_id=job.pk)

    copy = warehouse_tables(shop.project).get(name="customers_masked")
    assert copy.owner == shop.owner
    types = dict(copy.columns.values_list("name", "data_type"))
    assert types["mobile"] == "text" and types["salary"] == "numeric(10,2)"
    copies = {c.name: c for c in copy.columns.all()}
    assert (copies["email"].sensitivity_level, copies["email"].classification) == (3, email_type)
    assert (copies["mobile"].sensitivity_level, copies["mobile"].classification) == (None, None)
    edges = set(LineageEdge.objects.filter(target_table=copy, target_column__isnull=False)
                .values_list("source_column__name", "target_column__name"))
    assert edges == {(name, name) for name in ("id", "name", "mobile", "email", "region", "salary")}


def test_a_masked_column_takes_the_type_of_the_algorithms_result(shop):
    masking_rule_create(actor=shop.owner, project=shop.project, column=column(shop.project, "customers", "salary"),
                        name="salary bands", algorithm="bucket", params={"width": 1000})
    job = start(shop)

    jobs.masking_job_run(job_id=job.pk)

    copy = warehouse_tables(shop.project).get(name="customers_masked")
    assert copy.columns.get(name="salary").data_type == "text"
    assert [row[0] for row in warehouse_rows(f'SELECT salary FROM "{shop.project.schema_name}".customers_masked '
                                             "ORDER BY id")] == ["5000-6000", "4000-5000", "6000-7000", "3000-4000"]
    assert MaskingJob.objects.get(pk=job.pk).masked_columns == ["mobile", "salary"]


def test_a_rule_that_cannot_mask_the_columns_type_writes_null_failing_closed(shop):
    email_type = SensitiveType.objects.get(tenant__isnull=True, code="email")
    customer_id = column(shop.project, "orders", "customer_id")
    customer_id.classification = email_type
    customer_id.save()
    masking_rule_create(actor=shop.owner, project=shop.project, sensitive_type=email_type, name="emails",
                        algorithm="email")
    job = start(shop, table="orders", target_name="orders_copy")

    assert jobs.masking_job_run(job_id=job.pk) == MaskingJobStatus.SUCCEEDED

    copy = warehouse_tables(shop.project).get(name="orders_copy")
    assert copy.columns.get(name="customer_id").data_type == "integer"
    assert warehouse_rows(f'SELECT count(*), count(customer_id) FROM "{shop.project.schema_name}".orders_copy')[0] \
        == (5, 0)
    assert MaskingJob.objects.get(pk=job.pk).masked_columns == ["customer_id"]


def make_wide_table(shop, rows: int = 120) -> None:
    """A table of several pages (about seven), so small batches take several steps."""
    schema = shop.project.schema_name
    warehouse_execute(f'CREATE TABLE "{schema}".wide AS SELECT g AS id, repeat(\'x\', 400) AS filler '
                      f"FROM generate_series(1, {rows}) AS g")
    warehouse_tables_sync(project=shop.project, names=frozenset({"wide"}), summary="test table")


def test_progress_is_written_after_every_batch_and_ends_at_100(shop, monkeypatch):
    make_wide_table(shop)
    job = start(shop, table="wide", target_name="wide_copy")
    seen = []
    write = jobs._progress

    def watch(job):
        write(job)
        seen.append(MaskingJob.objects.values_list("rows_copied", "progress").get(pk=job.pk))

    monkeypatch.setattr(jobs, "_progress", watch)

    assert jobs.masking_job_run(job_id=job.pk, batch_rows=20) == MaskingJobStatus.SUCCEEDED

    copied = [rows for rows, _ in seen]
    assert copied[0] == 0 and copied[-1] == 120 and copied == sorted(copied) and len(seen) > 3
    assert all(progress <= 99 for _, progress in seen)
    assert MaskingJob.objects.get(pk=job.pk).progress == 100
    assert warehouse_rows(f'SELECT count(*), count(DISTINCT id) FROM "{shop.project.schema_name}".wide_copy')[0] == \
        (120, 120)


def test_a_cancel_stops_the_copy_after_the_current_batch_and_drops_the_target(shop):
    make_wide_table(shop)
    job = start(shop, table="wide", target_name="wide_copy")
    MaskingJob.objects.filter(pk=job.pk).update(cancel_requested=True)

    assert jobs.masking_job_run(job_id=job.pk, batch_rows=1) == MaskingJobStatus.CANCELLED

    job.refresh_from_db()
    assert job.status == MaskingJobStatus.CANCELLED and job.finished_at is not None
    assert 0 < job.rows_copied < job.rows_total == 120
    assert not relation_exists(shop.project.schema_name, "wide_copy")
    assert not Table.objects.filter(name="wide_copy").exists()
    assert events("masking.job_finish").get().details["status"] == "cancelled"


def test_a_failing_copy_drops_the_target_and_ends_failed_with_the_first_line_of_the_error(shop):
    job = start(shop)
    # The catalog still lists region; the warehouse no longer has it.
    warehouse_execute(f'ALTER TABLE "{shop.project.schema_name}".customers DROP COLUMN region')

    assert jobs.masking_job_run(job_id=job.pk) == MaskingJobStatus.FAILED

    job.refresh_from_db()
    assert job.status == MaskingJobStatus.FAILED and job.error == 'column "region" does not exist'
    assert not relation_exists(shop.project.schema_name, "customers_masked")
    assert not Table.objects.filter(name="customers_masked").exists()
    assert events("masking.job_finish").get().details["error"] == job.error


def test_a_job_runs_once_however_often_its_task_is_delivered(shop):
    job = start(shop)

    assert jobs.masking_job_run(job_id=job.pk) == MaskingJobStatus.SUCCEEDED
    assert jobs.masking_job_run(job_id=job.pk) is None
    assert events("masking.job_finish").count() == 1


def test_jobs_nobody_will_finish_are_ended_as_failed_and_free_their_names(shop):
    from apps.masking.jobs import SILENT_AFTER, UNTAKEN_AFTER, masking_jobs_abandoned

    now = timezone.now()
    silent = start(shop, target_name="silent_copy")
    MaskingJob.objects.filter(pk=silent.pk).update(status=MaskingJobStatus.RUNNING,
                                                   heartbeat_at=now - SILENT_AFTER - timedelta(minutes=1))
    untaken = start(shop, target_name="untaken_copy")
    MaskingJob.objects.filter(pk=untaken.pk).update(created_at=now - UNTAKEN_AFTER - timedelta(minutes=1))
    beating = start(shop, target_name="beating_copy")
    MaskingJob.objects.filter(pk=beating.pk).update(status=MaskingJobStatus.RUNNING, heartbeat_at=now)
    start(shop, target_name="waiting_copy")

    assert masking_jobs_abandoned(now=now) == 2
    statuses = dict(MaskingJob.objects.values_list("target_name", "status"))
    assert statuses == {"silent_copy": "failed", "untaken_copy": "failed", "beating_copy": "running",
                        "waiting_copy": "queued"}
    assert "stopped reporting" in MaskingJob.objects.get(pk=silent.pk).error
    assert start(shop, target_name="silent_copy").status == MaskingJobStatus.QUEUED
    assert masking_jobs_abandoned(now=now) == 0
