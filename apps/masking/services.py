"""Every change to masking rules, the unmask whitelist and the tenants' masking keys.

Each service is atomic, checks who may act before anything else, validates its input into
field-level ``ValidationError``s, writes, bumps the security version of every project the
change concerns (a tenant-wide rule concerns every project of the tenant) and records its
audit event, all in one transaction; a refusal changes nothing.

Who may act:

- tenant-wide rules: the tenant's owner and administrators;
- project and column rules, unmask grants: ``MANAGE_SECURITY`` in the project (the owner,
  Super_Administrator, the security administrators), as for the rest of its security
  configuration.
"""

from __future__ import annotations

import os
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps import audit
from apps.audit.models import Channel
from apps.catalog.models import Column, SensitiveType, Table
from apps.core.crypto import decrypt, encrypt
from apps.masking.algorithms import ALGORITHMS, params_validated, value_kind
from apps.masking.models import MaskingKey, MaskingRule, UnmaskGrant
from apps.permissions.selectors import warehouse_tables
from apps.tenancy.models import Membership, Project, Role, Tenant
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import is_tenant_admin
from apps.tenancy.services import require_capability, security_version_bump

MASKING_KEY_PURPOSE = "masking_key"
MASKING_KEY_BYTES = 32
RULE_FIELDS = ("name", "algorithm", "params", "enabled", "description")

# tenant id -> its decrypted masking secret. A secret never changes once committed, so a
# process may keep it for good; only committed secrets go in (see masking_key_secret).
_secrets: dict[int, bytes] = {}


# --- the tenant's masking key ---------------------------------------------------------------

