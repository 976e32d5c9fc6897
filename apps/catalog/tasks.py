from celery import shared_task

from apps.catalog import harvest as harvesting
from apps.catalog import services


@shared_task(name="apps.catalog.tasks.harvest", ignore_result=True)
def harvest(run_id: int) -> str | None:
    """Run the queued harvest ``run_id`` (queued by ``services.harvest_start``)."""
    return harvesting.harvest_run_execute(run_id=run_id)


@shared_task(name="apps.catalog.tasks.harvest_due", ignore_result=True)
def harvest_due() -> int:
    """Queue the harvests whose schedule says they are due (run by beat)."""
    return len(services.harvest_start_due())
