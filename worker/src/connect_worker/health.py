"""`GET /health`: liveness that proves D1 answers and holds the Better Auth tables and columns
BETTER_AUTH_SCHEMA names (checked afresh on every call), and that the session KV answers when
sessions live there; the one route over no table family."""

from __future__ import annotations

from typing import NamedTuple

from connect_worker.auth_db import unmapped, verify
from connect_worker.deps import Deps
from connect_worker.route import Params, Route

HEALTH_KEY = "connect-worker-health"


class Health(NamedTuple):
    ok: bool


async def health(deps: Deps, params: Params, body: None) -> Health:
    await deps.db.prepare("SELECT 1 AS ok").first()
    await verify(unmapped(deps.db), deps.config.auth_schema)
    if deps.kv is not None:
        await deps.kv.get(HEALTH_KEY)  # a KV failure is answered 503 session_store_unavailable
    return Health(ok=True)


ROUTES = {("GET", "/health"): Route(health)}
