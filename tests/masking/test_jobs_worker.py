"""A masking job started through the service runs on a real Celery worker (a subprocess on
the real Redis, pointed at this test's databases), in a warehouse transaction of its own, and
ends with the masked copy in the target project and in the catalog."""

import time

import pytest
from django.db import connections

from apps.masking import jobs
from apps.masking.models import MaskingJobStatus
from apps.permissions.selectors import warehouse_tables
from tests.factories import make_project
from tests.gateway.world import make_shop
from tests.processes import celery_worker

TASK = "apps.masking.tasks.masking_job_run"


@pytest.fixture
def celery_worker_process():
    """A real Celery worker on this test's databases; the masking task goes to it while the
    fixture lasts."""
    with celery_worker(routed_tasks=(TASK,)) as (worker, _queue):
        yield worker


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])
def test_a_masking_job_runs_on_a_real_worker_and_reaches_100_percent(celery_worker_process):
    shop = make_shop()
    target = make_project(shop.owner)
    try:
        job = jobs.masking_job_start(actor=shop.owner, source_table=warehouse_tables(shop.project).get(
            name="customers"), target_project=target, target_name="shared_customers")  # sends the task on commit

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if not job.is_active:
                break
            assert celery_worker_process.poll() is None, "the worker died"
            time.sleep(0.2)

        assert job.status == MaskingJobStatus.SUCCEEDED, job.error
        assert (job.progress, job.rows_total, job.rows_copied) == (100, 4, 4)
        assert warehouse_tables(target).get(name="shared_customers").owner == shop.owner
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(f'SELECT mobile FROM "{target.schema_name}".shared_customers ORDER BY id')
            assert [row[0] for row in cursor.fetchall()] == ["138****5678", "139****4321", "137****2222",
                                                             "136****4444"]
    finally:
        with connections["warehouse"].cursor() as cursor:
            for project in (shop.project, target):
                cursor.execute(f'DROP SCHEMA IF EXISTS "{project.schema_name}" CASCADE')
