"""The database itself refuses to change or remove audit events (apps/audit/migrations/0002)."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps import audit
from apps.audit import chain
from apps.audit.models import Event
from tests.factories import make_owner

pytestmark = pytest.mark.django_db


def _refused(sql: str, params=None) -> str:
    """Run ``sql`` in a savepoint, expect the database to refuse it, return the message."""
    with pytest.raises(DatabaseError) as refused:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    return str(refused.value)


@pytest.fixture
def event():
    owner = make_owner()
    return audit.record(owner, "test.something", owner, details={"n": 1})


def test_raw_update_of_an_event_is_refused(event):
    message = _refused("UPDATE audit_event SET action = 'test.rewritten' WHERE id = %s", [event.pk])
    assert "audit events are append-only" in message
    assert Event.objects.get(pk=event.pk).action == "test.something"


def test_raw_delete_of_an_event_is_refused(event):
    message = _refused("DELETE FROM audit_event WHERE id = %s", [event.pk])
    assert "audit events are append-only: DELETE" in message
    assert Event.objects.filter(pk=event.pk).exists()


def test_delete_matching_no_row_is_refused_too(event):
    assert "append-only: DELETE" in _refused("DELETE FROM audit_event WHERE id = -1")


def test_raw_truncate_is_refused(event):
    message = _refused("TRUNCATE audit_event")
    assert "audit events are append-only: TRUNCATE" in message
    assert Event.objects.filter(pk=event.pk).exists()


def test_orm_delete_is_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            Event.objects.filter(pk=event.pk).delete()
    assert Event.objects.filter(pk=event.pk).exists()


def test_sealing_an_unsealed_event_is_the_one_update_allowed(event):
    # The owner's sign-up event comes first in the tenant's chain.
    assert chain.seal_chain(event.tenant_id) == 2
    event.refresh_from_db()
    assert event.chain_seq == 2 and len(event.hash) == 64 and event.sealed_at is not None


def test_a_sealed_event_cannot_be_sealed_again(event):
    chain.seal_chain(event.tenant_id)
    message = _refused(
        "UPDATE audit_event SET chain_seq = 7, prev_hash = %s, hash = %s, sealed_at = now() WHERE id = %s",
        ["0" * 64, "a" * 64, event.pk],
    )
    assert "append-only" in message
    event.refresh_from_db()
    assert event.chain_seq == 2


def test_sealing_update_may_not_change_anything_else(event):
    message = _refused(
        "UPDATE audit_event SET chain_seq = 1, prev_hash = %s, hash = %s, sealed_at = now(), "
        "details = '{\"n\": 2}' WHERE id = %s",
        ["0" * 64, "a" * 64, event.pk],
    )
    assert "append-only" in message
    event.refresh_from_db()
    assert event.chain_seq is None and event.details == {"n": 1}


def test_sealing_update_needs_well_formed_hashes(event):
    assert "append-only" in _refused(
        "UPDATE audit_event SET chain_seq = 1, prev_hash = '', hash = 'x', sealed_at = now() WHERE id = %s",
        [event.pk],
    )


def test_an_event_cannot_be_inserted_already_sealed(event):
    message = _refused(
        "INSERT INTO audit_event (occurred_at, project_name, actor_name, channel, action, target_type, "
        "target_id, target_repr, decision, details, chain_seq, prev_hash, hash, sealed_at) "
        "VALUES (now(), '', '', 'system', 'forged', '', '', '', '', '{}', 99, %s, %s, now())",
        ["0" * 64, "b" * 64],
    )
    assert "inserted unsealed" in message
    assert not Event.objects.filter(action="forged").exists()
