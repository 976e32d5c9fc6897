"""Sealing events into per-tenant hash chains, and verifying the chains."""

import hashlib
import io
import json
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command

from apps import audit
from apps.audit import chain
from apps.audit.models import Event
from tests.factories import make_owner, make_subaccount

pytestmark = pytest.mark.django_db


def _record_some(owner, n=4):
    return [audit.record(owner, f"test.step_{i}", owner, details={"i": i, "name": "Zoë"}) for i in range(n)]


def _verify(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def test_canonical_form_is_sorted_compact_json_of_the_documented_fields():
    event = Event(
        id=42, occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), tenant_id=7, project_id=None,
        project_name="", actor_id=3, actor_name="alice", source_ip="10.0.0.1", channel="api",
        action="project.create", target_type="tenancy.project", target_id="9", target_repr="wonderland",
        decision="", details={"b": 1, "a": "ü"}, chain_seq=5, prev_hash="f" * 64,
        sealed_at=datetime(2026, 1, 2, 3, 4, 6, 500, tzinfo=timezone.utc),
    )
    expected = (
        '{"action":"project.create","actor":3,"actor_name":"alice","chain_seq":5,"channel":"api",'
        '"decision":"","details":{"a":"ü","b":1},"id":42,"occurred_at":"2026-01-02T03:04:05.000000Z",'
        f'"prev_hash":"{"f" * 64}","project":null,"project_name":"","sealed_at":"2026-01-02T03:04:06.000500Z",'
        '"source_ip":"10.0.0.1","target_id":"9","target_repr":"wonderland","target_type":"tenancy.project",'
        '"tenant":7}'
    ).encode()
    assert chain.canonical_form(event) == expected
    assert chain.event_hash(event) == hashlib.sha256(expected).hexdigest()
    assert set(json.loads(expected)) == set(chain.CANONICAL_FIELDS)


def test_sealing_produces_a_gap_free_linked_chain_per_tenant():
    owner = make_owner()
    _record_some(owner, 5)
    other = make_owner()
    _record_some(other, 2)

    assert chain.seal_all_pending() == {owner.tenant_id: 6, other.tenant_id: 3}

    events = list(Event.objects.filter(tenant_id=owner.tenant_id).order_by("chain_seq"))
    assert [e.chain_seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].prev_hash == chain.GENESIS_HASH
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == before.hash
    assert all(e.hash == chain.event_hash(e) for e in events)
    assert list(Event.objects.filter(tenant_id=other.tenant_id).values_list("chain_seq", flat=True)
                .order_by("chain_seq")) == [1, 2, 3]
    assert chain.verify_chains().ok


def test_tenantless_events_form_their_own_chain():
    audit.record(None, "login.failure", "nobody", details={"username": "nobody"})
    audit.record(None, "login.failure", "ghost", details={"username": "ghost"})
    chain.seal_all_pending()
    assert list(Event.objects.filter(tenant__isnull=True).order_by("chain_seq")
                .values_list("chain_seq", flat=True)) == [1, 2]
    report = chain.verify_chain(None)
    assert report.ok and report.sealed_events == 2 and report.label == "events without a tenant"


def test_sealing_continues_an_existing_chain():
    owner = make_owner()
    chain.seal_chain(owner.tenant_id)
    later = audit.record(owner, "test.later", owner)
    assert chain.seal_chain(owner.tenant_id) == 1
    later.refresh_from_db()
    first = Event.objects.get(tenant_id=owner.tenant_id, chain_seq=1)
    assert later.chain_seq == 2 and later.prev_hash == first.hash


def test_sealing_in_batches_keeps_one_chain():
    owner = make_owner()
    _record_some(owner, 6)
    assert chain.seal_chain(owner.tenant_id, batch_size=2) == 7
    assert chain.verify_chain(owner.tenant_id).ok
    assert chain.verify_chain(owner.tenant_id).head_seq == 7


