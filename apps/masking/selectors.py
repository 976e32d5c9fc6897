"""Reads of masking rules and the unmask whitelist, and ``column_masks``: what the gateway
asks before every query."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.catalog.models import Column, Table
from apps.masking.algorithms import mask_value, params_validated, value_kind
from apps.masking.models import MaskingJob, MaskingRule, UnmaskGrant
from apps.masking.services import masking_key_secret
from apps.tenancy.models import Project, RoleAssignment, Tenant

MAX_PREVIEW_SAMPLES = 50


class Scope:
    COLUMN = "column"
    PROJECT = "project"
    TENANT = "tenant"


@dataclass(frozen=True)
class ColumnMask:
    algorithm: str
    params: dict
    rule_id: int
    rule_name: str
    scope: str  # Scope.COLUMN, PROJECT or TENANT


def column_masks(*, user, tables: Iterable[Table | int], at: datetime.datetime | None = None,
                 ) -> dict[int, dict[str, ColumnMask]]:
    """For each table (by id), the live columns ``user`` sees masked (by lowercase name) and how.

    The most specific enabled rule wins: the column's own, then its project's rule for the
    column's sensitive type, then its tenant's. A live unmask grant to the user, or to a role
    of the table's project they hold, covering the column lifts the mask. Three queries at
    most, however many tables.
    """
    return column_masks_until(user=user, tables=tables, at=at)[0]


def column_masks_until(*, user, tables: Iterable[Table | int], at: datetime.datetime | None = None,
                       ) -> tuple[dict[int, dict[str, ColumnMask]], datetime.datetime | None]:
    """``column_masks``, and until when the answer holds as far as time goes: the first expiry
    of an unmask grant it counted (None: no such expiry). Anything else that changes it bumps
    the security version of the tables' projects."""
    at = at or timezone.now()
    table_ids = list(dict.fromkeys(getattr(table, "pk", table) for table in tables))
    masks: dict[int, dict[str, ColumnMask]] = {table_id: {} for table_id in table_ids}
    if not table_ids:
        return masks, None
    columns = list(Column.objects.filter(table_id__in=table_ids, is_dropped=False).values_list(
        "pk", "table_id", "name", "classification_id", "table__data_source__project_id",
        "table__data_source__project__tenant_id"))
    type_ids = {column[3] for column in columns if column[3] is not None}
    targets = Q(column_id__in=[column[0] for column in columns])
    if type_ids:
        targets |= Q(column__isnull=True, sensitive_type_id__in=type_ids) & (
            Q(project_id__in={column[4] for column in columns})
            | Q(project__isnull=True, tenant_id__in={column[5] for column in columns}))
    by_column, by_project_type, by_tenant_type = {}, {}, {}
    for rule in MaskingRule.objects.filter(targets, enabled=True).values_list(
            "pk", "name", "algorithm", "params", "tenant_id", "project_id", "sensitive_type_id", "column_id"):
        rule_id, name, algorithm, params, tenant_id, project_id, type_id, column_id = rule
        if column_id is not None:
            by_column[column_id] = ColumnMask(algorithm, params, rule_id, name, Scope.COLUMN)
        elif project_id is not None:
            by_project_type[project_id, type_id] = ColumnMask(algorithm, params, rule_id, name, Scope.PROJECT)
        else:
            by_tenant_type[tenant_id, type_id] = ColumnMask(algorithm, params, rule_id, name, Scope.TENANT)
    for column_id, table_id, name, type_id, project_id, tenant_id in columns:
        mask = (by_column.get(column_id) or by_project_type.get((project_id, type_id))
                or by_tenant_type.get((tenant_id, type_id)))
        if mask is not None:
            masks[table_id][name.lower()] = mask
    masked_tables = [table_id for table_id, table_masks in masks.items() if table_masks]
    if not masked_tables or not user.is_authenticated:
        return masks, None
    held_roles = RoleAssignment.objects.filter(user=user).values("role_id")
    grants = UnmaskGrant.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at), table_id__in=masked_tables
                                        ).filter(Q(user=user) | Q(role_id__in=held_roles))
    until = None
    for table_id, granted, expires_at in grants.values_list("table_id", "columns", "expires_at"):
        if expires_at is not None and (until is None or expires_at < until):
            until = expires_at
        if not granted:
            masks[table_id] = {}
        for name in granted:
            masks[table_id].pop(name.lower(), None)
    return masks, until


