"""Row filters (``models.RowFilter``): which rows of a table a reader sees. This module holds
both their writes (services: atomic, permission-checked, audited, bumping the project's
security version) and their reads (selectors), and their statements in the security console.

A filter's expression is one SQL condition over its table's columns, checked when it is
written, never when it runs: sqlglot (PostgreSQL dialect) must read it as one condition with
no subquery, aggregate, window, parameter, or function or type off the allow-list
(``expressions.expression_refusal``), naming no column but its table's own; then PostgreSQL
plans ``SELECT 1 FROM <table> WHERE <condition>`` in a savepoint, which catches type errors
and unknown operators. It is stored normalised, every column a quoted bare name
(``"region" = 'EU'``), so the gateway puts it as it is into ``WHERE (...)`` of a subquery
over the table.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import sqlglot
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Q, QuerySet
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from apps import audit
from apps.catalog.models import Column, Table
from apps.masking.expressions import expression_refusal, quoted_table
from apps.masking.models import RowFilter
from apps.permissions.selectors import warehouse_tables
from apps.permissions.statements import StatementError
from apps.permissions.statements.lexer import Token, TokenKind, next_token, principal_canonical, shortened
from apps.tenancy.models import Membership, Project, Role, RoleAssignment
from apps.tenancy.roles import Capability
from apps.tenancy.services import require_capability, security_version_bump

MAX_EXPRESSION_LENGTH = 4000
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
EXAMPLE = "region = 'EU'"
_POSTGRES = sqlglot.Dialect.get_or_raise("postgres")
_PARAMETERS = (exp.Placeholder, exp.Parameter, exp.SessionParameter)
_QUERY_STARTS = (TokenType.SELECT, TokenType.WITH, TokenType.VALUES)


class SubjectKind(models.TextChoices):
    USER = "user", "User"
    ROLE = "role", "Role"
    EVERYONE = "everyone", "Everyone"


@dataclass(frozen=True)
class Subject:
    """Whom a filter names: one of a user, a role of the table's project, or everyone."""

    user: object = None
    role: Role | None = None
    everyone: bool = False


def subject_text(row_filter: RowFilter) -> str:
    """The subject as statements write it: ``user RAM$t:bob``, ``role analyst``, ``everyone``."""
    if row_filter.user_id:
        return f"user {row_filter.user.principal_name}"
    if row_filter.role_id:
        return f"role {row_filter.role.name}"
    return "everyone"


def subject_name(row_filter: RowFilter) -> str | None:
    """The subject's name alone: the user's principal, the role's name, or None for everyone."""
    if row_filter.user_id:
        return row_filter.user.principal_name
    return row_filter.role.name if row_filter.role_id else None


def subject_kind(row_filter: RowFilter) -> str:
    if row_filter.user_id:
        return SubjectKind.USER
    return SubjectKind.ROLE if row_filter.role_id else SubjectKind.EVERYONE


# --- the condition ------------------------------------------------------------------------------

class ConditionError(Exception):
    """Why a text may not be a row filter's condition; ``position`` is the 0-based offset in
    the text of the part at fault, where one part is."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


def _start(node: exp.Expression) -> int | None:
    """Where ``node`` starts in the text sqlglot read, as far as sqlglot noted positions (of
    names and function calls): the first noted position in it."""
    for part in node.walk():
        if "start" in part.meta:
            return part.meta["start"]
    return None


def _same_name(identifier: exp.Identifier, name: str) -> bool:
    # PostgreSQL folds unquoted names to lowercase; the catalog keeps names as the database has them.
    return identifier.this == name if identifier.quoted else identifier.this.lower() == name.lower()


def _column_name(identifier: exp.Identifier, columns: list[str]) -> str | None:
    """The table's column ``identifier`` names, or None."""
    if identifier.this in columns:
        return identifier.this
    if identifier.quoted:
        return None
    matches = [name for name in columns if name.lower() == identifier.this.lower()]
    return matches[0] if len(matches) == 1 else None


