"""Reading a statement: parse it, refuse what is not allowed, find the tables it names.

The gateway runs one statement at a time, of these kinds only, each needing a MaxCompute
action: SELECT (Select on every table read), CREATE TABLE (CreateTable on the project),
CREATE TABLE AS SELECT (CreateTable, and Select on what it reads), INSERT, UPDATE and DELETE
(Update on the table written, Select on what is read), DROP TABLE (Drop). Everything else
(COPY, SET, DO, CALL, GRANT, ALTER, LISTEN, CREATE VIEW or FUNCTION, ...) is refused with a
message naming it, and so are the parts of allowed statements that reach past the data the
statement names or hand back what it writes: SELECT INTO, FOR UPDATE, RETURNING, ON CONFLICT,
data-modifying CTEs, UPDATE ... FROM, DELETE ... USING, parameters, temporary and unlogged
tables, foreign keys. Functions and casts are held to ``apps.masking.expressions``.

Names follow PostgreSQL: unquoted identifiers fold to lower case, quoted ones keep theirs. A
table is ``project.table`` or, unqualified, a table of the project the statement runs in; a
common table expression shadows a table of its name only where PostgreSQL's scoping says so
(sqlglot's ``qualify_tables`` applies those rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlglot
from django.conf import settings
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify_tables import qualify_tables

from apps.masking.expressions import expression_refusal

DIALECT = "postgres"


class QueryRefused(Exception):
    """The statement cannot run as written: ``position`` (0-based character offset into the
    SQL, when known) points at the problem."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


class StatementKind(StrEnum):
    SELECT = "select"
    CREATE_TABLE = "create_table"
    CREATE_TABLE_AS = "create_table_as"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    DROP_TABLE = "drop_table"


DDL_KINDS = frozenset({StatementKind.CREATE_TABLE, StatementKind.CREATE_TABLE_AS, StatementKind.DROP_TABLE})

# Constructs refused wherever they appear, with what to say.
_REFUSED_NODES: tuple[tuple[type, str], ...] = (
    (exp.Into, "SELECT ... INTO is not allowed; use CREATE TABLE ... AS SELECT"),
    (exp.Lock, "FOR UPDATE / FOR SHARE is not allowed"),
    (exp.Returning, "RETURNING is not allowed: a write reports how many rows it wrote"),
    (exp.OnConflict, "ON CONFLICT is not allowed"),
    (exp.Placeholder, "parameters ($1, ?, %s) are not allowed: write the values into the statement"),
    (exp.Parameter, "parameters ($1, ?, %s) are not allowed: write the values into the statement"),
    (exp.Command, "this statement is not allowed"),
    (exp.Merge, "MERGE is not allowed"),
    (exp.Copy, "COPY is not allowed"),
    (exp.ForeignKey, "foreign keys are not allowed: they read the referenced table"),
    (exp.Reference, "foreign keys are not allowed: they read the referenced table"),
    (exp.LikeProperty, "CREATE TABLE ... (LIKE ...) is not allowed"),
)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Merge, exp.Alter, exp.TruncateTable)


def _position(sql: str, line: int | None, column: int | None) -> int | None:
    """sqlglot counts lines and columns from 1; the API speaks in offsets."""
    if not line:
        return None
    lines = sql.split("\n")
    offset = sum(len(text) + 1 for text in lines[:line - 1])
    return max(0, min(len(sql), offset + max((column or 1) - 1, 0)))


def node_position(sql: str, node: exp.Expression) -> int | None:
    meta = node.meta if hasattr(node, "meta") else {}
    if "start" in meta:
        return meta["start"]
    for child in node.walk():
        start = (child.meta or {}).get("start") if hasattr(child, "meta") else None
        if start is not None:
            return start
    return None


def _first_word(sql: str) -> str:
    words = sql.strip().split(None, 1)
    return words[0].upper().rstrip(";") if words else ""


def _second_statement_at(sql: str) -> int | None:
    tokens = Dialect.get_or_raise(DIALECT).tokenize(sql)
    for token, following in zip(tokens, tokens[1:]):
        if token.token_type == TokenType.SEMICOLON and following.token_type != TokenType.SEMICOLON:
            return following.start
    return None


