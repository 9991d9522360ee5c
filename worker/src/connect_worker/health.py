"""`GET /health`: liveness that proves D1 answers; the one route over no table family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connect_worker.deps import Deps
from connect_worker.route import Reply, Route


@dataclass(frozen=True, slots=True)
class Health(Reply):
    ok: bool


async def health(deps: Deps, params: Mapping[str, str], body: None) -> Health:
    await deps.db.prepare("SELECT 1 AS ok").first()
    return Health(ok=True)


ROUTES = {("GET", "/health"): Route.get(health)}
