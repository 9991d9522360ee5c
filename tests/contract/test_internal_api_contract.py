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
# The Worker client and its parts: every module of the Worker side that calls a route.
CLIENTS = tuple(sorted((REPO / "backend" / "worker_side").glob("worker_*.py")))

_PARAM = re.compile(r"\{[^/]*\}")
_HELD = re.compile(
    r'path = "(/api/internal/[^"]+)"\s*\n[^\n]*self\._(get|post|find)\((?:"(GET|POST)", )?path'
)


def _shape(path: str) -> str:
    """`/a/{id}/b` (the contract) and `/a/{}/b` (the client) are the same route."""
    return _PARAM.sub("{}", path)


def documented_routes() -> set[tuple[str, str]]:
    headings = re.findall(r"^### `(GET|POST) (/api/internal/[^`]+)`$", CONTRACT.read_text(), re.M)
    return {(method, _shape(path)) for method, path in headings}


def client_calls() -> set[tuple[str, str]]:
    """Every `"/api/internal/…"` in the client with its method: named beside it (`_call`,
    `_find`), or by the helper that sends it (`_get`, `_post`); `{}` marks a path segment."""
    source = "\n".join(client.read_text() for client in CLIENTS)
    calls = re.findall(r'"(GET|POST)",\s*"(/api/internal/[^"]+)"', source)
    by_helper = re.findall(r'self\._(get|post)\(\s*"(/api/internal/[^"]+)"', source)
    # A path held in a variable first: `path = "…"`, then `self._get(path` or `self._post(path`
    # or `self._find("GET", path`.
    held = [(explicit or helper.upper(), path) for path, helper, explicit in _HELD.findall(source)]
    found = [*calls, *((m.upper(), p) for m, p in by_helper), *held]
    literals = set(re.findall(r'"(/api/internal/[^"]+)"', source))
    assert literals == {path for _, path in found}, "a Worker path whose method is not clear"
    return {(method, _shape(path)) for method, path in found}


def test_the_contract_documents_routes() -> None:
    assert len(documented_routes()) >= 18


def test_the_worker_serves_exactly_the_documented_routes() -> None:
    served = {(method, _shape(pattern)) for method, pattern in ROUTES}
    assert served == documented_routes()


def test_the_backend_calls_only_documented_routes() -> None:
    calls = client_calls()
    assert calls, "no Worker calls found in the backend's Worker client"
    assert calls <= documented_routes(), calls - documented_routes()


def test_the_backend_uses_every_route_but_the_cron_only_prune() -> None:
    unused = documented_routes() - client_calls()
    assert unused == {("POST", "/api/internal/ledgers/prune")}
