"""`docs/internal-api.md` is the one contract between the backend and the Worker: every route it
documents is one the Worker serves, every route the Worker serves is documented, and every call the
backend's WorkerClient makes is to a documented route with the documented method.

(What each route does is proven by the Worker's tests and by the backend's integration tests, which
run the real WorkerClient against the real Worker core.)
"""

from __future__ import annotations

import re
from pathlib import Path

from connect_worker.app import ROUTES

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "docs" / "internal-api.md"
CLIENT = REPO / "backend" / "worker_client.py"

_PARAM = re.compile(r"\{[^/]+\}")


def _shape(path: str) -> str:
    """`/a/{id}/b` and `/a/{_segment(x)}/b` are the same route."""
    return _PARAM.sub("{}", path)


def documented_routes() -> set[tuple[str, str]]:
    headings = re.findall(r"^### `(GET|POST) (/api/internal/[^`]+)`$", CONTRACT.read_text(), re.M)
    return {(method, _shape(path)) for method, path in headings}


def client_calls() -> set[tuple[str, str]]:
    source = CLIENT.read_text()
    calls = re.findall(r'"(GET|POST)",\s*f?"(/api/internal/[^"]+)"', source)
    finds = re.findall(r'self\._find\(\s*f?"(/api/internal/[^"]+)"', source)  # GETs
    return {(method, _shape(path)) for method, path in calls} | {("GET", _shape(p)) for p in finds}


def test_the_contract_documents_routes() -> None:
    assert len(documented_routes()) >= 18


def test_the_worker_serves_exactly_the_documented_routes() -> None:
    served = {(method, _shape(pattern)) for method, pattern in ROUTES}
    assert served == documented_routes()


def test_the_backend_calls_only_documented_routes() -> None:
    calls = client_calls()
    assert calls, "no Worker calls found in backend/worker_client.py"
    assert calls <= documented_routes(), calls - documented_routes()


def test_the_backend_uses_every_route_but_the_cron_only_prune() -> None:
    unused = documented_routes() - client_calls()
    assert unused == {("POST", "/api/internal/ledgers/prune")}