def masking_key_secret(*, tenant: Tenant | int) -> bytes:
    """The tenant's 32-byte secret for salted hashes and pseudonyms, made on first use."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    secret = _secrets.get(tenant_id)
    if secret is None:
        secret = _masking_key_ensure(tenant_id)
        # Cached only once committed: a secret made in a transaction that rolls back never
        # existed, and the next caller makes another.
        transaction.on_commit(lambda: _secrets.setdefault(tenant_id, secret))
    return secret


@transaction.atomic
def _masking_key_ensure(tenant_id: int) -> bytes:
    key = MaskingKey.objects.filter(tenant_id=tenant_id).first()
    if key is None:
        try:
            # A savepoint: when another process made the key first, its row wins and this
            # transaction carries on.
            with transaction.atomic():
                key = MaskingKey.objects.create(
                    tenant_id=tenant_id,
                    secret_encrypted=encrypt(os.urandom(MASKING_KEY_BYTES), purpose=MASKING_KEY_PURPOSE))
                audit.record(None, "masking.key_create", Tenant.objects.get(pk=tenant_id), channel=Channel.SYSTEM)
        except IntegrityError:
            key = MaskingKey.objects.get(tenant_id=tenant_id)
    return decrypt(key.secret_encrypted, purpose=MASKING_KEY_PURPOSE)


# --- who may act ----------------------------------------------------------------------------

def require_rule_manager(actor, *, tenant_id: int, project: Project | None) -> None:
    """Refuse with PermissionDenied unless ``actor`` may change the rules of ``project``, or
    the tenant-wide rules when ``project`` is None."""
    if project is not None:
        require_capability(actor, project, Capability.MANAGE_SECURITY)
        return
    if actor is None or not actor.is_authenticated or actor.tenant_id != tenant_id or not is_tenant_admin(actor):
        raise PermissionDenied("Only the tenant's owner and administrators change its tenant-wide masking rules.")


def may_manage_rules(actor, *, tenant_id: int, project: Project | None) -> bool:
    try:
        require_rule_manager(actor, tenant_id=tenant_id, project=project)
    except PermissionDenied:
        return False
    return True


# --- masking rules --------------------------------------------------------------------------

def _text(value, field: str, *, max_length: int, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise ValidationError({field: "This field is required."})
    if len(text) > max_length:
        raise ValidationError({field: f"Use at most {max_length} characters."})
    return text


def _algorithm_params(algorithm, params, *, column: Column | None) -> tuple[str, dict]:
    code = algorithm.strip() if isinstance(algorithm, str) else ""
    if code not in ALGORITHMS:
        raise ValidationError({"algorithm": f"No masking algorithm {code!r}." if code else "Choose an algorithm."})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError({"params": "Give the parameters as an object of names and values."})
    validated = params_validated(code, params)
    if column is not None:
        kind = value_kind(column.data_type)
        if kind not in ALGORITHMS[code].applies_to:
            raise ValidationError({"algorithm": f"{ALGORITHMS[code].name} does not apply to column {column.name} "
                                                f"({column.data_type})."})
    return code, validated


def _sensitive_type(sensitive_type: SensitiveType, tenant_id: int) -> SensitiveType:
    if sensitive_type.tenant_id not in (None, tenant_id):
        raise ValidationError({"sensitive_type": "No such sensitive type."})
    return sensitive_type


def _rule_column(project: Project, column: Column) -> Column:
    """A live column of a live warehouse table of ``project``."""
    if column.is_dropped or not warehouse_tables(project).filter(pk=column.table_id).exists():
        raise ValidationError({"column": f"No such column in project {project.name}."})
    return column


def _rule_target(rule: MaskingRule) -> str:
    if rule.column_id is not None:
        return f"column {rule.column.table.name}.{rule.column.name}"
    scope = "tenant" if rule.project_id is None else f"project {rule.project.name}"
    return f"sensitive type {rule.sensitive_type.code} ({scope})"


def _rule_projects(rule: MaskingRule) -> list[Project]:
    if rule.project_id is not None:
        return [rule.project]
    return list(Project.objects.filter(tenant_id=rule.tenant_id).order_by("pk"))


def _rule_detail(rule: MaskingRule) -> dict:
    return {"name": rule.name, "target": _rule_target(rule), "algorithm": rule.algorithm, "params": rule.params,
            "enabled": rule.enabled}


def _duplicate_message(rule: MaskingRule) -> dict:
    if rule.column_id is not None:
        return {"column": f"Column {rule.column.name} already has a masking rule."}
    where = "the tenant" if rule.project_id is None else f"project {rule.project.name}"
    return {"sensitive_type": f"{where[0].upper()}{where[1:]} already has a masking rule for "
                              f"{rule.sensitive_type.name}."}


def _rule_duplicate_exists(rule: MaskingRule) -> bool:
    others = MaskingRule.objects.exclude(pk=rule.pk)
    if rule.column_id is not None:
        return others.filter(column_id=rule.column_id).exists()
    if rule.project_id is not None:
        return others.filter(project_id=rule.project_id, sensitive_type_id=rule.sensitive_type_id).exists()
    return others.filter(tenant_id=rule.tenant_id, project__isnull=True,
                         sensitive_type_id=rule.sensitive_type_id).exists()


def _rule_save(rule: MaskingRule) -> None:
    if _rule_duplicate_exists(rule):
        raise ValidationError(_duplicate_message(rule))
    try:
        # Two requests may pass the check above at once; the constraint decides.
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError(_duplicate_message(rule)) from None


def _bump(projects, *, actor, summary: str) -> None:
    for project in projects:
        security_version_bump(project, actor=actor, summary=summary)


@transaction.atomic
def masking_rule_create(*, actor, name: str, algorithm: str, params: dict | None = None,
                        tenant: Tenant | None = None, project: Project | None = None,
                        sensitive_type: SensitiveType | None = None, column: Column | None = None,
                        enabled: bool = True, description: str = "", request=None) -> MaskingRule:
    """A rule for ``sensitive_type`` in ``project`` (or in the whole ``tenant`` without a
    project: the actor's tenant unless given), or for ``column`` of ``project``."""
    tenant_id = project.tenant_id if project is not None else (tenant.pk if tenant is not None else actor.tenant_id)
    require_rule_manager(actor, tenant_id=tenant_id, project=project)
    if (sensitive_type is None) == (column is None):
        raise ValidationError({"sensitive_type": "Choose either a sensitive type or a column."})
    if column is not None:
        if project is None:
            raise ValidationError({"column": "A column rule belongs to the column's project."})
        column = _rule_column(project, column)
    else:
        sensitive_type = _sensitive_type(sensitive_type, tenant_id)
    rule = MaskingRule(tenant_id=tenant_id, project=project, sensitive_type=sensitive_type, column=column,
                       name=_text(name, "name", max_length=100, required=True),
                       description=_text(description, "description", max_length=300, required=False),
                       enabled=bool(enabled), created_by=actor)
    rule.algorithm, rule.params = _algorithm_params(algorithm, params, column=column)
    _rule_save(rule)
    _bump(_rule_projects(rule), actor=actor, summary=f"mask {_rule_target(rule)} with {rule.algorithm} "
                                                     f"(rule {rule.name})")
    audit.record(actor, "masking.rule_create", rule, project=project, request=request, details=_rule_detail(rule))
    return rule


@transaction.atomic
def masking_rule_update(*, actor, rule: MaskingRule, request=None, **changes) -> MaskingRule:
    """Changes any of name, algorithm, params, enabled and description; the target stays.
    A new algorithm without params starts from its defaults."""
    require_rule_manager(actor, tenant_id=rule.tenant_id, project=rule.project)
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise ValidationError({field: "This field cannot be changed." for field in unknown})
    before = _rule_detail(rule)
    if "name" in changes:
        rule.name = _text(changes["name"], "name", max_length=100, required=True)
    if "description" in changes:
        rule.description = _text(changes["description"], "description", max_length=300, required=False)
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    if "algorithm" in changes or "params" in changes:
        algorithm = changes.get("algorithm", rule.algorithm)
        params = changes.get("params", rule.params if algorithm == rule.algorithm else {})
        rule.algorithm, rule.params = _algorithm_params(algorithm, params, column=rule.column)
    after = _rule_detail(rule)
    changed = {field: {"from": before[field], "to": after[field]} for field in after if before[field] != after[field]}
    if not changed:
        return rule
    rule.save()
    state = "" if rule.enabled else ", disabled"
    _bump(_rule_projects(rule), actor=actor, summary=f"mask {_rule_target(rule)} with {rule.algorithm} "
                                                     f"(rule {rule.name}{state})")
    audit.record(actor, "masking.rule_update", rule, project=rule.project, request=request,
                 details={"target": after["target"], "changes": changed})
    return rule


@transaction.atomic
def masking_rule_delete(*, actor, rule: MaskingRule, request=None) -> None:
    require_rule_manager(actor, tenant_id=rule.tenant_id, project=rule.project)
    detail, projects = _rule_detail(rule), _rule_projects(rule)
    audit.record(actor, "masking.rule_delete", rule, project=rule.project, request=request, details=detail)
    rule.delete()
    _bump(projects, actor=actor, summary=f"unmask {detail['target']} (rule {detail['name']} deleted)")


# --- the unmask whitelist -------------------------------------------------------------------

def _grant_table(project: Project, table: Table) -> Table:
    if not warehouse_tables(project).filter(pk=table.pk).exists():
        raise ValidationError({"table": f"No such table in project {project.name}."})
    return table


def _grant_columns(table: Table, columns) -> list[str]:
    """The catalog's spelling of ``columns``, each a live column of ``table``; none means all."""
    if isinstance(columns, str):
        columns = [columns]
    live = {name.lower(): name for name in Column.objects.live().filter(table=table).values_list("name", flat=True)}
    names: list[str] = []
    for value in columns or ():
        name = value.strip() if isinstance(value, str) else ""
        if name.lower() not in live:
            raise ValidationError({"columns": f"{table.name} has no column {name!r}." if name
                                   else "Name each column."})
        if live[name.lower()] not in names:
            names.append(live[name.lower()])
    return names


def _grant_subject(project: Project, user, role: Role | None) -> str:
    if (user is None) == (role is None):
        raise ValidationError({"user": "Name either a user or a role."})
    if role is not None:
        if role.project_id != project.pk:
            raise ValidationError({"role": f"No role named {role.name} in project {project.name}."})
        return f"role {role.name}"
    if not Membership.objects.filter(project=project, user=user, is_active=True).exists():
        raise ValidationError({"user": f"{user.username} is not a member of {project.name}."})
    return f"user {user.username}"


def _grant_expiry(expires_at) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise ValidationError({"expires_at": "Give a date and time with a time zone."})
    if expires_at <= timezone.now():
        raise ValidationError({"expires_at": "That time has passed; give a time in the future."})
    return expires_at


def _grant_text(grant: UnmaskGrant) -> str:
    columns = f" ({', '.join(grant.columns)})" if grant.columns else ""
    subject = f"user {grant.user.username}" if grant.user_id else f"role {grant.role.name}"
    return f"table {grant.table.name}{columns} to {subject}"


@transaction.atomic
def unmask_grant_create(*, actor, project: Project, table: Table, columns=(), user=None, role: Role | None = None,
                        expires_at: datetime | None, reason: str = "", origin: str = "ui",
                        request=None) -> UnmaskGrant:
    """``user`` (a member) or ``role`` (of the project) sees ``columns`` of ``table`` (all of
    them when none are named) in clear until ``expires_at`` (None: until revoked)."""
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    table = _grant_table(project, table)
    names = _grant_columns(table, columns)
    _grant_subject(project, user, role)
    grant = UnmaskGrant.objects.create(
        project=project, table=table, columns=names, user=user, role=role, expires_at=_grant_expiry(expires_at),
        reason=_text(reason, "reason", max_length=300, required=False),
        origin=_text(origin, "origin", max_length=16, required=True), granted_by=actor)
    security_version_bump(project, actor=actor, summary=f"unmask {_grant_text(grant)}")
    audit.record(actor, "masking.unmask_grant", grant, project=project, request=request, details={
        "table": table.name, "columns": names, "subject": _grant_text(grant).split(" to ", 1)[1],
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None, "reason": grant.reason,
        "origin": grant.origin})
    return grant


@transaction.atomic
def unmask_grant_revoke(*, actor, grant: UnmaskGrant, request=None) -> None:
    project = grant.project
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    text = _grant_text(grant)
    audit.record(actor, "masking.unmask_revoke", grant, project=project, request=request,
                 details={"grant": text, "origin": grant.origin})
    grant.delete()
    security_version_bump(project, actor=actor, summary=f"revoke unmask on {text}")
