"""`connect_webhook_event`: the durable, cross-replica dedupe of Stripe events, and its routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Database
from connect_worker.deps import Deps
from connect_worker.errors import Conflict
from connect_worker.route import ID, Result, Route, Routes
from connect_worker.validation import (
    MAX_SAFE_INTEGER,
    free_text,
    integer,
    nullable,
    optional,
    required,
    string,
)

# One atomic statement: insert a new claim, or take over a failed one or one whose lease expired.
# RETURNING yields a row only when this caller now holds the claim.
_CLAIM = (
    'INSERT INTO "connect_webhook_event" ("event_id", "event_type", "event_created", '
    '"stripe_account_id", "status", "claim_id", "lease_expires_at", "attempts", "received_at") '
    "VALUES (?, ?, ?, ?, 'processing', ?, ?, 1, ?) "
    'ON CONFLICT ("event_id") DO UPDATE SET "status" = \'processing\', '
    '"claim_id" = excluded."claim_id", "lease_expires_at" = excluded."lease_expires_at", '
    '"attempts" = "connect_webhook_event"."attempts" + 1 '
    'WHERE "connect_webhook_event"."status" = \'failed\' OR '
    '("connect_webhook_event"."status" = \'processing\' AND '
    '"connect_webhook_event"."lease_expires_at" < ?) '
    'RETURNING "claim_id", "attempts"'
)
_STATUS = 'SELECT "status", "claim_id" FROM "connect_webhook_event" WHERE "event_id" = ?'
_COMPLETE = (
    'UPDATE "connect_webhook_event" SET "status" = ?, "last_error" = ?, '
    '"lease_expires_at" = NULL, '
    "\"processed_at\" = CASE WHEN ? IN ('processed', 'rejected') THEN ? ELSE \"processed_at\" END "
    'WHERE "event_id" = ? AND "claim_id" = ? AND ("status" = \'processing\' OR "status" = ?)'
)
# Final rows only: 'processed' and 'rejected' events outlive Stripe's retries, then go.
_PRUNE = (
    "DELETE FROM \"connect_webhook_event\" WHERE \"status\" IN ('processed', 'rejected') "
    'AND "received_at" < ?'
)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claimed: bool
    claim_id: str | None
    attempts: int | None
    status: str | None


async def claim(
    db: D1Database,
    *,
    event_id: str,
    event_type: str,
    event_created: int,
    stripe_account_id: str | None,
    claim_id: str,
    now_ms: int,
    lease_ms: int,
    received_at: str,
) -> ClaimResult:
    insert = db.prepare(_CLAIM).bind(
        event_id,
        event_type,
        event_created,
        stripe_account_id,
        claim_id,
        now_ms + lease_ms,
        received_at,
        now_ms,
    )
    results = await db.batch([insert, db.prepare(_STATUS).bind(event_id)])
    granted = results[0].rows
    if granted and granted[0]["claim_id"] == claim_id:
        return ClaimResult(True, claim_id, int(granted[0]["attempts"]), "processing")
    current = results[1].first_row
    status = str(current["status"]) if current else "processing"
    # A `failed` row always yields to a new claim, so a refused claim is processing, processed
    # or rejected (the last two are final).
    return ClaimResult(False, None, None, status)


async def complete(
    db: D1Database,
    *,
    event_id: str,
    claim_id: str,
    outcome: str,
    error: str | None,
    now_iso: str,
) -> bool:
    result = (
        await db.prepare(_COMPLETE)
        .bind(outcome, error, outcome, now_iso, event_id, claim_id, outcome)
        .run()
    )
    return result.changes > 0


async def prune(db: D1Database, *, received_before: str) -> int:
    return (await db.prepare(_PRUNE).bind(received_before).run()).changes


# --- routes ---------------------------------------------------------------------------------

CLAIM_FIELDS = {
    "event_id": required(ID),
    "event_type": required(string(max_len=128)),
    "event_created": required(integer(min_value=0, max_value=MAX_SAFE_INTEGER)),
    "stripe_account_id": optional(nullable(ID)),
    "lease_seconds": optional(integer(min_value=1, max_value=900)),
}


async def claim_event(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    now = deps.now()
    result = await claim(
        deps.db,
        event_id=body["event_id"],
        event_type=body["event_type"],
        event_created=body["event_created"],
        stripe_account_id=body.get("stripe_account_id"),
        claim_id=deps.new_claim_id(),
        now_ms=int(now * 1000),
        lease_ms=body.get("lease_seconds", 60) * 1000,
        received_at=iso_ms(now),
    )
    if result.claimed:
        return 200, {"claimed": True, "claim_id": result.claim_id, "attempts": result.attempts}
    return 200, {"claimed": False, "status": result.status}


COMPLETE_FIELDS = {
    "event_id": required(ID),
    "claim_id": required(ID),
    # `rejected`: validly signed but not applicable (odd values, a Stripe id recorded elsewhere);
    # final like `processed`, with the reason in `error`.
    "outcome": required(string(choices=("processed", "failed", "rejected"))),
    "error": optional(nullable(free_text(max_len=500))),
}


async def complete_event(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    done = await complete(
        deps.db,
        event_id=body["event_id"],
        claim_id=body["claim_id"],
        outcome=body["outcome"],
        error=body.get("error"),
        now_iso=iso_ms(deps.now()),
    )
    if not done:
        raise Conflict("This claim is no longer current.", code="claim_lost")
    return 200, {"status": body["outcome"]}


ROUTES: Routes = {
    ("POST", "/webhook-events/claim"): Route.post(claim_event, CLAIM_FIELDS),
    ("POST", "/webhook-events/complete"): Route.post(complete_event, COMPLETE_FIELDS),
}
