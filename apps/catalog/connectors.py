"""Connecting to data sources and reading their metadata.

Two kinds of reader: the warehouse source goes through Django's ``warehouse`` connection and
sees only its project's schema; external PostgreSQL and MySQL/MariaDB sources get a fresh,
read-only connection with the stored (decrypted) password. Every connection failure becomes
a ``DataSourceConnectionError`` whose message says what went wrong in plain words (host,
port, credentials, database, TLS) and never contains the password: it is shown to users,
stored on failed harvest runs and written to logs.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections

from apps.catalog.models import DataSource, DataSourceKind, TableKind, TLSMode
from apps.core import crypto

CONNECT_TIMEOUT_SECONDS = 10
# Metadata queries only; anything slower than this is a server in trouble.
STATEMENT_TIMEOUT_MS = 120_000
PASSWORD_PURPOSE = "data_source"
PG_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


class DataSourceConnectionError(Exception):
    """A connection to a data source failed; ``str(error)`` is safe to show and to log."""


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    kind: str
    comment: str
    row_estimate: int | None


@dataclass(frozen=True)
class ColumnInfo:
    schema: str
    table: str
    name: str
    ordinal: int
    data_type: str
    nullable: bool
    comment: str


@dataclass
class SourceMetadata:
    tables: list[TableInfo]
    columns: list[ColumnInfo]


@dataclass(frozen=True)
class ConnectionParameters:
    """What an external connection needs, with the password in clear: build it just before
    connecting and let it go right after."""

    kind: str
    host: str
    port: int
    database: str
    username: str
    password: str
    tls_mode: str

    @classmethod
    def of(cls, data_source: DataSource) -> ConnectionParameters:
        return cls(
            kind=data_source.kind, host=data_source.host, port=data_source.port, database=data_source.database,
            username=data_source.username, password=password_of(data_source), tls_mode=data_source.tls_mode,
        )

    def __repr__(self) -> str:
        # Keeps the password out of tracebacks and debuggers' reprs.
        return (f"ConnectionParameters(kind={self.kind!r}, host={self.host!r}, port={self.port!r}, "
                f"database={self.database!r}, username={self.username!r}, tls_mode={self.tls_mode!r})")


def password_of(data_source: DataSource) -> str:
    if not data_source.password_encrypted:
        return ""
    return crypto.decrypt(data_source.password_encrypted, purpose=PASSWORD_PURPOSE).decode()


def scrub_password(text: str, password: str) -> str:
    """``text`` with every occurrence of ``password`` masked: the last guard before a message
    is shown, stored or logged."""
    return text.replace(password, "********") if password else text


# --- error messages ----------------------------------------------------------------------------

def _where(params: ConnectionParameters) -> str:
    return f"{params.host}:{params.port}"


def _postgresql_message(params: ConnectionParameters, raw: str) -> str:
    where = _where(params)
    if "Connection refused" in raw:
        return f"Nothing accepts connections on {where} (connection refused): check the host and the port."
    if "resolve host" in raw or "translate host name" in raw or "Name or service not known" in raw:
        return f"The host name '{params.host}' could not be resolved: check the host."
    if "timeout expired" in raw or "timed out" in raw:
        return (f"No answer from {where} within {CONNECT_TIMEOUT_SECONDS} seconds: check the host, the port "
                "and any firewall in between.")
    if "does not support SSL" in raw:
        return (f"The server at {where} does not offer TLS, but the TLS mode '{params.tls_mode}' requires it: "
                "enable TLS on the server or choose another TLS mode.")
    if "certificate" in raw or "SSL error" in raw:
        return (f"The TLS connection to {where} failed: the server's certificate could not be verified "
                f"for '{params.host}' with TLS mode '{params.tls_mode}'.")
    if "invalid response to SSL negotiation" in raw or "server closed the connection unexpectedly" in raw:
        return f"The server at {where} does not answer like PostgreSQL: check the port and the kind of source."
    if "password authentication failed" in raw or re.search(r'role ".*" does not exist', raw):
        return f"The server refused the credentials of user '{params.username}': check the user name and password."
    if re.search(r'database ".*" does not exist', raw):
        return f"The server at {where} has no database named '{params.database}': check the database name."
    if "no pg_hba.conf entry" in raw:
        return (f"The server at {where} does not accept connections from Warden for user '{params.username}' "
                f"and database '{params.database}' (pg_hba.conf).")
    if "permission denied for database" in raw:
        return f"User '{params.username}' may not connect to database '{params.database}'."
    return f"Could not connect to {where}: {raw.strip()}"


MYSQL_AUTH_ERRORS = {1045, 1698}
MYSQL_DATABASE_ERRORS = {1049}
MYSQL_DATABASE_ACCESS_ERRORS = {1044}
MYSQL_TLS_ERRORS = {2026}


def _mysql_message(params: ConnectionParameters, code: int | None, raw: str) -> str:
    where = _where(params)
    if code in MYSQL_AUTH_ERRORS:
        return f"The server refused the credentials of user '{params.username}': check the user name and password."
    if code in MYSQL_DATABASE_ERRORS:
        return f"The server at {where} has no database named '{params.database}': check the database name."
    if code in MYSQL_DATABASE_ACCESS_ERRORS:
        return f"User '{params.username}' may not use database '{params.database}'."
    if code in MYSQL_TLS_ERRORS or ("SSL" in raw and "support" in raw):
        return (f"The server at {where} does not offer TLS, but the TLS mode '{params.tls_mode}' requires it: "
                "enable TLS on the server or choose another TLS mode.")
    if "CERTIFICATE_VERIFY_FAILED" in raw or "certificate" in raw:
        return (f"The TLS connection to {where} failed: the server's certificate could not be verified "
                f"for '{params.host}' with TLS mode '{params.tls_mode}'.")
    if "Connection refused" in raw or "Errno 111" in raw:
        return f"Nothing accepts connections on {where} (connection refused): check the host and the port."
    if "Name or service not known" in raw or "Errno -2" in raw or "Errno -3" in raw or "Errno -5" in raw:
        return f"The host name '{params.host}' could not be resolved: check the host."
    if "timed out" in raw:
        return (f"No answer from {where} within {CONNECT_TIMEOUT_SECONDS} seconds: check the host, the port "
                "and any firewall in between.")
    if code in {2013, 2014} or "Lost connection" in raw or "Packet sequence" in raw:
        return f"The server at {where} does not answer like MySQL: check the port and the kind of source."
    return f"Could not connect to {where}: {raw.strip()}"


# --- connections -------------------------------------------------------------------------------

@contextmanager
def _postgresql_connection(params: ConnectionParameters) -> Iterator:
    import psycopg

    options = {
        "host": params.host, "port": params.port, "dbname": params.database, "user": params.username,
        "password": params.password, "sslmode": params.tls_mode, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": "warden-catalog",
        "options": f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS}",
    }
    if params.tls_mode == TLSMode.VERIFY_FULL:
        options["sslrootcert"] = "system"
    try:
        connection = psycopg.connect(autocommit=True, **options)
    except psycopg.Error as error:
        message = _postgresql_message(params, str(error))
        raise DataSourceConnectionError(scrub_password(message, params.password)) from None
    try:
        yield connection
    finally:
        connection.close()


def _mysql_tls(tls_mode: str):
    if tls_mode == TLSMode.DISABLE:
        return None
    context = ssl.create_default_context()
    if tls_mode != TLSMode.VERIFY_FULL:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def _mysql_connection(params: ConnectionParameters) -> Iterator:
    import pymysql

    def connect(tls):
        return pymysql.connect(
            host=params.host, port=params.port, user=params.username, password=params.password,
            database=params.database, ssl=tls, connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=STATEMENT_TIMEOUT_MS // 1000, charset="utf8mb4", autocommit=True,
        )

    try:
        try:
            connection = connect(_mysql_tls(params.tls_mode))
        except pymysql.err.OperationalError as error:
            # "prefer": TLS when the server offers it, plain otherwise (as libpq does).
            if params.tls_mode != TLSMode.PREFER or error.args[0] not in MYSQL_TLS_ERRORS:
                raise
            connection = connect(None)
    except pymysql.err.MySQLError as error:
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        raw = str(error.args[1]) if len(error.args) > 1 else str(error)
        message = _mysql_message(params, code, raw)
        raise DataSourceConnectionError(scrub_password(message, params.password)) from None
    try:
        yield connection
    finally:
        connection.close()


def _external_connection(params: ConnectionParameters):
    if params.kind == DataSourceKind.POSTGRESQL:
        return _postgresql_connection(params)
    if params.kind == DataSourceKind.MYSQL:
        return _mysql_connection(params)
    raise ValueError(f"no external connection for kind {params.kind!r}")


def check_connection(params: ConnectionParameters) -> str:
    """Connect, ask the server's version, disconnect. Returns the version string;
    raises DataSourceConnectionError with a safe, specific message."""
    with _external_connection(params) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            return str(cursor.fetchone()[0])


# --- metadata ----------------------------------------------------------------------------------

# Tables, partitioned tables and foreign tables are tables; views and materialized views are
# views. Partitions are left out: their parent stands for them.
PG_TABLES_SQL = """
SELECT n.nspname, c.relname, c.relkind, coalesce(obj_description(c.oid, 'pg_class'), ''),
       CASE WHEN c.relkind IN ('v') OR c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND NOT c.relispartition AND {schemas}
