"""The environment another process (a Celery worker, ``manage.py shell``) needs to work on
this test's databases and Redis, as the test process sees them."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


def _database_url(alias_settings, name: str) -> str:
    password = f":{alias_settings['PASSWORD']}" if alias_settings.get("PASSWORD") else ""
    return f"postgresql://{alias_settings['USER']}{password}@{alias_settings['HOST']}:{alias_settings['PORT']}/{name}"


def environment_of_this_test() -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=_database_url(settings.DATABASES["default"], connection.settings_dict["NAME"]),
        WAREHOUSE_URL=_database_url(settings.DATABASES["warehouse"], settings.DATABASES["warehouse"]["NAME"]),
        REDIS_URL=settings.REDIS_URL,
        WARDEN_MASTER_KEY=settings.WARDEN_MASTER_KEY,
    )


@contextmanager
def celery_worker(*, routed_tasks: tuple[str, ...] = ()):
    """A real ``celery -A config worker`` against this test's databases and Redis, on a queue
    of its own, yielding ``(process, queue)``. While it lasts, ``routed_tasks`` (task names)
    are sent to that queue, so no other test's worker takes them, nor this one theirs."""
    from config.celery import app as celery_app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel=INFO"],
        cwd=Path(settings.BASE_DIR), env=environment_of_this_test(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    _route(celery_app, routed_tasks, queue)
    try:
        yield worker, queue
    finally:
        _route(celery_app, routed_tasks, None)
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output)


def _route(celery_app, tasks: tuple[str, ...], queue: str | None) -> None:
    if not tasks:
        return
    routes = dict(celery_app.conf.task_routes or {})
    for task in tasks:
        if queue is None:
            routes.pop(task, None)
        else:
            routes[task] = {"queue": queue}
    celery_app.conf.task_routes = routes
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)  # a cached property, rebuilt from the new routes