def _parsed(text: str) -> tuple[exp.Expression, list]:
    try:
        tokens = _POSTGRES.tokenize(text)
    except TokenError:
        # What sqlglot's tokenizer cannot read is a string, quoted name or comment left open.
        raise ConditionError("The condition does not parse: a quote or comment opened in it is never closed.") \
            from None
    semicolon = next((token for token in tokens if token.token_type == TokenType.SEMICOLON), None)
    if semicolon is not None:
        raise ConditionError("A row filter is one condition: ';' may not appear outside a string.", semicolon.start)
    try:
        trees = _POSTGRES.parser().parse(tokens, text)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        position = None
        if detail.get("line"):
            line_start = sum(len(line) + 1 for line in text.split("\n")[:detail["line"] - 1])
            position = max(0, line_start + detail["col"] - len(detail.get("highlight") or ""))
        description = detail.get("description") or str(error)
        if description.startswith("Required keyword"):
            # sqlglot names its own classes here ("'expression' missing for <class ...EQ>").
            description = "an operand is missing"
        raise ConditionError(f"The condition does not parse: {description}.", position) from None
    if len(trees) != 1 or trees[0] is None:
        raise ConditionError(f"Write one condition over the table's columns, such as {EXAMPLE}.")
    return trees[0], tokens


def _refuse_constructs(tree: exp.Expression, tokens: list) -> None:
    if not isinstance(tree, exp.Condition):
        raise ConditionError(f"A row filter is a condition such as {EXAMPLE}, not a statement "
                             f"({tree.key.upper()}).", 0)
    for node in tree.walk():
        if isinstance(node, (exp.Query, exp.Subquery)):
            query = next((token.start for token in tokens if token.token_type in _QUERY_STARTS), None)
            raise ConditionError("A row filter may not hold a subquery: it reads only its own table's row.", query)
        if isinstance(node, exp.Window):
            raise ConditionError("A row filter may not use a window function: it judges one row at a time.",
                                 _start(node))
        if isinstance(node, exp.AggFunc):
            raise ConditionError("A row filter may not use an aggregate function: it judges one row at a time.",
                                 _start(node))
        if isinstance(node, _PARAMETERS):
            raise ConditionError(f"A row filter may not hold parameters ({node.sql(dialect='postgres')}): write the "
                                 f"value itself.", _start(node))


def _column_hint(column: exp.Column, columns: list[str]) -> str:
    """The end of the unknown column's message: a near miss among the table's columns, or,
    for a bare word, that strings are quoted."""
    by_lowercase = {name.lower(): name for name in columns}
    close = difflib.get_close_matches(column.name.lower(), list(by_lowercase), n=1, cutoff=0.7)
    if close:
        return f"; did you mean {by_lowercase[close[0]]}?"
    return " (a string goes in single quotes)." if not column.this.quoted and not column.table else "."


