"""The tamper-evident hash chain over audit events.

Each tenant's events form one chain; events without a tenant (for example a failed login
for an unknown username) form a chain of their own. An event is written unsealed, in the
transaction of the change it records. Sealing gives it its place in its chain:

    chain_seq   1, 2, 3, ... without gaps, per tenant
    prev_hash   the ``hash`` of the event at chain_seq - 1 (GENESIS_HASH for chain_seq 1)
    hash        SHA-256 (lowercase hex) of the event's canonical form, below
    sealed_at   when it was sealed

Canonical form: the UTF-8 bytes of a JSON object with exactly these keys, serialized with
sorted keys, no whitespace (separators "," and ":"), non-ASCII characters unescaped and
NaN/Infinity refused::

    id, occurred_at, tenant, project, project_name, actor, actor_name, source_ip, channel,
    action, target_type, target_id, target_repr, decision, details, chain_seq, prev_hash,
    sealed_at

``tenant``, ``project`` and ``actor`` are the referenced ids (JSON integers) or null;
``occurred_at`` and ``sealed_at`` are UTC with microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
``source_ip`` is the address as PostgreSQL prints it, or null; ``details`` is the JSON
value as stored (its keys sorted like every other object); the rest are strings, and
``chain_seq`` an integer. The hash covers ``prev_hash``, so changing, removing or
reordering any sealed event breaks the link to every event after it.

When: right after the writing transaction commits (``transaction.on_commit``), the writer
seals its tenant's pending events in a short transaction of its own that holds a
PostgreSQL advisory lock on that tenant's chain (``pg_advisory_xact_lock``) for the few
milliseconds of sealing. Writers never hold the lock while their own transaction runs, so
one tenant's writers do not queue behind each other. Events are sealed in the order in
which they become visible to the sealer, which is commit order (events that became
visible together are taken in id order). If a process dies between its commit and its
sealing step, the Celery task ``apps.audit.tasks.seal_pending`` (run by beat every few
seconds) seals what is left.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from apps.audit.models import Event


GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock(classid, objid): classid "AUDT" keeps our locks apart from any other
# advisory lock; objid is the tenant id (0 for the tenant-less chain).
ADVISORY_LOCK_CLASS = 0x41554454
SEAL_BATCH_SIZE = 500
CANONICAL_FIELDS = (
    "id", "occurred_at", "tenant", "project", "project_name", "actor", "actor_name", "source_ip",
    "channel", "action", "target_type", "target_id", "target_repr", "decision", "details",
    "chain_seq", "prev_hash", "sealed_at",
)


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_form(event: Event) -> bytes:
    """The bytes an event's hash is computed over (see the module docstring)."""
    document = {
        "id": event.pk,
        "occurred_at": _timestamp(event.occurred_at),
        "tenant": event.tenant_id,
        "project": event.project_id,
        "project_name": event.project_name,
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "source_ip": event.source_ip or None,
        "channel": event.channel,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "decision": event.decision,
        "details": event.details,
        "chain_seq": event.chain_seq,
        "prev_hash": event.prev_hash,
        "sealed_at": _timestamp(event.sealed_at),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: Event) -> str:
    return hashlib.sha256(canonical_form(event)).hexdigest()


# --- sealing ----------------------------------------------------------------------------

def _lock_chain(tenant_id: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, (tenant_id or 0) & 0x7FFFFFFF]
        )


def _chain(tenant_id: int | None):
    return Event.objects.filter(tenant_id=tenant_id)


