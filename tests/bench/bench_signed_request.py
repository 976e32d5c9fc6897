"""Cost of AccessKey signing: a signed ``GET /api/v1/projects/`` against the same request
authenticated by a session, interleaved in one run so both see the same machine state.

Figures: signed_median_ms, signed_p99_ms, session_median_ms, session_p99_ms, and ratio
(signed median / session median).
"""

import statistics
import time

from django.test import Client

PATH = "/api/v1/projects/"
WARM_UP = 50
REQUESTS = 500


def _timed_get(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")
    return elapsed


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def run() -> dict[str, float]:
    from apps.tenancy import services as tenancy_services
    from tests.signing import signed_client_for

    owner = tenancy_services.tenant_signup(
        tenant_name="bench_signed", username="bench_owner", password="bench-password-not-secret"
    )
    for n in range(5):
        tenancy_services.project_create(actor=owner, name=f"bench_signed_{n}")

    signed = signed_client_for(owner)
    session = Client()
    session.force_login(owner)

    for _ in range(WARM_UP):
        _timed_get(signed, PATH)
        _timed_get(session, PATH)
    signed_ms, session_ms = [], []
    for _ in range(REQUESTS):
        signed_ms.append(_timed_get(signed, PATH))
        session_ms.append(_timed_get(session, PATH))

    signed_median = statistics.median(signed_ms)
    session_median = statistics.median(session_ms)
    return {
        "signed_median_ms": signed_median,
        "signed_p99_ms": _p99(signed_ms),
        "session_median_ms": session_median,
        "session_p99_ms": _p99(session_ms),
        "ratio": signed_median / session_median,
        "requests": REQUESTS,
    }