def _bare_columns(tree: exp.Expression, table: Table) -> exp.Expression:
    """``tree`` with every column reference the table's own column as a quoted bare name."""
    columns = list(Column.objects.live().filter(table=table).values_list("name", flat=True))

    def bare(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        position = _start(node)
        if node.args.get("db") is not None or node.args.get("catalog") is not None:
            raise ConditionError(f"{node.sql(dialect='postgres')} names another schema's column: a row filter on "
                                 f"{table.name} names only its own columns.", position)
        qualifier = node.args.get("table")
        if qualifier is not None and not _same_name(qualifier, table.name):
            raise ConditionError(f"{node.sql(dialect='postgres')} is a column of another table: a row filter on "
                                 f"{table.name} names only its own columns.", position)
        if not isinstance(node.this, exp.Identifier):
            raise ConditionError(f"{node.sql(dialect='postgres')} is not a column: name the columns one by one.",
                                 position)
        name = _column_name(node.this, columns)
        if name is None:
            raise ConditionError(f"{table.name} has no column {node.this.this}{_column_hint(node, columns)}",
                                 position)
        return exp.column(exp.to_identifier(name, quoted=True))

    return tree.transform(bare)


def _plan(table: Table, condition: str) -> None:
    """Has PostgreSQL plan the condition over the table, in a savepoint that keeps nothing."""
    sql = f"EXPLAIN SELECT 1 FROM {quoted_table(table.schema, table.name)} WHERE {condition}"
    try:
        with transaction.atomic(using="warehouse"), connections["warehouse"].cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConditionError(f"PostgreSQL refuses the condition: {first_line}.") from None


def condition_normalise(table: Table, text: str) -> str:
    """``text`` as the filter's stored expression, or ConditionError saying what is wrong."""
    if not (text or "").strip():
        raise ConditionError(f"Write a condition over the table's columns, such as {EXAMPLE}.")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ConditionError(f"Keep the condition under {MAX_EXPRESSION_LENGTH} characters.")
    tree, tokens = _parsed(text)
    _refuse_constructs(tree, tokens)
    refusal = expression_refusal(tree)
    if refusal is not None:
        raise ConditionError(refusal[:1].upper() + refusal[1:] + ".")
    condition = _bare_columns(tree, table).sql(dialect="postgres", comments=False)
    _plan(table, condition)
    return condition


# --- services -----------------------------------------------------------------------------------

def row_filter_table(project: Project, name: str) -> Table:
    """The live warehouse table of ``project`` called ``name`` (any case)."""
    table = warehouse_tables(project).filter(name__iexact=(name or "").strip()).order_by("name").first()
    if table is None:
        raise ValidationError({"table": f"No table named {name} in project {project.name}."})
    return table


def subject_resolve(project: Project, kind: str, name: str = "") -> Subject:
    """The subject a form, the API or a statement names: a user as the console names them
    (``RAM$t:bob``, ``ALIYUN$owner`` or a bare user name), a role of ``project``, or everyone."""
    from apps.permissions.console import statement_user

    name = (name or "").strip()
    if kind == SubjectKind.EVERYONE:
        return Subject(everyone=True)
    if kind not in SubjectKind.values:
        raise ValidationError({"subject_kind": "Choose user, role or everyone."})
    if not name:
        raise ValidationError({"subject": f"Name the {kind}."})
    if kind == SubjectKind.ROLE:
        role = Role.objects.filter(project=project, name__iexact=name).first()
        if role is None:
            raise ValidationError({"subject": f"No role named {name} in project {project.name}."})
        return Subject(role=role)
    try:
        return Subject(user=statement_user(project, name))
    except ValidationError as error:
        raise ValidationError({"subject": error.messages}) from None


def _subject_fields(project: Project, subject: Subject) -> dict:
    if sum((subject.user is not None, subject.role is not None, bool(subject.everyone))) != 1:
        raise ValidationError({"subject": "Name one subject: a user, a role of the project, or everyone."})
    if subject.role is not None and subject.role.project_id != project.pk:
        raise ValidationError({"subject": f"No role named {subject.role.name} in project {project.name}."})
    if subject.user is not None and not Membership.objects.filter(project=project, user=subject.user,
                                                                  is_active=True).exists():
        raise ValidationError({"subject": f"{subject.user.username} is not a member of {project.name}; "
                                          f"add them first."})
    return {"user": subject.user, "role": subject.role, "everyone": bool(subject.everyone)}


def _expression(table: Table, text: str) -> str:
    try:
        return condition_normalise(table, text)
    except ConditionError as error:
        # Chained, so the console can point at the part of its statement at fault.
        raise ValidationError({"expression": error.message}) from error


def _name(table: Table, name: str, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise ValidationError({"name": "Use 1 to 63 letters, digits and '_', starting with a letter or '_'."})
    clash = RowFilter.objects.filter(table=table, name__iexact=name).exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"Table {table.name} already has a row filter named {name}."})
    return name


