"""The beat task that seals what a dead process left unsealed, run by a real Celery worker
(a subprocess on the real Redis, pointed at this test database)."""

import pytest
from django.conf import settings
from django.utils import timezone

from apps.audit import chain
from apps.audit.models import Event
from apps.audit.tasks import seal_pending
from config.celery import app as celery_app
from tests.factories import make_owner
from tests.processes import celery_worker


@pytest.fixture
def celery_worker_process():
    """A real Celery worker on its own queue, against the test databases: yields the queue."""
    with celery_worker() as (_worker, queue):
        yield queue


def _orphaned_event(owner, action):
    """An event committed by a writer that died before its sealing step ran."""
    return Event.objects.create(
        occurred_at=timezone.now(), tenant_id=owner.tenant_id, actor=owner, actor_name=owner.username,
        channel="system", action=action, details={"orphan": True},
    )


def test_beat_runs_seal_pending_every_few_seconds():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "apps.audit.tasks.seal_pending")
    assert entry["schedule"] <= 10
    celery_app.loader.import_default_modules()
    assert "apps.audit.tasks.seal_pending" in celery_app.tasks


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_seal_pending_on_a_real_worker_seals_orphaned_events(celery_worker_process):
    owner = make_owner()
    orphans = [_orphaned_event(owner, f"test.orphan_{i}") for i in range(3)]
    assert Event.objects.unsealed().filter(pk__in=[e.pk for e in orphans]).count() == 3

    result = seal_pending.apply_async(queue=celery_worker_process)
    assert result.get(timeout=90) == 3

    sealed = list(Event.objects.filter(tenant_id=owner.tenant_id).order_by("chain_seq"))
    assert [e.chain_seq for e in sealed] == [1, 2, 3, 4]
    assert [e.action for e in sealed[1:]] == ["test.orphan_0", "test.orphan_1", "test.orphan_2"]
    assert chain.verify_chain(owner.tenant_id).ok
    # Nothing left: a second run seals nothing.
    assert seal_pending.apply_async(queue=celery_worker_process).get(timeout=60) == 0
