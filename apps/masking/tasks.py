from celery import shared_task

from apps.masking import jobs


@shared_task(name="apps.masking.tasks.masking_job_run", ignore_result=True)
def masking_job_run(job_id: int) -> str | None:
    """Run the queued masking job ``job_id`` (queued by ``jobs.masking_job_start``)."""
    return jobs.masking_job_run(job_id=job_id)


@shared_task(name="apps.masking.tasks.masking_jobs_abandoned", ignore_result=True)
def masking_jobs_abandoned() -> int:
    """End the masking jobs whose worker died or never came (``jobs.masking_jobs_abandoned``)."""
    return jobs.masking_jobs_abandoned()
