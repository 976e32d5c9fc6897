"""A harvest queued through the service runs on a real Celery worker (a subprocess on the
real Redis, pointed at this test's databases) and reports its progress to the end."""

import time

import pytest
from django.db import connections

from apps.catalog import services
from apps.catalog.models import HarvestRun, HarvestStatus, Table
from tests.factories import make_owner, make_project

TABLES = 12


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])
def test_harvest_runs_on_a_real_worker_and_reaches_100_percent(celery_worker_process, warehouse_sql):
    owner = make_owner()
    project = make_project(owner)
    schema = project.schema_name
    try:
        warehouse_sql(*[f"CREATE TABLE {schema}.t{n} (id bigint PRIMARY KEY, note text)" for n in range(TABLES)])

        run = services.project_harvest_start(actor=owner, project=project)  # sends the task on commit

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in (HarvestStatus.SUCCEEDED, HarvestStatus.FAILED):
                break
            assert celery_worker_process.poll() is None, "the worker died"
            time.sleep(0.2)

        assert run.status == HarvestStatus.SUCCEEDED, run.error
        assert run.progress == 100 and run.progress_message == "Done"
        assert run.started_at is not None and run.finished_at >= run.started_at
        assert run.counts["tables_added"] == TABLES
        assert Table.objects.filter(data_source=run.data_source, is_dropped=False).count() == TABLES
        assert HarvestRun.objects.filter(data_source=run.data_source).count() == 1
    finally:
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])
def test_progress_is_visible_to_others_while_the_harvest_transaction_is_open(warehouse_sql, monkeypatch):
    from apps.catalog import hooks
    from apps.catalog.harvest import harvest_run_execute

    owner = make_owner()
    project = make_project(owner)
    schema = project.schema_name
    seen, watched = [], {}

    def look_from_outside(**kwargs):
        # Runs inside the harvest's transaction; a second connection sees only committed data.
        outside = connections.create_connection("default")
        try:
            with outside.cursor() as cursor:
                cursor.execute("SELECT status, progress, progress_message FROM catalog_harvestrun WHERE id = %s",
                               [watched["run"].pk])
                seen.append(cursor.fetchone())
        finally:
            outside.close()

    try:
        warehouse_sql(*[f"CREATE TABLE {schema}.t{n} (id bigint)" for n in range(TABLES)])
        run = services.project_harvest_start(actor=owner, project=project)
        assert harvest_run_execute(run_id=run.pk) == HarvestStatus.SUCCEEDED
        warehouse_sql(f"DROP TABLE {schema}.t0")
        monkeypatch.setattr(hooks, "on_objects_dropped", [look_from_outside])
        second = watched["run"] = services.project_harvest_start(actor=owner, project=project)
        assert harvest_run_execute(run_id=second.pk) == HarvestStatus.SUCCEEDED

        [(status, progress, message)] = seen
        assert status == HarvestStatus.RUNNING
        assert progress == 99 and message == f"Compared {TABLES - 1} of {TABLES - 1} tables"
        second.refresh_from_db()
        assert second.progress == 100
    finally:
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_beat_queues_due_harvests():
    from django.conf import settings

    from config.celery import app as celery_app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "apps.catalog.tasks.harvest_due")
    # Often enough for the shortest schedule (hourly) to start on time.
    assert entry["schedule"] <= 600
    celery_app.loader.import_default_modules()
    assert {"apps.catalog.tasks.harvest", "apps.catalog.tasks.harvest_due"} <= set(celery_app.tasks)
