"""`GET /health`: liveness that proves D1 answers and holds the Better Auth tables and columns
BETTER_AUTH_SCHEMA names (checked afresh on every call); the one route over no table family."""

from __future__ import annotations

from typing import NamedTuple

from connect_worker.auth_db import unmapped, verify
from connect_worker.deps import Deps
from connect_worker.route import Params, Route


class Health(NamedTuple):
    ok: bool


async def health(deps: Deps, params: Params, body: None) -> Health:
    await deps.db.prepare("SELECT 1 AS ok").first()
    await verify(unmapped(deps.db), deps.config.auth_schema)
    return Health(ok=True)


ROUTES = {("GET", "/health"): Route(health)}
