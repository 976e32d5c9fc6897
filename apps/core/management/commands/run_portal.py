"""``manage.py run_portal``: what ``make run`` starts.

Prepares the database (migrate, collectstatic, seed_demo), then runs the Celery worker,
Celery beat and gunicorn as child processes and watches them. Each child runs in its own
session, so a Ctrl-C in the terminal reaches only this process, which then stops every child
the same way (SIGTERM, then SIGKILL after a grace period) instead of letting each react to
the terminal's SIGINT on its own. Children also get SIGTERM if this process dies, so no
worker outlives the portal.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.core import demo
from apps.core.management.commands.seed_demo import print_logins

STARTUP_TIMEOUT_SECONDS = 90
STOP_GRACE_SECONDS = 20
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM when the portal process goes away."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None


class Stop(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: stop the children and return."""


class ChildDied(Exception):
    def __init__(self, child: Child):
        super().__init__(f"the {child.name} exited unexpectedly with code {child.process.returncode}")
        self.child = child


class Command(BaseCommand):
    help = "Migrate, seed the demo, and run the Celery worker and beat and the web server until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address the web server binds (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port of the web server (default 8000)")
        parser.add_argument("--rows", type=int, default=demo.DEFAULT_ROWS,
                            help="rows of wonderland.customers for seed_demo")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker")
        parser.add_argument("--no-seed", action="store_true", help="skip seed_demo")
        parser.add_argument("--beat-dir", help="where Celery beat keeps its schedule and pid file (default var/celery)")

    def handle(self, *args, host, port, rows, web_workers, web_threads, no_seed, beat_dir, **options):
        self.children: list[Child] = []
        self._stopping = False
        stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in stop_signals}
        try:
            self._require_free_port(host, port)
            self._prepare(rows=rows, seed=not no_seed)
            self._start_children(host, port, web_workers, web_threads,
                                 Path(beat_dir) if beat_dir else settings.VAR_DIR / "celery")
            self._wait_until_up(host, port)
            self._announce(host, port)
            self._watch()
        except Stop:
            self.stdout.write("Stopping Warden...")
            self._stop_children()
            self.stdout.write("Warden stopped.")
        except ChildDied as died:
            self.stderr.write(f"Warden: {died}; stopping the rest.")
            self._stop_children()
            raise CommandError(f"{died}. See its output above.") from died
        except BaseException:
            self._stop_children()
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- steps ---------------------------------------------------------------------------

    def _on_signal(self, signum, frame):
        if self._stopping:
            return
        self._stopping = True
        raise Stop()

    def _prepare(self, *, rows: int, seed: bool) -> None:
        self.stdout.write("Applying migrations...")
        call_command("migrate", interactive=False, verbosity=0, stdout=self.stdout)
        self.stdout.write("Collecting static files...")
        call_command("collectstatic", interactive=False, verbosity=0, stdout=self.stdout)
        if seed:
            self.stdout.write("Seeding the demo tenant...")
            call_command("seed_demo", rows=rows, quiet_logins=True, stdout=self.stdout, stderr=self.stderr)

    def _require_free_port(self, host: str, port: int) -> None:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise CommandError(
                    f"Cannot listen on {host}:{port} ({error.strerror}). Is another Warden running? "
                    f"Choose another port with --port."
                ) from error

    def _start_children(self, host: str, port: int, web_workers: int, web_threads: int, beat_dir: Path) -> None:
        beat_dir.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        commands = {
            "Celery worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING",
                              "--concurrency", "2", "--hostname", self._worker_name(port)],
            "Celery beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
                            "--schedule", str(beat_dir / "beat-schedule"),
                            # One beat per schedule: a second one would send every periodic task twice.
                            "--pidfile", str(beat_dir / "beat.pid")],
            "web server": [python, "-m", "gunicorn", "config.wsgi:application",
                           "--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                           "--workers", str(web_workers), "--threads", str(web_threads),
                           "--graceful-timeout", "10", "--timeout", "60", "--log-level", "warning"],
        }
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name, command in commands.items():
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, start_new_session=True, preexec_fn=_die_with_parent
            )
            self.children.append(Child(name, process))

    @staticmethod
    def _worker_name(port: int) -> str:
        return f"warden-{port}@{socket.gethostname()}"

    def _wait_until_up(self, host: str, port: int) -> None:
        from config.celery import app as celery_app

        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/accounts/login/"
        if host in ("0.0.0.0", "::"):
            url = f"http://127.0.0.1:{port}/accounts/login/"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        web_up = worker_up = False
        while not (web_up and worker_up):
            self._check_children()
            if time.monotonic() > deadline:
                missing = [name for name, up in (("web server", web_up), ("Celery worker", worker_up)) if not up]
                raise CommandError(f"{' and '.join(missing)} did not come up within {STARTUP_TIMEOUT_SECONDS}s.")
            if not web_up:
                web_up = self._answers(url)
            if not worker_up:
                worker_up = bool(celery_app.control.ping(destination=[self._worker_name(port)], timeout=0.5))
            if not (web_up and worker_up):
                time.sleep(0.5)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # the server answered; what it answered is the portal's business
        except OSError:
            return False

    def _announce(self, host: str, port: int) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Warden is running at http://{shown_host}:{port}/"))
        self.stdout.write(f"API docs: http://{shown_host}:{port}/api/docs/")
        if host not in ("127.0.0.1", "localhost", "::1"):
            self.stdout.write(f"Listening on {host}: add the name clients use to ALLOWED_HOSTS "
                              f"(now {', '.join(settings.ALLOWED_HOSTS)}).")
        print_logins(self.stdout, self.style)
        self.stdout.write("Press Ctrl-C to stop.")

    def _check_children(self) -> None:
        for child in self.children:
            if child.exited:
                raise ChildDied(child)

    def _watch(self) -> None:
        while True:
            self._check_children()
            time.sleep(0.5)

    def _stop_children(self) -> None:
        # Signals are ignored from here on: a second Ctrl-C must not leave children half-stopped.
        self._stopping = True
        running = [child for child in self.children if not child.exited]
        for child in running:
            try:
                child.process.terminate()
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"the {child.name} did not stop within {STOP_GRACE_SECONDS}s; killing it")
                child.process.kill()
                child.process.wait()