def rule_masks(*, tables: Iterable[Table | int]) -> dict[int, dict[str, ColumnMask]]:
    """For each table (by id), the live columns the rules mask (by lowercase name) and how,
    whoever reads: ``column_masks`` for a reader who holds no unmask grant."""
    return column_masks(user=AnonymousUser(), tables=tables)


def masking_job_list(*, user, project: Project) -> QuerySet[MaskingJob]:
    """The masking jobs that copy tables of ``project``, newest first."""
    return MaskingJob.objects.restrict(user).filter(project=project).select_related(
        "project", "source_table", "target_project", "requested_by")


def masking_rule_list(*, user, project: Project | None = None) -> QuerySet[MaskingRule]:
    """The rules of ``project`` (for its sensitive types and its columns), or the tenant-wide
    rules of the user's tenant without a project."""
    rules = MaskingRule.objects.restrict(user)
    rules = rules.filter(project__isnull=True) if project is None else rules.filter(project=project)
    return rules.select_related("tenant", "project", "sensitive_type", "column__table", "created_by").order_by(
        "column__table__name", "column__name", "sensitive_type__name", "pk")


def masking_rule_get(*, user, pk: int, project: Project | None = None) -> MaskingRule:
    """A rule of ``project`` (or a tenant-wide one) the user may see; DoesNotExist otherwise."""
    return masking_rule_list(user=user, project=project).get(pk=pk)


def unmask_grant_list(*, user, project: Project, live_only: bool = False,
                      at: datetime.datetime | None = None) -> QuerySet[UnmaskGrant]:
    grants = UnmaskGrant.objects.restrict(user).filter(project=project)
    if live_only:
        grants = grants.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at or timezone.now()))
    return grants.select_related("project", "table", "user", "role", "granted_by").order_by("table__name", "pk")


def _sample_value(sample: str, kind: str, data_type: str):
    """The value a ``data_type`` column would hold for a sample's text, as psycopg returns it."""
    text, spelled = sample.strip(), data_type.lower()
    try:
        if kind == "number":
            if any(name in spelled for name in ("real", "double", "float")):
                return float(text)
            if any(name in spelled for name in ("numeric", "decimal")):
                return Decimal(text)
            return int(text)
        if kind == "date" and "time" in spelled:
            moment = datetime.datetime.fromisoformat(text)
            if ("with time zone" in spelled or "timestamptz" in spelled) and timezone.is_naive(moment):
                moment = moment.replace(tzinfo=datetime.UTC)
            return moment
        if kind == "date":
            return datetime.date.fromisoformat(text)
    except (ValueError, InvalidOperation):
        raise ValidationError({"samples": f"{sample!r} is not a value of type {data_type}."}) from None
    return sample


def masking_preview(*, algorithm: str, params: dict | None, samples: list[str], data_type: str = "text",
                    tenant: Tenant | int) -> list[str | None]:
    """Each sample masked as a ``data_type`` column would be, with the tenant's key."""
    validated = params_validated(algorithm, params or {})
    if len(samples) > MAX_PREVIEW_SAMPLES:
        raise ValidationError({"samples": f"Preview at most {MAX_PREVIEW_SAMPLES} samples at a time."})
    kind = value_kind(data_type)
    values = [_sample_value(sample, kind, data_type) for sample in samples]
    secret = masking_key_secret(tenant=tenant)
    masked = [mask_value(algorithm, validated, value, data_type=data_type, secret=secret) for value in values]
    return [None if value is None else str(value) for value in masked]
