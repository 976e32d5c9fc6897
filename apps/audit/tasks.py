from celery import shared_task

from apps.audit import chain


@shared_task(name="apps.audit.tasks.seal_pending", ignore_result=False)
def seal_pending() -> int:
    """Seal events whose writer committed but never ran its sealing step (run by beat)."""
    return sum(chain.seal_all_pending().values())
