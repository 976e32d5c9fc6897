"""Downloads of query results, watermarked, and tracing a leaked copy back to its export.

An export is a SELECT run through the gateway with Download checked on every table it reads
(MaxCompute's Tunnel-download action), up to GATEWAY_EXPORT_MAX_ROWS rows, audited as
``gateway.export``. Its rows carry the invisible mark of its serial (the ``Export`` row's
primary key) and its content fingerprint is kept, under a key derived from the tenant's
masking key (``masking.watermark`` explains both). CSV is written as UTF-8 with a byte-order
mark, so spreadsheets keep the marks; JSON as a list of objects.

Leak tracing takes a suspected file or a pasted part of one and names the exports it came
from: by mark, or by content when the marks were stripped. It looks only among the exports
the tracer may see (their tenant admins and the projects' auditors; ``Export.objects.restrict``),
the most recent ``LEAK_TRACE_MAX_EXPORTS`` by content, and is itself audited.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps import audit
from apps.gateway.models import Export, ExportFormat
from apps.gateway.services import QueryResult, query_run
from apps.masking import watermark
from apps.masking.services import masking_key_secret
from apps.tenancy.models import Project

LEAK_TRACE_MAX_EXPORTS = 2_000
LEAK_TRACE_MAX_CHARS = 20_000_000


def watermark_key(tenant_id: int) -> bytes:
    """The tenant's watermark key: derived from its masking key, so it never changes and
    another tenant's exports never match."""
    return hmac.new(masking_key_secret(tenant=tenant_id), b"warden export watermark", hashlib.sha256).digest()


@dataclass(frozen=True)
class ExportFile:
    export: Export
    filename: str
    content_type: str
    content: bytes


def _granted_by(result: QueryResult) -> list[dict]:
    """The grants the allowing decisions matched: what made this export possible."""
    found = []
    for check in result.prepared.checks:
        for step in check.decision.trace:
            rules = [step.rule] if step.rule else []
            if step.rule and step.rule.get("kind") == "columns":
                rules = step.rule.get("rules", [])
            for rule in rules:
                if rule.get("kind") == "grant" and rule.get("id") is not None:
                    found.append({"grant": rule["id"], "what": check.what})
    return found


def _serialised(fmt: str, columns: list[str], rows: list[list]) -> bytes:
    if fmt == ExportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(["" if value is None else str(value) for value in row] for row in rows)
        return buffer.getvalue().encode("utf-8-sig")
    records = [dict(zip(columns, row)) for row in rows]
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


def export_run(*, actor, project: Project, sql: str, fmt: str, source_ip: str | None = None,
               request=None) -> ExportFile:
    """Run ``sql`` for download as ``fmt`` (csv or json). Raises what ``query_run`` raises."""
    if fmt not in ExportFormat.values:
        raise ValidationError({"format": f"Choose one of: {', '.join(ExportFormat.values)}."})
    result = query_run(actor=actor, project=project, sql=sql, source_ip=source_ip, request=request, download=True)
    key = watermark_key(project.tenant_id)
    with transaction.atomic():
        export = Export.objects.create(
            tenant_id=project.tenant_id, project=project, user=actor, event_id=result.event_id, sql=result.prepared.sql,
            format=fmt, columns=result.columns, row_count=len(result.rows), reads=result.prepared.reads,
            masked_columns=result.masked_columns, grants=_granted_by(result),
            fingerprint=watermark.fingerprint(result.rows, key=key))
        marked = watermark.rows_watermarked(result.rows, serial=export.pk, key=key)
    content = _serialised(fmt, result.columns, marked)
    stamp = export.created_at.strftime("%Y%m%d-%H%M%S")
    return ExportFile(export=export, filename=f"{project.name}-{stamp}-{export.pk}.{fmt}",
                      content_type="text/csv; charset=utf-8" if fmt == ExportFormat.CSV else "application/json",
                      content=content)


@dataclass(frozen=True)
class LeakFinding:
    export: Export
    method: str
    score: float
    cells: int


def may_trace_leaks(user) -> bool:
    from apps.audit.selectors import audited_project_ids
    from apps.tenancy.selectors import is_tenant_admin

    return user.is_authenticated and user.tenant_id is not None and (
        is_tenant_admin(user) or bool(audited_project_ids(user)))


def leak_trace(*, actor, text: str, request=None) -> list[LeakFinding]:
    """The exports ``text`` (a file's content or a pasted part of it) most likely came from,
    best first. For tenant admins and auditors."""
    if not may_trace_leaks(actor):
        raise PermissionDenied("Leak tracing is for tenant administrators and auditors.")
    if not text or not text.strip():
        raise ValidationError({"text": "Upload a file or paste part of one."})
    if len(text) > LEAK_TRACE_MAX_CHARS:
        raise ValidationError({"text": f"That is {len(text):,} characters; tracing reads at most "
                                       f"{LEAK_TRACE_MAX_CHARS:,}."})
    visible = Export.objects.restrict(actor)
    key = watermark_key(actor.tenant_id)
    fingerprints = dict(visible.order_by("-id").values_list("id", "fingerprint")[:LEAK_TRACE_MAX_EXPORTS])
    candidates = watermark.leak_candidates(text, key=key, fingerprints={pk: bytes(fp) for pk, fp in fingerprints.items()})
    exports = visible.select_related("user", "project").in_bulk([match.serial for match in candidates])
    findings = [LeakFinding(export=exports[match.serial], method=match.method, score=match.score, cells=match.cells)
                for match in candidates if match.serial in exports]
    audit.record(actor, "gateway.leak_trace", actor.tenant, request=request,
                 details={"characters": len(text), "exports_compared": len(fingerprints),
                          "findings": [{"export": f.export.pk, "method": f.method, "score": round(f.score, 3)}
                                       for f in findings[:20]]})
    return findings
