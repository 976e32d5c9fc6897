"""The copy reads one snapshot of the source: what others write while it runs is neither
copied nor copied twice (the runner opens its own REPEATABLE READ transaction, which only a
transactional test lets it do)."""

import pytest
from django.db import connections

from apps.masking import jobs
from apps.masking.models import MaskingJob, MaskingJobStatus
from apps.permissions.selectors import warehouse_tables
from tests.gateway.world import make_shop
from tests.masking.test_jobs import make_wide_table


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])
def test_rows_written_during_the_copy_are_not_copied_and_none_is_copied_twice(monkeypatch):
    shop = make_shop()
    schema = shop.project.schema_name
    try:
        make_wide_table(shop)
        job = jobs.masking_job_start(actor=shop.owner, source_table=warehouse_tables(shop.project).get(name="wide"),
                                     target_project=shop.project, target_name="wide_copy")
        write, batches = jobs._progress, []

        def write_meanwhile(job):
            write(job)
            batches.append(job.rows_copied)
            if len(batches) == 2:
                # After the first batch, another session moves copied rows to later pages and adds new ones.
                other = connections.create_connection("warehouse")
                try:
                    with other.cursor() as cursor:
                        cursor.execute(f'UPDATE "{schema}".wide SET filler = filler || \'y\' WHERE id <= 30')
                        cursor.execute(f'INSERT INTO "{schema}".wide SELECT g, \'z\' '
                                       f"FROM generate_series(1001, 1010) AS g")
                finally:
                    other.close()

        monkeypatch.setattr(jobs, "_progress", write_meanwhile)

        assert jobs.masking_job_run(job_id=job.pk, batch_rows=20) == MaskingJobStatus.SUCCEEDED

        job = MaskingJob.objects.get(pk=job.pk)
        assert len(batches) > 3 and job.rows_total == job.rows_copied == 120
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(f'SELECT count(*), count(DISTINCT id), max(id) FROM "{schema}".wide_copy')
            assert cursor.fetchone() == (120, 120, 120)
            cursor.execute(f'SELECT count(*) FROM "{schema}".wide')
            assert cursor.fetchone() == (130,)
    finally:
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