ORDER BY 1, 2
"""

PG_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce(col_description(c.oid, a.attnum), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND NOT c.relispartition
  AND {schemas}
ORDER BY 1, 2, 4
"""

PG_ONE_SCHEMA = "n.nspname = %s"
PG_USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%' "
                   "AND n.nspname NOT LIKE 'pg\\_temp\\_%%'")


def _read_postgresql(cursor, schema: str | None, names: frozenset[str] | None = None) -> SourceMetadata:
    where, args = (PG_ONE_SCHEMA, [schema]) if schema is not None else (PG_USER_SCHEMAS, [])
    if names is not None:
        where, args = f"{where} AND c.relname = ANY(%s)", [*args, sorted(names)]
    cursor.execute(PG_TABLES_SQL.format(schemas=where), args)
    tables = [
        TableInfo(schema=row[0], name=row[1], kind=TableKind.VIEW if row[2] in ("v", "m") else TableKind.TABLE,
                  comment=row[3], row_estimate=row[4])
        for row in cursor.fetchall()
    ]
    cursor.execute(PG_COLUMNS_SQL.format(schemas=where), args)
    columns = [
        ColumnInfo(schema=row[0], table=row[1], name=row[2], ordinal=row[3], data_type=row[4], nullable=row[5],
                   comment=row[6])
        for row in cursor.fetchall()
    ]
    return SourceMetadata(tables=tables, columns=columns)