def statement_parse(sql: str) -> exp.Expression:
    """The one statement in ``sql``, parsed, or QueryRefused."""
    if not sql or not sql.strip():
        raise QueryRefused("Write a statement.")
    if len(sql) > settings.GATEWAY_MAX_SQL_CHARS:
        raise QueryRefused(f"The statement is {len(sql):,} characters long; the limit is "
                           f"{settings.GATEWAY_MAX_SQL_CHARS:,}.")
    if "\x00" in sql:
        raise QueryRefused("The statement contains a NUL character.", sql.index("\x00"))
    try:
        trees = [tree for tree in sqlglot.parse(sql, read=DIALECT) if tree is not None]
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        message = detail.get("description") or str(error).split("\n", 1)[0]
        raise QueryRefused(f"Cannot parse the statement: {message}.",
                           _position(sql, detail.get("line"), detail.get("col"))) from None
    except TokenError as error:
        raise QueryRefused(f"Cannot read the statement: {error}.") from None
    except RecursionError:
        raise QueryRefused("The statement is nested too deeply.") from None
    if not trees:
        raise QueryRefused("Write a statement.")
    if len(trees) > 1:
        raise QueryRefused(f"Run one statement at a time; this text holds {len(trees)}.", _second_statement_at(sql))
    tree = trees[0]
    _refuse_deep_nesting(tree)
    if isinstance(tree, exp.Command):
        raise QueryRefused(f"{_first_word(sql)} statements are not allowed.", 0)
    return tree


MAX_NESTED_QUERIES = 64
MAX_QUERIES = 1_000


def _refuse_deep_nesting(tree: exp.Expression) -> None:
    """Scope analysis costs about the square of how deeply queries nest; a few thousand levels
    would hold a process for minutes before any timeout applies. Measured without recursion."""
    stack = [(tree, 0)]
    queries = 0
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (exp.Select, exp.SetOperation)):
            depth += 1
            queries += 1
            if depth > MAX_NESTED_QUERIES or queries > MAX_QUERIES:
                raise QueryRefused(f"The statement is nested too deeply (more than {MAX_NESTED_QUERIES} queries "
                                   f"within each other, or more than {MAX_QUERIES:,} in all).")
        stack.extend((child, depth) for child in node.iter_expressions())


def _create_kind(tree: exp.Create, sql: str) -> StatementKind:
    if (tree.args.get("kind") or "").upper() != "TABLE":
        raise QueryRefused(f"CREATE {(tree.args.get('kind') or '').upper()} is not allowed; "
                           "the gateway creates tables only.", 0)
    properties = tree.args.get("properties")
    if properties is not None and properties.expressions:
        names = ", ".join(sorted({prop.key.replace("property", "").upper() or prop.sql(DIALECT)
                                  for prop in properties.expressions}))
        raise QueryRefused(f"CREATE TABLE options are not allowed ({names}): the gateway creates plain tables.",
                           node_position(sql, properties))
    if tree.expression is not None:
        if not isinstance(tree.expression, (exp.Select, exp.SetOperation, exp.Subquery)):
            raise QueryRefused("CREATE TABLE ... AS takes a SELECT.", node_position(sql, tree.expression))
        return StatementKind.CREATE_TABLE_AS
    if not isinstance(tree.this, exp.Schema) or not any(isinstance(c, exp.ColumnDef) for c in tree.this.expressions):
        raise QueryRefused("CREATE TABLE needs its columns: CREATE TABLE name (column type, ...).", 0)
    return StatementKind.CREATE_TABLE


