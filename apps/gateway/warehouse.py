"""Running rewritten statements in the warehouse under a role that can do no more than the
gateway allows.

Warden connects to the warehouse as itself; each statement runs inside a transaction after
``SET LOCAL ROLE`` to the gateway role (``settings.GATEWAY_DB_ROLE``), with a statement
timeout and ``search_path`` set to ``pg_catalog`` only. The role is no superuser and holds
only USAGE and CREATE on project schemas and SELECT, INSERT, UPDATE, DELETE on their tables:
it cannot read files, reach other databases, change server settings, or see any schema that
is not a project's. The rewrite already names every table by schema, so a ``search_path``
trick has nothing to resolve. DROP TABLE, whose text is made from the resolved table name
alone, runs as Warden, which owns the tables it did not create through the gateway.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from psycopg import errors, sql

WAREHOUSE = "warehouse"
_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"

_prepared_schemas: set[tuple[str, str]] = set()
_roles_ready: set[str] = set()
_lock = threading.Lock()


def _role() -> str:
    return settings.GATEWAY_DB_ROLE


def role_ensure() -> None:
    """The gateway role exists and Warden may switch to it. Made through a connection of its
    own that commits at once: roles belong to the whole server, and a CREATE ROLE held open in
    a long transaction would make every other process wanting the role wait for it."""
    role = _role()
    connection = connections.create_connection(WAREHOUSE)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                try:
                    cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
                                   .format(sql.Identifier(role)).as_string(cursor.connection))
                except DatabaseError as error:
                    # Another process made it first.
                    if not isinstance(error.__cause__, (errors.DuplicateObject, errors.UniqueViolation)):
                        raise
            cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [role])
            if not cursor.fetchone()[0]:
                cursor.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role))
                               .as_string(cursor.connection))
    finally:
        connection.close()


def schemas_prepared(cursor, schemas: set[str]) -> None:
    """The gateway role may use ``schemas`` and their tables, present and future. Done once per
    process and schema: GRANT takes locks that every statement should not."""
    database = connections[WAREHOUSE].settings_dict["NAME"]
    missing = {schema for schema in schemas if (database, schema) not in _prepared_schemas}
    if not missing:
        return
    with _lock:
        role = sql.Identifier(_role())
        if _role() not in _roles_ready:
            role_ensure()
            _roles_ready.add(_role())
        for schema in sorted(missing):
            name = sql.Identifier(schema)
            for statement in (
                sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(name, role),
                sql.SQL("GRANT " + _TABLE_PRIVILEGES + " ON ALL TABLES IN SCHEMA {} TO {}").format(name, role),
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT " + _TABLE_PRIVILEGES + " ON TABLES TO {}")
                .format(name, role),
            ):
                cursor.execute(statement.as_string(cursor.connection))
        transaction.on_commit(lambda: _prepared_schemas.update((database, schema) for schema in missing),
                              using=WAREHOUSE)


@contextmanager
def restricted(cursor, *, as_gateway: bool = True):
    """Within the current warehouse transaction: run as the gateway role with the statement
    timeout and an empty search path, and put Warden's own settings back afterwards. (An error
    rolls the enclosing savepoint back, which undoes the SET LOCALs by itself.)"""
    timeout = int(settings.GATEWAY_STATEMENT_TIMEOUT_MS)
    if as_gateway:
        cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(_role())).as_string(cursor.connection))
    cursor.execute("SELECT set_config('statement_timeout', %s, true), set_config('search_path', 'pg_catalog', true)",
                   [str(timeout)])
    yield
    cursor.execute("RESET ROLE; RESET statement_timeout; RESET search_path")