MYSQL_TABLES_SQL = """
SELECT table_schema, table_name, table_type, coalesce(table_comment, ''), table_rows
FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name
"""

MYSQL_COLUMNS_SQL = """
SELECT table_schema, table_name, column_name, ordinal_position, column_type, is_nullable = 'YES',
       coalesce(column_comment, '')
FROM information_schema.columns WHERE table_schema = %s ORDER BY table_name, ordinal_position
"""


def _read_mysql(cursor, database: str) -> SourceMetadata:
    cursor.execute(MYSQL_TABLES_SQL, [database])
    tables = []
    for schema, name, table_type, comment, rows in cursor.fetchall():
        is_view = table_type == "VIEW"
        # MySQL and MariaDB put the word VIEW in a view's comment; it is no comment.
        tables.append(TableInfo(schema=schema, name=name, kind=TableKind.VIEW if is_view else TableKind.TABLE,
                                comment="" if is_view and comment == "VIEW" else comment,
                                row_estimate=None if is_view or rows is None else int(rows)))
    cursor.execute(MYSQL_COLUMNS_SQL, [database])
    columns = [
        ColumnInfo(schema=row[0], table=row[1], name=row[2], ordinal=int(row[3]), data_type=row[4],
                   nullable=bool(row[5]), comment=row[6])
        for row in cursor.fetchall()
    ]
    return SourceMetadata(tables=tables, columns=columns)


def read_metadata(data_source: DataSource, names: frozenset[str] | None = None) -> SourceMetadata:
    """Every table, view and column the source holds (for the warehouse source, those of its
    project's schema, or only the tables ``names``), in two queries."""
    if data_source.kind == DataSourceKind.WAREHOUSE:
        with connections["warehouse"].cursor() as cursor:
            return _read_postgresql(cursor, data_source.project.schema_name, names)
    if names is not None:
        raise ValueError("Only the warehouse source is read table by table.")
    params = ConnectionParameters.of(data_source)
    with _external_connection(params) as connection:
        with connection.cursor() as cursor:
            if params.kind == DataSourceKind.MYSQL:
                return _read_mysql(cursor, params.database)
            return _read_postgresql(cursor, None)
