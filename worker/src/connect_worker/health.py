"""`GET /health`: liveness that proves D1 answers; the one route over no table family."""

from __future__ import annotations

from collections.abc import Mapping

from connect_worker.deps import Deps
from connect_worker.route import Result, Route


async def health(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    await deps.db.prepare("SELECT 1 AS ok").first()
    return 200, {"ok": True}


ROUTES = {("GET", "/health"): Route.get(health)}