def _description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > 300:
        raise ValidationError({"description": "Keep the description under 300 characters."})
    return text


def _statement_line(row_filter: RowFilter) -> str:
    return (f"create row filter {row_filter.name} on table {row_filter.table.name} to {subject_text(row_filter)} "
            f"where {row_filter.expression}")


def _details(row_filter: RowFilter) -> dict:
    return {"table": row_filter.table.name, "name": row_filter.name, "subject": subject_text(row_filter),
            "expression": row_filter.expression, "enabled": row_filter.enabled, "description": row_filter.description}


@transaction.atomic
def row_filter_create(*, actor, project: Project, table: Table, name: str, expression: str, user=None,
                      role: Role | None = None, everyone: bool = False, description: str = "",
                      request=None) -> RowFilter:
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    if table is None or not warehouse_tables(project).filter(pk=table.pk).exists():
        raise ValidationError({"table": f"Choose a table of project {project.name}."})
    subject = _subject_fields(project, Subject(user, role, everyone))
    row_filter = RowFilter.objects.create(
        project=project, table=table, name=_name(table, name), **subject, expression=_expression(table, expression),
        description=_description(description), created_by=actor)
    security_version_bump(project, actor=actor, summary=_statement_line(row_filter))
    audit.record(actor, "masking.row_filter_create", row_filter, project=project, request=request,
                 details=_details(row_filter))
    return row_filter


@transaction.atomic
def row_filter_update(*, actor, row_filter: RowFilter, expression: str | None = None, enabled: bool | None = None,
                      description: str | None = None, subject: Subject | None = None, request=None) -> RowFilter:
    """Changes what is given (None: unchanged) of a filter's expression, state, description
    and subject."""
    project = row_filter.project
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    row_filter = RowFilter.objects.select_for_update(of=("self",)).select_related(
        "table", "user__tenant", "role").get(pk=row_filter.pk)
    before = _details(row_filter)
    if expression is not None:
        row_filter.expression = _expression(row_filter.table, expression)
    if enabled is not None:
        row_filter.enabled = bool(enabled)
    if description is not None:
        row_filter.description = _description(description)
    if subject is not None:
        for field, value in _subject_fields(project, subject).items():
            setattr(row_filter, field, value)
    after = _details(row_filter)
    if after == before:
        return row_filter
    row_filter.save()
    changes = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
    summary = (f"{'enable' if row_filter.enabled else 'disable'} row filter {row_filter.name} on table "
               f"{row_filter.table.name}" if set(changes) == {"enabled"} else _statement_line(row_filter))
    security_version_bump(project, actor=actor, summary=summary)
    audit.record(actor, "masking.row_filter_update", row_filter, project=project, request=request,
                 details={"table": row_filter.table.name, "name": row_filter.name, "changes": changes})
    return row_filter


@transaction.atomic
def row_filter_delete(*, actor, row_filter: RowFilter, request=None) -> None:
    project = row_filter.project
    require_capability(actor, project, Capability.MANAGE_SECURITY)
    details = _details(row_filter)
    row_filter.delete()
    security_version_bump(project, actor=actor, summary=f"drop row filter {details['name']} on table "
                                                        f"{details['table']}")
    audit.record(actor, "masking.row_filter_delete", project, project=project, request=request, details=details)


# --- selectors ----------------------------------------------------------------------------------

def row_filter_conditions(*, user, tables) -> dict[int, str]:
    """table.pk -> the SQL condition the user's rows of that table must satisfy, for tables
    where at least one enabled filter names the user (directly, through a role of the
    table's project they hold, or everyone): the filters' expressions OR'ed, each
    parenthesised. Tables with no filter naming the user are absent. One query, whatever
    the number of tables."""
    table_ids = [table.pk for table in tables]
    if not table_ids:
        return {}
    named = Q(everyone=True)
    if user is not None and user.pk is not None:
        # A filter's role is a role of its table's project (row_filter_create checks it).
        named |= Q(user_id=user.pk) | Q(role_id__in=RoleAssignment.objects.filter(user_id=user.pk).values("role_id"))
    conditions: dict[int, list[str]] = {}
    rows = RowFilter.objects.filter(named, table_id__in=table_ids, enabled=True).order_by("table_id", "name", "pk")
    for table_id, expression in rows.values_list("table_id", "expression"):
        conditions.setdefault(table_id, []).append(f"({expression})")
    return {table_id: " OR ".join(parts) for table_id, parts in conditions.items()}


