"""Fixtures for the catalog tests: warehouse tables made with SQL, a scratch PostgreSQL
database on the test server, a scratch MariaDB database (when ``MYSQL_URL`` names a server),
and a real Celery worker.

The MariaDB tests live in ``*_mysql.py`` files: without ``MYSQL_URL`` they are not collected
at all (see ``tests/catalog/mysql_gate.py``).
"""

import uuid
from urllib.parse import unquote, urlparse

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from tests.catalog import mysql_gate
from tests.processes import celery_worker

# --- the warehouse -------------------------------------------------------------------------------

@pytest.fixture
def warehouse_sql():
    """``warehouse_sql("CREATE TABLE ...")`` runs statements on the warehouse test database,
    in the test's transaction (or committed, in transactional tests)."""

    def run(*statements: str) -> None:
        with connections["warehouse"].cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return run


# --- a second PostgreSQL database ------------------------------------------------------------------

def _server_settings(alias="default") -> dict:
    db = settings.DATABASES[alias]
    return {"host": db["HOST"] or "127.0.0.1", "port": int(db["PORT"] or 5432), "user": db["USER"],
            "password": db.get("PASSWORD") or ""}


@pytest.fixture
def scratch_postgresql():
    """A new database on the test PostgreSQL server, dropped afterwards. Yields
    ``(server, run)``: ``server`` has host, port, user, password, dbname; ``run(sql)``
    executes in it (autocommit)."""
    server = _server_settings()
    name = f"warden_catalog_scratch_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(dbname="postgres", autocommit=True, **server)
    admin.execute(f'CREATE DATABASE "{name}"')
    scratch = psycopg.connect(dbname=name, autocommit=True, **server)

    def run(*statements: str) -> None:
        for statement in statements:
            scratch.execute(statement)

    try:
        yield dict(server, dbname=name), run
    finally:
        scratch.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --- MariaDB -------------------------------------------------------------------------------------

def mysql_server() -> dict:
    url = urlparse(mysql_gate.mysql_url())
    return {"host": url.hostname or "127.0.0.1", "port": url.port or 3306, "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""), "database": url.path.lstrip("/") or "test"}


@pytest.fixture
def scratch_mysql():
    """A new database on the MariaDB server of ``MYSQL_URL``, dropped afterwards. Yields
    ``(server, run)`` like ``scratch_postgresql``; ``server["database"]`` is the new one."""
    import pymysql

    server = mysql_server()
    name = f"warden_catalog_{uuid.uuid4().hex[:10]}"
    admin = pymysql.connect(host=server["host"], port=server["port"], user=server["user"],
                            password=server["password"], database=server["database"], autocommit=True)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")

    def run(*statements: str) -> None:
        with admin.cursor() as cursor:
            cursor.execute(f"USE `{name}`")
            for statement in statements:
                cursor.execute(statement)

    try:
        yield dict(server, database=name), run
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


# --- a real Celery worker ----------------------------------------------------------------------------

@pytest.fixture
def celery_worker_process():
    """A real Celery worker on this test's databases; the harvest task that ``harvest_start``
    sends on commit goes to it while the fixture lasts."""
    with celery_worker(routed_tasks=("apps.catalog.tasks.harvest",)) as (worker, _queue):
        yield worker
