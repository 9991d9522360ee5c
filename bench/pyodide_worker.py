"""The Worker under Pyodide (worker/pyodide_host): cold start and first request, as on Workers.

Each run starts a fresh Node process with npm pyodide (the version the compatibility date selects),
loads the upload (src/ + the vendored SDK) and constructs `Default`; the host reports how long
Pyodide took to boot, how long `import entry` took (the Worker's own import cost, which Cloudflare
pays at deploy time for its memory snapshot and otherwise on a cold start) and how long the first
`verify-user-context` took inside `fetch` (first-call costs: lazy imports, D1 statement caches).
Then a short sequential loop over HTTP gives a warm per-request figure for comparison.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stack import seed_principal
from devstack.pyodide_worker import start_pyodide_worker


@dataclass(frozen=True, slots=True)
class PyodideCost:
    runs: int
    pyodide_version: str
    boot_ms: float  # loadPyodide: wasm + stdlib, before any Worker code
    import_ms: float  # `import entry` (the Worker's modules and the SDK)
    first_request_ms: float  # the first verify-user-context inside fetch()
    warm_request_ms: float  # median of later ones, over loopback HTTP
    status: int


def pyodide_cost(*, runs: int = 3, warm_calls: int = 200) -> PyodideCost:
    key, secret = "k" * 48, "s" * 40
    boots, imports, firsts, warms = [], [], [], []
    version, status = "", 0
    with tempfile.TemporaryDirectory(prefix="bench-pyodide-") as tmp:
        path = Path(tmp) / "d1.sqlite3"
        principal = seed_principal(path, secret=secret)
        body = {"token": principal.token, "organization_id": principal.organization_id}
        settings = {"INTERNAL_API_KEYS": f"v1:{key}", "BETTER_AUTH_SECRET": secret}
        for _ in range(runs):
            host = start_pyodide_worker(settings, path)
            try:
                with httpx.Client(base_url=host.url, headers={"x-api-key": key}) as client:
                    url = "/api/internal/verify-user-context"
                    status = client.post(url, json=body).status_code
                    stats = client.get("/__pyodide_host/stats").json()
                    times = []
                    for _ in range(warm_calls):
                        started = time.perf_counter()
                        client.post(url, json=body)
                        times.append(time.perf_counter() - started)
            finally:
                host.stop()
            version = stats["pyodide_version"]
            boots.append(stats["pyodide_ms"])
            imports.append(stats["import_ms"])
            firsts.append(stats["first_request_ms"])
            warms.append(statistics.median(times) * 1000)
    return PyodideCost(
        runs=runs,
        pyodide_version=version,
        boot_ms=statistics.median(boots),
        import_ms=statistics.median(imports),
        first_request_ms=statistics.median(firsts),
        warm_request_ms=statistics.median(warms),
        status=status,
    )