def row_filter_list(*, user, project: Project, table: Table | None = None) -> QuerySet[RowFilter]:
    """The filters of ``project`` (of one table), for anyone who sees the project."""
    queryset = RowFilter.objects.restrict(user).filter(project=project)
    if table is not None:
        queryset = queryset.filter(table=table)
    return queryset.select_related("table", "user__tenant", "role", "created_by").order_by("table__name", "name")


# --- console statements -------------------------------------------------------------------------

class _Reader:
    """Reads a row filter statement with the console's own tokens and error style."""

    def __init__(self, text: str):
        self.text = text
        self.token = next_token(text, 0)

    def advance(self) -> Token:
        token = self.token
        self.token = next_token(self.text, token.end)
        return token

    def fail(self, expected: str):
        token = self.token
        if token.kind is TokenKind.ERROR:
            raise StatementError(f"{token.value}: {expected}", token.position)
        found = "the end of the statement" if token.kind is TokenKind.END else f"'{shortened(token.value)}'"
        raise StatementError(f"{expected}, found {found}", token.position)

    def keyword(self, word: str, after: str) -> None:
        if not self.accept(word):
            self.fail(f"expected {word.upper()} {after}")

    def accept(self, word: str) -> bool:
        if self.token.is_word(word):
            self.advance()
            return True
        return False

    def name(self, what: str, after: str) -> str:
        if self.token.kind in (TokenKind.WORD, TokenKind.QUOTED_NAME):
            return self.advance().value
        self.fail(f"expected {what} {after}")

    def table(self, after: str) -> tuple[str | None, str, int]:
        """``(project, table, position)`` for ``[TABLE] [project.]table``."""
        self.accept("table")
        position = self.token.position
        name = self.name("a table name", after)
        if self.token.is_punctuation("."):
            self.advance()
            return name, self.name("a table name", f"after '{name}.'"), position
        return None, name, position

    def principal(self) -> str:
        token = self.token
        if token.kind in (TokenKind.PRINCIPAL, TokenKind.WORD):
            return self.advance().value
        if token.kind is TokenKind.QUOTED_NAME:
            self.advance()
            return principal_canonical(token.value, token.position + 1, quoted=True) if "$" in token.value \
                else token.value
        self.fail("expected a user (ALIYUN$<account>, RAM$[<owner>:]<user> or a user name) after USER")

    def finish(self) -> None:
        if self.token.is_punctuation(";"):
            self.advance()
        if self.token.kind is not TokenKind.END:
            self.fail("expected the end of the statement")


def _statement_table(project: Project, named_project: str | None, name: str, position: int) -> Table:
    if named_project is not None and named_project.lower() != project.name.lower():
        raise StatementError(f"This statement runs in project {project.name}: write {name} without "
                             f"'{named_project}.'", position)
    table = warehouse_tables(project).filter(name__iexact=name).order_by("name").first()
    if table is None:
        raise StatementError(f"No table named {name} in project {project.name}", position)
    return table


def _show_lines(row_filters) -> list[str]:
    lines: list[str] = []
    table = None
    for row_filter in row_filters:
        if row_filter.table.name != table:
            table = row_filter.table.name
            lines.append(f"[table/{table}]")
        state = "" if row_filter.enabled else "\t(disabled)"
        lines.append(f"{row_filter.name}\t{subject_text(row_filter)}\tWHERE {row_filter.expression}{state}")
    return lines or ["No row filters."]


