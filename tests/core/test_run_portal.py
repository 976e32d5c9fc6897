"""``manage.py run_portal`` (what ``make run`` starts), run for real as a subprocess: it
migrates and seeds a scratch database of its own, starts gunicorn and the Celery worker and
beat, answers HTTP, and stops every child on Ctrl-C or when one of them dies."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from django.conf import settings

pytestmark = pytest.mark.xdist_group("run_portal")

STARTUP_TIMEOUT = 180


def _server_url(db: dict, name: str) -> str:
    credentials = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgresql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture(scope="module")
def scratch_databases():
    """A default and a warehouse database that only these tests use, dropped afterwards."""
    db = settings.DATABASES["default"]
    names = (f"{db['NAME']}_portal", f"{db['NAME']}_portal_warehouse")
    with psycopg.connect(_server_url(db, "postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    # Redis database 15 of the same server: the portal's worker must not take tasks other tests queue.
    redis_url = urlsplit(settings.REDIS_URL)._replace(path="/15").geturl()
    yield {"DATABASE_URL": _server_url(db, names[0]), "WAREHOUSE_URL": _server_url(db, names[1]),
           "REDIS_URL": redis_url}
    with psycopg.connect(_server_url(db, "postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Portal:
    def __init__(self, env: dict, beat_dir: Path):
        self.port = _free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--port", str(self.port), "--rows", "5",
             "--web-workers", "1", "--beat-dir", str(beat_dir)],
            cwd=settings.BASE_DIR, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_running(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "Warden is running at" not in self.output:
            assert self.process.poll() is None, f"run_portal exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"run_portal did not come up:\n{self.output}"
            time.sleep(0.3)

    def children(self) -> dict[int, str]:
        """The direct children of run_portal: pid -> command line."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
            if ppid == self.process.pid:
                found[int(entry.name)] = cmdline
        return found

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill_if_running(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


def _wait_gone(pids, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


def test_portal_serves_and_stops_every_child_on_ctrl_c_then_reuses_its_data(scratch_databases, tmp_path):
    portal = Portal(scratch_databases, tmp_path)
    try:
        portal.wait_until_running()
        with urllib.request.urlopen(f"http://127.0.0.1:{portal.port}/accounts/login/", timeout=10) as response:
            assert response.status == 200
            assert 'name="password"' in response.read().decode()
        children = portal.children()
        kinds = " ".join(children.values())
        assert "gunicorn" in kinds and "worker" in kinds and "beat" in kinds
        assert "alice-wonderland-1" in portal.output

        portal.process.send_signal(signal.SIGINT)

        assert portal.wait() == 0
        assert "Warden stopped." in portal.output
        assert _wait_gone(children) == []
    finally:
        portal.kill_if_running()

    again = Portal(scratch_databases, tmp_path)
    try:
        again.wait_until_running()
        assert "nothing changed" in again.output
        again.process.send_signal(signal.SIGTERM)
        assert again.wait() == 0
    finally:
        again.kill_if_running()


def test_portal_stops_the_rest_and_fails_when_a_child_dies(scratch_databases, tmp_path):
    portal = Portal(scratch_databases, tmp_path)
    try:
        portal.wait_until_running()
        children = portal.children()
        beat = next(pid for pid, cmdline in children.items() if " beat " in cmdline)

        os.kill(beat, signal.SIGKILL)

        assert portal.wait() == 1
        assert "Celery beat exited unexpectedly" in portal.output
        assert _wait_gone(children) == []
    finally:
        portal.kill_if_running()


def test_portal_refuses_a_port_in_use(scratch_databases, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_portal", "--port", str(port), "--beat-dir", str(tmp_path)],
            cwd=settings.BASE_DIR, env={**os.environ, **scratch_databases}, capture_output=True, text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