def statement_kind(tree: exp.Expression, sql: str) -> StatementKind:
    """What ``tree`` is, or QueryRefused for what the gateway does not run."""
    if isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)):
        kind = StatementKind.SELECT
    elif isinstance(tree, exp.Create):
        kind = _create_kind(tree, sql)
    elif isinstance(tree, exp.Insert):
        if not isinstance(tree.this, (exp.Table, exp.Schema)):
            raise QueryRefused("INSERT writes into a table.", 0)
        if tree.args.get("conflict") is not None:
            raise QueryRefused("ON CONFLICT is not allowed.", node_position(sql, tree.args["conflict"]))
        kind = StatementKind.INSERT
    elif isinstance(tree, exp.Update):
        if tree.args.get("from_") or tree.args.get("from"):
            raise QueryRefused("UPDATE ... FROM is not allowed; use a subquery in WHERE.", 0)
        kind = StatementKind.UPDATE
    elif isinstance(tree, exp.Delete):
        if tree.args.get("using"):
            raise QueryRefused("DELETE ... USING is not allowed; use a subquery in WHERE.", 0)
        kind = StatementKind.DELETE
    elif isinstance(tree, exp.Drop):
        if (tree.args.get("kind") or "").upper() != "TABLE":
            raise QueryRefused(f"DROP {(tree.args.get('kind') or '').upper()} is not allowed; "
                               "the gateway drops tables only.", 0)
        if tree.args.get("cascade"):
            raise QueryRefused("DROP TABLE ... CASCADE is not allowed.", 0)
        if len(tree.args.get("tables") or [tree.this]) != 1:
            raise QueryRefused("Drop one table at a time.", 0)
        kind = StatementKind.DROP_TABLE
    else:
        raise QueryRefused(f"{_first_word(sql) or type(tree).__name__.upper()} statements are not allowed.", 0)
    _refuse_constructs(tree, sql)
    return kind


def _refuse_constructs(tree: exp.Expression, sql: str) -> None:
    for node in tree.walk():
        for node_type, message in _REFUSED_NODES:
            if isinstance(node, node_type):
                raise QueryRefused(message[0].upper() + message[1:] + ".", node_position(sql, node))
        if node is not tree and isinstance(node, _WRITES):
            raise QueryRefused("A statement may write only at its top level (no INSERT, UPDATE, DELETE or DDL "
                               "inside WITH or a subquery).", node_position(sql, node))
        if isinstance(node, exp.Values) and any(True for _ in node.find_all(exp.Select)):
            raise QueryRefused("A subquery inside VALUES is not allowed; use INSERT ... SELECT or SELECT.",
                               node_position(sql, node))
        if isinstance(node, exp.Table) and node.args.get("catalog"):
            raise QueryRefused(f"Name tables as project.table; {node.sql(DIALECT)} names a database too.",
                               node_position(sql, node))
    refusal = expression_refusal(tree)
    if refusal:
        raise QueryRefused(refusal[0].upper() + refusal[1:] + ".")


@dataclass(frozen=True)
class TableName:
    project: str
    name: str

    def __str__(self) -> str:
        return f"{self.project}.{self.name}"


def write_target(tree: exp.Expression, kind: StatementKind) -> exp.Table | None:
    if kind == StatementKind.SELECT:
        return None
    target = (tree.args.get("tables") or [None])[0] if kind == StatementKind.DROP_TABLE else tree.this
    if isinstance(target, exp.Schema):
        target = target.this
    if not isinstance(target, exp.Table):
        raise QueryRefused("The statement must name the table it writes.", 0)
    return target


def tables_qualified(tree: exp.Expression, *, project: str) -> exp.Expression:
    """``tree`` with identifiers folded as PostgreSQL folds them and every table that is not a
    common table expression named ``project.table`` (unqualified names get ``project``)."""
    tree = qualify_tables(normalize_identifiers(tree, dialect=DIALECT), db=project, dialect=DIALECT)
    # A name qualify_tables left alone must be a CTE's; anything else (a table in a corner it
    # does not reach) would escape the rewrite, so it is refused.
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for node in tree.find_all(exp.Table):
        if node.args.get("db") is None and isinstance(node.this, exp.Identifier) and node.name not in ctes:
            raise QueryRefused(f"Cannot tell which table {node.name} is here; name it as project.table.")
    return tree


def physical_tables(tree: exp.Expression) -> list[exp.Table]:
    """The table nodes that name stored tables (after ``tables_qualified``: those with a
    project), not CTEs or table functions."""
    return [node for node in tree.find_all(exp.Table) if node.args.get("db") is not None and node.name]


def table_name(node: exp.Table) -> TableName:
    return TableName(project=node.db, name=node.name)
