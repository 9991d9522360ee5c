"""What every handler is given: the runtime adapter (or a test) builds one `Deps` per request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from connect_worker.auth_db import SchemaCheck, mapped
from connect_worker.clock import Clock
from connect_worker.config import WorkerConfig
from connect_worker.d1 import D1Database
from connect_worker.jwt import Ed25519Verifier
from connect_worker.kv import KVNamespace


def _new_claim_id() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Deps:
    config: WorkerConfig
    db: D1Database
    verifier: Ed25519Verifier
    now: Clock = time.time
    new_claim_id: Callable[[], str] = field(default=_new_claim_id)
    # The SESSIONS_KV binding: Better Auth's secondary storage, when sessions live there.
    kv: KVNamespace | None = None
    # Shared by every Deps over the same database (the runtime adapter keeps one per isolate).
    schema_check: SchemaCheck = field(default_factory=SchemaCheck)

    def __post_init__(self) -> None:
        # Handlers write SQL with Better Auth's default names; the platform's replace them here,
        # for every handler at once (`auth_db.MappedD1`).
        object.__setattr__(self, "db", mapped(self.db, self.config.auth_schema))
