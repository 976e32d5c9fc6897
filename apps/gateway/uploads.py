"""Uploading a CSV file into a warehouse table: Update on the table, every value checked
against its column's type first, all rows or none.

The first line names the columns (any subset of the table's, in any order; the rest take
their defaults). An empty field is NULL, refused for a NOT NULL column. Each value is checked
in Python against the column's PostgreSQL type, and the first errors come back together, each
naming its line and column, before anything is written; the warehouse then inserts every row
in one transaction under the gateway's role, so a value it still refuses (a unique key, say)
leaves the table as it was. Audited as ``gateway.upload``.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps import audit
from apps.audit.models import Decision as AuditDecision
from apps.catalog.models import Column
from apps.gateway import limits
from apps.gateway.prepare import known_tables, write_checks
from apps.gateway.services import QueryDenied, decision_summary, failure_of
from apps.gateway.sql import TableName
from apps.gateway.warehouse import WAREHOUSE, restricted, schemas_prepared
from apps.masking.expressions import quoted_identifier, quoted_table
from apps.permissions.impact import access_request_as_dict
from apps.tenancy.models import Project

MAX_ERRORS = 20
_INTEGER_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def _converter(data_type: str):
    """A function from a CSV field to the value PostgreSQL takes for ``data_type``; it raises
    ValueError with what is wrong."""
    base = data_type.split("(", 1)[0].strip()
    size = re.search(r"\((\d+)(?:,\s*(\d+))?\)", data_type)
    if base in _INTEGER_RANGES:
        bound = _INTEGER_RANGES[base]

        def integer(text: str):
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a whole number") from None
            if not -bound <= value < bound:
                raise ValueError(f"{text} is out of range for {base}")
            return value
        return integer
    if base in ("numeric", "decimal", "real", "double precision"):
        def number(text: str):
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise ValueError(f"{text!r} is not a number") from None
            if not value.is_finite():
                raise ValueError(f"{text!r} is not a finite number")
            if base in ("numeric", "decimal") and size and size.group(1):
                precision, scale = int(size.group(1)), int(size.group(2) or 0)
                if abs(value.quantize(Decimal(1).scaleb(-scale))).adjusted() >= precision - scale:
                    raise ValueError(f"{text} does not fit {data_type}")
            return value
        return number
    if base == "boolean":
        def boolean(text: str):
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"{text!r} is not true or false")
        return boolean
    if base == "date":
        def date(text: str):
            try:
                return datetime.date.fromisoformat(text.strip())
            except ValueError:
                raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
        return date
    if base.startswith("timestamp"):
        def moment(text: str):
            try:
                return datetime.datetime.fromisoformat(text.strip())
            except ValueError:
                raise ValueError(f"{text!r} is not a date and time (YYYY-MM-DD HH:MM[:SS])") from None
        return moment
    if base in ("character varying", "character", "varchar", "char") and size:
        limit = int(size.group(1))

        def bounded(text: str):
            if len(text) > limit:
                raise ValueError(f"{len(text)} characters is longer than {data_type} allows")
            return text
        return bounded
    return lambda text: text


def _rows(content: str, table: TableName, columns: dict[str, tuple[str, bool]]) -> tuple[list[str], list[list]]:
    reader = csv.reader(io.StringIO(content))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError({"file": "The file is empty: its first line must name the columns."}) from None
    except csv.Error as error:
        raise ValidationError({"file": f"Line 1 is not CSV: {error}."}) from None
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in columns]
    if unknown:
        raise ValidationError({"file": f"{table} has no column {unknown[0]!r} (line 1)."})
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValidationError({"file": f"Column {repeated[0]!r} is named twice on line 1."})
    converters = [_converter(columns[name][0]) for name in header]
    rows, errors = [], []
    try:
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(rows) >= settings.GATEWAY_UPLOAD_MAX_ROWS:
                raise ValidationError({"file": f"The file has more than {settings.GATEWAY_UPLOAD_MAX_ROWS:,} rows "
                                               "(GATEWAY_UPLOAD_MAX_ROWS)."})
            if len(fields) != len(header):
                errors.append(f"Line {line}: {len(fields)} fields where the header names {len(header)}.")
                continue
            row = []
            for name, convert, text in zip(header, converters, fields):
                if text == "":
                    if not columns[name][1]:
                        errors.append(f"Line {line}, column {name}: empty, but the column is NOT NULL.")
                    row.append(None)
                    continue
                try:
                    row.append(convert(text))
                except ValueError as error:
                    errors.append(f"Line {line}, column {name}: {error}.")
            rows.append(row)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as error:
        errors.append(f"Line {reader.line_num}: not CSV ({error}).")
    if errors:
        raise ValidationError({"file": errors[:MAX_ERRORS]})
    if not rows:
        raise ValidationError({"file": "The file has a header but no rows."})
    return header, rows


def upload_csv(*, actor, project: Project, table_name: str, content: bytes, source_ip: str | None = None,
               request=None) -> int:
    """Insert the CSV ``content`` into ``table_name`` (``table`` of ``project`` or
    ``project.table``); returns the rows written."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError({"file": f"The file is not UTF-8 (byte {error.start})."}) from None
    owner, _, name = table_name.rpartition(".")
    target = TableName(owner or project.name, name)
    known = known_tables(project, {target}).get(target)
    if known is None:
        raise ValidationError({"table": f"There is no table {target} (or it is not in a project of yours)."})
    nullable = dict(Column.objects.filter(table=known.table, is_dropped=False).values_list("name", "nullable"))
    columns = {column: (data_type, nullable.get(column, True)) for column, data_type in known.columns.items()}
    header, rows = _rows(text, target, columns)
    now = timezone.now()
    started = time.perf_counter()
    with limits.query_slot(actor):
        checks = write_checks(actor=actor, project=project, target=target, columns=header, now=now,
                              source_ip=source_ip)
        decision = decision_summary(checks)
        details = {"table": str(target), "columns": header, "rows": len(rows),
                   "requests": [access_request_as_dict(check.request) for check in checks], "decision": decision}
        if not decision["allowed"]:
            audit.record(actor, "gateway.upload", known.table, project=project, request=request,
                         decision=AuditDecision.DENY, details=details)
            raise QueryDenied(checks)
        statement = (f"INSERT INTO {quoted_table(target.project, target.name)} ("
                     + ", ".join(quoted_identifier(column) for column in header)
                     + ") VALUES (" + ", ".join(["%s"] * len(header)) + ")")
        try:
            with transaction.atomic(), transaction.atomic(using=WAREHOUSE):
                with connections[WAREHOUSE].cursor() as cursor:
                    schemas_prepared(cursor, {target.project})
                    with restricted(cursor):
                        cursor.executemany(statement, rows)
                details["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
                audit.record(actor, "gateway.upload", known.table, project=project, request=request,
                             decision=AuditDecision.ALLOW, details=details)
        except DatabaseError as error:
            failure = failure_of(error)
            audit.record(actor, "gateway.upload", known.table, project=project, request=request,
                         decision=AuditDecision.ALLOW, details={**details, "failed": str(failure)})
            raise failure from None
    return len(rows)
