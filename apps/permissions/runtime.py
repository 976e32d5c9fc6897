"""Decisions in the running portal: compiled snapshots cached per process, never stale.

Each process keeps the last snapshot it compiled for each project. Before a snapshot is used
the project's ``security_version`` is read (one indexed query); if it moved, the snapshot is
compiled anew from ``security_facts``. Every change bumps that version in its own
transaction, so a decision never sees rules older than the last committed change, whichever
process made it. The version is read before the facts: a change that commits in between
leaves a snapshot labelled older than it is, which only costs one more compile.

Only snapshots compiled outside a transaction are kept: inside one, the version read may be
the transaction's own uncommitted bump, and if it rolled back, a later change would commit
that same number with other rules.
"""

from __future__ import annotations

import threading

from django.db import connection

from apps.permissions.decision import AccessRequest, Decision
from apps.permissions.engine import Snapshot, authorize, compile_snapshot
from apps.permissions.selectors import security_facts
from apps.tenancy.models import Project

_snapshots: dict[str, Snapshot] = {}
_compile_lock = threading.Lock()


def project_snapshot(name: str) -> Snapshot | None:
    """The current snapshot of project ``name`` (None: no such project)."""
    row = Project.objects.filter(name=name).values_list("security_version", flat=True).first()
    if row is None:
        _snapshots.pop(name, None)
        return None
    cached = _snapshots.get(name)
    if cached is not None and cached.version == row:
        return cached
    with _compile_lock:
        cached = _snapshots.get(name)
        if cached is not None and cached.version == row:
            return cached
        project = Project.objects.select_related("tenant", "owner__tenant").get(name=name)
        snapshot = compile_snapshot(security_facts(project), version=row)
        if not connection.in_atomic_block:
            _snapshots[name] = snapshot
        return snapshot


class SnapshotsOfOneDecision:
    """The snapshots one decision (or one statement's decisions) reads: each project's
    version is checked once, then the same snapshot serves every look-up."""

    def __init__(self):
        self._seen: dict[str, Snapshot | None] = {}

    def __call__(self, name: str) -> Snapshot | None:
        if name not in self._seen:
            self._seen[name] = project_snapshot(name)
        return self._seen[name]


def decide(request: AccessRequest, snapshots: SnapshotsOfOneDecision | None = None) -> Decision:
    """``engine.authorize`` against the current state of every project it reads."""
    return authorize(request, snapshots or SnapshotsOfOneDecision())