class RowFilterStatements:
    """The console's row filter statements (a ``permissions.hooks.statement_extensions`` entry)::

        CREATE ROW FILTER name ON [TABLE] table TO (USER principal | ROLE role | EVERYONE) WHERE condition
        DROP ROW FILTER name ON [TABLE] table
        SHOW ROW FILTERS [ON [TABLE] table]

    Keywords in any case, names and principals as the console's own statements write them, an
    optional ';' at the end. The condition runs to the end of the statement.
    """

    def matches(self, text: str) -> bool:
        first = next_token(text, 0)
        return first.is_word("create", "drop", "show") and next_token(text, first.end).is_word("row")

    def kind(self, text: str) -> str:
        verb = next_token(text, 0).value.lower()
        return "show_row_filters" if verb == "show" else f"{verb}_row_filter"

    def run(self, *, actor, project: Project, text: str, request=None) -> str:
        reader = _Reader(text)
        verb = reader.advance().value.lower()
        reader.keyword("row", f"after {verb.upper()}")
        if verb == "show":
            return self._show(reader, actor, project)
        reader.keyword("filter", "after ROW")
        name = reader.name("a row filter name", "after ROW FILTER")
        reader.keyword("on", "after the row filter name")
        named_project, table_name, table_position = reader.table("after ON")
        if verb == "drop":
            reader.finish()
            table = _statement_table(project, named_project, table_name, table_position)
            row_filter = row_filter_list(user=actor, project=project, table=table).filter(name__iexact=name).first()
            if row_filter is None:
                raise ValidationError(f"Table {table.name} has no row filter named {name}.")
            row_filter_delete(actor=actor, row_filter=row_filter, request=request)
            return f"OK\ndrop row filter {row_filter.name} on table {table.name}"
        return self._create(reader, actor, project, name, named_project, table_name, table_position, request)

    def _create(self, reader: _Reader, actor, project: Project, name: str, named_project: str | None,
                table_name: str, table_position: int, request) -> str:
        reader.keyword("to", "after the table name")
        if reader.accept("everyone"):
            kind, subject = SubjectKind.EVERYONE, ""
        elif reader.accept("user"):
            kind, subject = SubjectKind.USER, reader.principal()
        elif reader.accept("role"):
            kind, subject = SubjectKind.ROLE, reader.name("a role name", "after ROLE")
        else:
            reader.fail("expected USER, ROLE or EVERYONE after TO")
        if not reader.token.is_word("where"):
            reader.fail("expected WHERE and the condition")
        start = reader.token.end
        condition = reader.text[start:].rstrip()
        if condition.endswith(";"):
            condition = condition[:-1]
        if not condition.strip():
            raise StatementError(f"expected a condition after WHERE, such as {EXAMPLE}", len(reader.text.rstrip()))
        table = _statement_table(project, named_project, table_name, table_position)
        try:
            resolved = subject_resolve(project, kind, subject)
            row_filter = row_filter_create(actor=actor, project=project, table=table, name=name,
                                           expression=condition, user=resolved.user, role=resolved.role,
                                           everyone=resolved.everyone, request=request)
        except ValidationError as error:
            cause = error.__cause__
            if isinstance(cause, ConditionError):
                # Point into the statement: at the part of the condition at fault, or its start.
                offset = cause.position if cause.position is not None else len(condition) - len(condition.lstrip())
                raise StatementError(cause.message, start + offset) from None
            raise
        return f"OK\n{_statement_line(row_filter)}"

    def _show(self, reader: _Reader, actor, project: Project) -> str:
        reader.keyword("filters", "after SHOW ROW")
        table = None
        if reader.accept("on"):
            named_project, table_name, position = reader.table("after ON")
            reader.finish()
            table = _statement_table(project, named_project, table_name, position)
        else:
            reader.finish()
        return "\n".join(_show_lines(row_filter_list(user=actor, project=project, table=table)))
