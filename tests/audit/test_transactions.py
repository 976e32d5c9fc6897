"""Events live and die with the transaction of the change they record, and sealing after
commit keeps each tenant's chain gap-free without making writers queue behind each other.
These tests commit for real (transactional_db)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from apps import audit
from apps.audit import chain
from apps.audit.models import Event
from tests.factories import make_owner, make_subaccount

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
BASE_DIR = Path(settings.BASE_DIR)


def _in_thread(target, *args):
    """Run ``target`` in a thread with its own database connection; re-raise its error."""
    errors = []

    def run():
        try:
            target(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_an_event_recorded_in_a_rolled_back_transaction_never_exists():
    owner = make_owner()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            audit.record(owner, "test.doomed", owner)
            raise RuntimeError("the change fails after its event was written")
    assert not Event.objects.filter(action="test.doomed").exists()
    assert chain.verify_chain(owner.tenant_id).ok


def test_a_committed_change_has_its_event_sealed_right_after_commit():
    owner = make_owner(tenant_name="committed")
    member = make_subaccount(owner, username="member1")
    events = list(Event.objects.filter(tenant_id=owner.tenant_id).order_by("chain_seq"))
    assert [e.action for e in events] == ["tenant.signup", "user.create"]
    assert events[1].target_id == str(member.pk) and events[1].actor_id == owner.pk
    assert [e.chain_seq for e in events] == [1, 2]
    assert all(e.sealed_at is not None for e in events)


def test_concurrent_writers_of_one_tenant_make_one_gap_free_chain():
    owner = make_owner()
    per_thread, per_transaction = 15, 3

    def write(name):
        for i in range(per_thread):
            with transaction.atomic():
                for j in range(per_transaction):
                    audit.record(owner, f"test.{name}", owner, details={"i": i, "j": j})

    workers = [_in_thread(write, name) for name in ("left", "right")]
    for thread, errors in workers:
        thread.join(timeout=120)
        assert not thread.is_alive() and not errors

    total = 1 + 2 * per_thread * per_transaction
    seqs = list(Event.objects.filter(tenant_id=owner.tenant_id).order_by("chain_seq").values_list("chain_seq", flat=True))
    assert seqs == list(range(1, total + 1))
    report = chain.verify_chain(owner.tenant_id)
    assert report.ok and report.head_seq == total and report.unsealed_events == 0


def test_a_long_transaction_does_not_hold_up_another_writer_and_seals_in_commit_order():
    owner = make_owner()
    recorded, release = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            audit.record(owner, "test.slow", owner)
            recorded.set()
            # Stays open until the other writer has committed and been sealed.
            assert release.wait(timeout=30)

    thread, errors = _in_thread(slow_writer)
    assert recorded.wait(timeout=30)
    with transaction.atomic():
        fast = audit.record(owner, "test.fast", owner)
    fast.refresh_from_db()
    # Sealed while the slow transaction is still open: the writers did not queue.
    assert fast.chain_seq == 2 and thread.is_alive()
    release.set()
    thread.join(timeout=30)
    assert not errors
    slow = Event.objects.get(action="test.slow")
    assert slow.pk < fast.pk and slow.chain_seq == 3 and slow.prev_hash == fast.hash


def _run_verify_audit(*args):
    env = dict(
        os.environ,
        DATABASE_URL=f"postgresql://{settings.DATABASES['default']['USER']}@{settings.DATABASES['default']['HOST']}:"
        f"{settings.DATABASES['default']['PORT']}/{connection.settings_dict['NAME']}",
        WAREHOUSE_URL=f"postgresql://{settings.DATABASES['warehouse']['USER']}@{settings.DATABASES['warehouse']['HOST']}:"
        f"{settings.DATABASES['warehouse']['PORT']}/{settings.DATABASES['warehouse']['NAME']}",
        REDIS_URL=settings.REDIS_URL,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit", *args], cwd=BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )


def test_verify_audit_exit_status(disabled_trigger):
    owner = make_owner(tenant_name="exitcode")
    audit.record(owner, "test.one", owner)
    audit.record(owner, "test.two", owner)

    passed = _run_verify_audit("--tenant", "exitcode")
    assert passed.returncode == 0, passed.stderr
    assert "tenant exitcode: 3 sealed events, chain intact" in passed.stdout

    victim = Event.objects.get(action="test.one")
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(pk=victim.pk).update(target_repr="someone else")
    failed = _run_verify_audit("--tenant", "exitcode")
    assert failed.returncode == 1
    assert f"BROKEN at event {victim.pk} (seq 2)" in failed.stdout
    assert "chain(s) broken" in failed.stderr
