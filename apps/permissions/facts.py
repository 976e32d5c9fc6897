"""A project's security state as facts: plain, JSON-able dicts, one per thing that decides
who may do what.

Facts are the one description of the state that everything else reads:

- the engine compiles a project's facts into its in-memory snapshot (``engine``);
- the reference evaluator decides straight from them, slowly and obviously (``reference``);
- every version of a project's state is the difference between two sets of facts
  (``versions``), and a rollback re-applies the facts of an earlier version;
- the impact preview compiles the facts of a changed state next to the current ones.

``security_facts(project)`` reads them from the database. Every fact has a ``kind``; the
other keys depend on it. Principals are written as the statement language writes them
(``ALIYUN$alice``, ``RAM$acme:bob``), roles by name (compared case-insensitively, stored
lowercase), tables by name within the project, columns by name (lowercase), actions in their
canonical spelling (``apps.permissions.actions``), times as ISO 8601 UTC strings
(``2026-11-23T10:00:00Z``) or null. A subject is ``{"user": principal}`` or
``{"role": role}``.

Higher apps add kinds of their own through ``hooks.security_fact_providers`` (the masking
app's rules, unmask grants and row filters: ``apps/masking/facts.py``): they are versioned
and diffed like these, and ignored by the engine and by rollback.

Kinds::

    {"kind": "project", "name", "tenant", "owner": principal, "environment"}            one
    {"kind": "setting", "name", "value": bool}                                           one per flag:
        CheckPermissionUsingACL, CheckPermissionUsingPolicy (default true),
        ObjectCreatorHasAccessPermission, ObjectCreatorHasGrantPermission (default true),
        LabelSecurity, NoWriteDown, ProjectProtection (default false)
    {"kind": "protection_exception", "document": policy JSON text}                       0 or 1
    {"kind": "ip_whitelist", "scope": "project" | "tenant", "network": "ip" | "vpc",
     "entries": [str, ...]}                                                              0..4
    {"kind": "trusted_project", "project": name}
    {"kind": "member", "principal"}      active members only; the owner is no member fact of
        its own project (Super_Administrator and Admin are role_member facts)
    {"kind": "role", "name", "type": "admin" | "resource", "builtin": bool,
     "privileges": [{"object_type", "name", "actions": [...]}, ...]}   what the role carries
        by definition (workspace roles), beside its grants
    {"kind": "role_member", "role", "principal"}
    {"kind": "object", "object_type": "table", "name", "columns": [name, ...],
     "creator": principal | null}                                 live catalog objects
    {"kind": "grant", "id": int, "subject", "object_type", "object": name | "*",
     "columns": [name, ...] (empty: the whole object), "actions": [...],
     "expires": time | null, "condition": condition JSON | null, "origin",
     "package": "provider.package" | null}    ACL; ``package`` set for grants on the objects of
        an installed package (``refobject``), object_type "package" and object
        "provider.package" for a grant of the whole package
    {"kind": "policy", "role": role | null, "document": policy JSON text}   null: the project
        policy; at most one per target
    {"kind": "clearance", "subject", "level": 0-9}                  LabelSecurity access levels;
        absent means 0
    {"kind": "label", "table", "column": name | null, "level": 0-9}    sensitivity labels; a
        null column is the table's own label, which its unlabelled columns carry
    {"kind": "label_grant", "id": int, "subject", "table", "columns": [...], "level": 0-9,
     "expires": time}
    {"kind": "package", "name"}
    {"kind": "package_object", "package", "object_type", "object", "actions": [...]}
    {"kind": "package_allowance", "package", "project": consumer, "label": 0-9,
     "expires": time | null}
    {"kind": "package_install", "provider": project, "package"}     in the consumer's facts

Fact ``id``s identify rows for traces; two facts that differ only in ``id`` are the same
fact (``fact_key``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

FLAG_DEFAULTS = {
    "CheckPermissionUsingACL": True,
    "CheckPermissionUsingPolicy": True,
    "ObjectCreatorHasAccessPermission": True,
    "ObjectCreatorHasGrantPermission": True,
    "LabelSecurity": False,
    "NoWriteDown": False,
    "ProjectProtection": False,
}


def fact_key(fact: dict) -> str:
    """The identity of a fact: its canonical JSON without its row id."""
    return json.dumps({key: value for key, value in fact.items() if key != "id"}, sort_keys=True,
                      separators=(",", ":"))


def time_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_parse(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
