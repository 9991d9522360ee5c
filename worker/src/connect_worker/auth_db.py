"""D1 under the platform's Better Auth names, and the first-request check that D1 has them.

`MappedD1` hands every statement to D1 with the description's names in place of Better Auth's
defaults (`AuthSchema.render`, built once per statement text); with the defaults the Worker uses
D1 as it is. `SchemaCheck` asks D1, before the first request is served, for every table and
column the description names: a wrong name is answered `503 better_auth_schema_mismatch` (and
logged, naming it) on every request until D1 has it, never a wrong answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from connect_worker.auth_schema import AuthSchema
from connect_worker.d1 import D1Database, D1Error, D1Result, D1Statement
from connect_worker.errors import ApiError

log = logging.getLogger("connect_worker")

# What SQLite (and so D1) says when a statement names something the database lacks.
_MISSING = ("no such table", "no such column")


@dataclass(frozen=True, slots=True)
class MappedD1:
    db: D1Database
    schema: AuthSchema

    def prepare(self, sql: str) -> D1Statement:
        return self.db.prepare(self.schema.render(sql))

    async def batch(self, statements: Sequence[D1Statement]) -> list[D1Result]:
        return await self.db.batch(statements)


def mapped(db: D1Database, schema: AuthSchema) -> D1Database:
    return db if schema.is_default else MappedD1(db, schema)


def schema_mismatch(detail: str) -> ApiError:
    return ApiError(
        "better_auth_schema_mismatch",
        f"D1 does not have the Better Auth schema BETTER_AUTH_SCHEMA describes: {detail}.",
    )


async def verify(db: D1Database, schema: AuthSchema) -> None:
    """Raise `better_auth_schema_mismatch` naming the first table or column D1 lacks: all
    tables in one batch (one round trip); only when it fails, one by one to name the model."""
    probes = schema.probes()
    try:
        await db.batch([db.prepare(sql) for _, sql in probes])
        return
    except D1Error:
        pass
    for model, sql in probes:
        try:
            await db.prepare(sql).all()
        except D1Error as exc:
            message = str(exc)
            lowered = message.lower()
            missing = next((m for m in _MISSING if m in lowered), None)
            if missing is None:
                raise
            # "no such column: user_id" → the name as SQLite gave it, and the model it is for.
            name = message[lowered.index(missing) + len(missing) :].lstrip(": ").split(":")[0]
            detail = f"{missing} {name.strip()!r} (Better Auth model {model!r})"
            log.error("better auth schema mismatch: %s", detail)
            raise schema_mismatch(detail) from None


@dataclass(slots=True)
class SchemaCheck:
    """Whether this database was found to hold the description's names (per isolate / host)."""

    passed: bool = False

    async def ensure(self, db: D1Database, schema: AuthSchema) -> None:
        if not self.passed:
            await verify(unmapped(db), schema)
            self.passed = True


def unmapped(db: D1Database) -> D1Database:
    """D1 itself: the probes already hold the platform's names."""
    return db.db if isinstance(db, MappedD1) else db