def test_events_are_sealed_right_after_commit_once_per_chain(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        owner = make_owner()
        _record_some(owner, 3)
    assert len(callbacks) == 1
    assert not Event.objects.filter(tenant_id=owner.tenant_id).unsealed().exists()
    assert chain.verify_chain(owner.tenant_id).head_seq == 4


def test_verify_audit_passes_on_a_good_chain():
    owner = make_owner(tenant_name="goodchain")
    _record_some(owner)
    chain.seal_all_pending()
    output = _verify("--tenant", "goodchain")
    assert "tenant goodchain: 5 sealed events, chain intact" in output
    assert "verification passed" in output


def test_verify_audit_reports_the_first_changed_event_and_fails(disabled_trigger):
    owner = make_owner(tenant_name="tampered")
    _record_some(owner, 4)
    chain.seal_all_pending()
    victim = Event.objects.get(tenant_id=owner.tenant_id, chain_seq=3)
    also_changed = Event.objects.get(tenant_id=owner.tenant_id, chain_seq=4)
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(pk__in=[victim.pk, also_changed.pk]).update(details={"i": 99})

    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit", "--tenant", "tampered", stdout=out)
    assert failed.value.returncode == 1
    assert f"BROKEN at event {victim.pk} (seq 3), hash:" in out.getvalue()
    assert "changed after it was sealed" in out.getvalue()

    broken = chain.verify_chain(owner.tenant_id).first_break
    assert (broken.event_id, broken.chain_seq, broken.problem) == (victim.pk, 3, "hash")
    assert broken.found == victim.hash


def test_rewriting_an_event_with_a_fresh_hash_breaks_the_next_link(disabled_trigger):
    owner = make_owner()
    _record_some(owner, 3)
    chain.seal_all_pending()
    victim = Event.objects.get(tenant_id=owner.tenant_id, chain_seq=2)
    victim.action = "test.innocent"
    forged_hash = chain.event_hash(victim)
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(pk=victim.pk).update(action="test.innocent", hash=forged_hash)

    broken = chain.verify_chain(owner.tenant_id).first_break
    following = Event.objects.get(tenant_id=owner.tenant_id, chain_seq=3)
    assert (broken.event_id, broken.chain_seq, broken.problem) == (following.pk, 3, "prev_hash")
    assert f"event {victim.pk} (seq 2)" in broken.message


def test_removing_an_event_is_a_sequence_break(disabled_trigger):
    owner = make_owner()
    _record_some(owner, 3)
    chain.seal_all_pending()
    with disabled_trigger("audit_event_append_only_delete"):
        Event.objects.filter(tenant_id=owner.tenant_id, chain_seq=2).delete()
    broken = chain.verify_chain(owner.tenant_id).first_break
    assert (broken.chain_seq, broken.problem, broken.expected) == (3, "sequence", "2")


def test_unsealed_events_are_reported_but_are_not_a_break():
    owner = make_owner(tenant_name="pending")
    chain.seal_all_pending()
    _record_some(owner, 2)
    output = _verify("--tenant", "pending")
    assert "1 sealed events, chain intact" in output
    assert "2 event(s) not sealed yet" in output
    assert "are not a break" in output
    result = chain.verify_chains([owner.tenant_id])
    assert result.ok and result.unsealed_events == 2 and result.oldest_unsealed_age.total_seconds() >= 0


def test_verify_audit_only_walks_the_named_tenant(disabled_trigger):
    good = make_owner(tenant_name="intact")
    bad = make_owner(tenant_name="broken")
    chain.seal_all_pending()
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(tenant_id=bad.tenant_id).update(action="test.tampered")
    assert "tenant intact: 1 sealed events, chain intact" in _verify("--tenant", "intact")
    assert "tenant broken" not in _verify("--tenant", "intact")
    with pytest.raises(CommandError):
        _verify()
    assert good.tenant_id != bad.tenant_id


def test_verify_audit_refuses_an_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant named 'nosuch'"):
        _verify("--tenant", "nosuch")


def test_a_subaccounts_events_join_the_tenants_chain():
    owner = make_owner()
    member = make_subaccount(owner)
    audit.record(member, "test.by_member", member)
    chain.seal_all_pending()
    actions = list(Event.objects.filter(tenant_id=owner.tenant_id).order_by("chain_seq").values_list("action", flat=True))
    assert actions[-1] == "test.by_member" and len(actions) == 3


def test_a_nul_character_in_details_is_stored_escaped_and_the_chain_verifies():
    owner = make_owner()
    event = audit.record(owner, "test.nul", owner, details={"text": "select 1\x00", "nested": [{"x": "\x00"}]})
    event.refresh_from_db()
    assert event.details == {"text": "select 1\\0", "nested": [{"x": "\\0"}]}
    assert chain.seal_chain(owner.tenant_id) >= 1
    assert chain.verify_chain(owner.tenant_id).ok
