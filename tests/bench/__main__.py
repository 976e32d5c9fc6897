"""Run Warden's benchmarks: ``python -m tests.bench [NAME ...]`` (``make bench``).

Every ``tests/bench/bench_<name>.py`` exposes ``run() -> dict[str, float]``. Each one's
figures are printed and written to ``var/bench/<name>.json``. The benchmarks run against
throwaway databases created the way the test runner creates them (``bench_<database>``,
dropped afterwards) and under their own cache key prefix, so they never touch the portal's
data.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent.parent
OUTPUT_DIR = BASE_DIR / "var" / "bench"


def available() -> list[str]:
    return sorted(
        module.name.removeprefix("bench_")
        for module in pkgutil.iter_modules([str(BENCH_DIR)])
        if module.name.startswith("bench_")
    )


def _setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["WARDEN_CACHE_PREFIX"] = f"bench-{uuid.uuid4().hex[:12]}"
    import django
    from django.conf import settings

    django.setup()
    for alias, database in settings.DATABASES.items():
        database.setdefault("TEST", {})["NAME"] = f"bench_{database['NAME']}"
    # Work the benchmarks cause (audit sealing, ...) runs in-process, not on the portal's workers.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    try:
        from config.celery import app as celery_app

        celery_app.conf.task_always_eager = True
    except ImportError:
        pass

    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False, aliases=set(settings.DATABASES))


def _teardown_django(old_config) -> None:
    from django.test.utils import teardown_databases, teardown_test_environment

    teardown_databases(old_config, verbosity=0)
    teardown_test_environment()


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(BASE_DIR))
    old_config = _setup_django()
    failed = False
    try:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        for name in names:
            module = importlib.import_module(f"tests.bench.bench_{name}")
            started = time.perf_counter()
            try:
                figures = {key: float(value) for key, value in module.run().items()}
            except Exception as error:  # report and go on with the other benchmarks
                failed = True
                print(f"{name}: FAILED: {error!r}", file=sys.stderr)
                continue
            (OUTPUT_DIR / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
            print(f"{name} ({time.perf_counter() - started:.1f} s) -> {OUTPUT_DIR / f'{name}.json'}")
            for key, value in figures.items():
                print(f"  {key:24} {value:12.4f}")
    finally:
        _teardown_django(old_config)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