def seal_chain(tenant_id: int | None, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal every committed, unsealed event of one chain; returns how many were sealed.

    Each batch is one short transaction under the chain's advisory lock. Under READ
    COMMITTED every statement after the lock sees the previous sealer's committed work, so
    the head read here is the true head and positions are never handed out twice.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            _lock_chain(tenant_id)
            head = (
                _chain(tenant_id).filter(chain_seq__isnull=False)
                .order_by("-chain_seq").values_list("chain_seq", "hash").first()
            )
            pending = list(_chain(tenant_id).filter(chain_seq__isnull=True).order_by("id")[:batch_size])
            if not pending:
                return sealed
            seq, prev_hash = head if head is not None else (0, GENESIS_HASH)
            now = timezone.now()
            for event in pending:
                seq += 1
                event.chain_seq = seq
                event.prev_hash = prev_hash
                event.sealed_at = now
                event.hash = event_hash(event)
                prev_hash = event.hash
            Event.objects.bulk_update(pending, ["chain_seq", "prev_hash", "hash", "sealed_at"])
        sealed += len(pending)
        if len(pending) < batch_size:
            return sealed


def seal_all_pending() -> dict[int | None, int]:
    """Seal whatever is left unsealed in every chain (the beat task's work)."""
    tenant_ids = list(Event.objects.unsealed().order_by().values_list("tenant_id", flat=True).distinct())
    return {tenant_id: seal_chain(tenant_id) for tenant_id in tenant_ids}


@dataclass(frozen=True)
class _ChainSealer:
    """The on-commit step for one chain; a dataclass so one transaction schedules it once."""

    tenant_id: int | None

    def __call__(self) -> None:
        seal_chain(self.tenant_id)


def schedule_seal(tenant_id: int | None) -> None:
    """Seal ``tenant_id``'s chain right after the current transaction commits.

    Scheduled once per chain and transaction. ``robust``: a failure to seal is logged and
    never turns a committed change into an error; the beat task seals it later.
    """
    conn = transaction.get_connection()
    sealer = _ChainSealer(tenant_id)
    if conn.in_atomic_block and any(func == sealer for _, func, _ in conn.run_on_commit):
        return
    transaction.on_commit(sealer, robust=True)


# --- verification -----------------------------------------------------------------------

@dataclass(frozen=True)
class ChainBreak:
    """The first event at which a chain stops verifying."""

    event_id: int
    chain_seq: int
    problem: str  # "sequence", "hash" or "prev_hash"
    expected: str
    found: str
    message: str


@dataclass
class ChainReport:
    tenant_id: int | None
    tenant_name: str
    sealed_events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_break: ChainBreak | None = None
    unsealed_events: int = 0
    oldest_unsealed_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    @property
    def label(self) -> str:
        return f"tenant {self.tenant_name}" if self.tenant_id is not None else "events without a tenant"


@dataclass
class VerificationResult:
    """What ``verify_chains`` found. Unsealed events are reported, never counted as a break:
    they are not part of the chain yet."""

    chains: list[ChainReport] = field(default_factory=list)
    checked_at: datetime = field(default_factory=timezone.now)

    @property
    def ok(self) -> bool:
        return all(chain.ok for chain in self.chains)

    @property
    def unsealed_events(self) -> int:
        return sum(chain.unsealed_events for chain in self.chains)

    @property
    def oldest_unsealed_at(self) -> datetime | None:
        times = [chain.oldest_unsealed_at for chain in self.chains if chain.oldest_unsealed_at]
        return min(times) if times else None

    @property
    def oldest_unsealed_age(self) -> timedelta | None:
        oldest = self.oldest_unsealed_at
        return self.checked_at - oldest if oldest is not None else None


def _check_event(event: Event, expected_seq: int, prev: Event | None) -> ChainBreak | None:
    if event.chain_seq != expected_seq:
        return ChainBreak(
            event.pk, event.chain_seq, "sequence", str(expected_seq), str(event.chain_seq),
            f"expected chain_seq {expected_seq}, found {event.chain_seq}: "
            "events are missing from the chain or were renumbered",
        )
    recomputed = event_hash(event)
    if event.hash != recomputed:
        return ChainBreak(
            event.pk, event.chain_seq, "hash", recomputed, event.hash,
            f"stored hash {event.hash or '(empty)'} differs from the hash of the event's content "
            f"{recomputed}: the event was changed after it was sealed",
        )
    expected_prev = prev.hash if prev is not None else GENESIS_HASH
    if event.prev_hash != expected_prev:
        before = f"event {prev.pk} (seq {prev.chain_seq})" if prev is not None else "the start of the chain"
        return ChainBreak(
            event.pk, event.chain_seq, "prev_hash", expected_prev, event.prev_hash,
            f"prev_hash {event.prev_hash or '(empty)'} does not match the hash {expected_prev} of {before}: "
            "an earlier event was changed, removed or reordered",
        )
    return None


def verify_chain(tenant_id: int | None, tenant_name: str = "") -> ChainReport:
    report = ChainReport(tenant_id=tenant_id, tenant_name=tenant_name)
    prev = None
    for event in _chain(tenant_id).filter(chain_seq__isnull=False).order_by("chain_seq").iterator(chunk_size=2000):
        problem = _check_event(event, report.sealed_events + 1, prev)
        report.sealed_events += 1
        if problem is not None:
            report.first_break = problem
            break
        report.head_seq, report.head_hash = event.chain_seq, event.hash
        prev = event
    pending = _chain(tenant_id).filter(chain_seq__isnull=True).aggregate(n=Count("id"), oldest=Min("occurred_at"))
    report.unsealed_events, report.oldest_unsealed_at = pending["n"], pending["oldest"]
    if report.first_break is not None:
        # Count the whole chain even though the walk stopped at the break.
        report.sealed_events = _chain(tenant_id).filter(chain_seq__isnull=False).count()
    return report


def verify_chains(tenant_ids: list[int | None] | None = None) -> VerificationResult:
    """Walk the given chains (every chain that has events when ``tenant_ids`` is None) in
    chain_seq order, recompute every hash and report each chain's first broken link."""
    Tenant = Event._meta.get_field("tenant").related_model
    if tenant_ids is None:
        tenant_ids = list(Event.objects.order_by().values_list("tenant_id", flat=True).distinct())
    names = dict(Tenant.objects.filter(pk__in=[t for t in tenant_ids if t is not None]).values_list("pk", "name"))
    ordered = sorted(tenant_ids, key=lambda t: (t is not None, names.get(t, "")))
    result = VerificationResult()
    result.chains = [verify_chain(t, names.get(t, "" if t is None else f"#{t}")) for t in ordered]
    return result
