"""`connect_webhook_event`: the durable, cross-replica dedupe of Stripe events, and its routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Database
from connect_worker.deps import Deps
from connect_worker.errors import Conflict
from connect_worker.route import ID, UNIX_TIME, Result, Route
from connect_worker.validation import free_text, integer, nullable, optional, required, string

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


async def prune(db: D1Database, *, received_before: str) -> int:
    return (await db.prepare(_PRUNE).bind(received_before).run()).changes


CLAIM_FIELDS = {
    "event_id": required(ID),
    "event_type": required(string(max_len=128)),
    "event_created": required(UNIX_TIME),
    "stripe_account_id": optional(nullable(ID)),
    "lease_seconds": optional(integer(min_value=1, max_value=900)),
}


async def claim_event(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    now = deps.now()
    now_ms, claim_id, event_id = int(now * 1000), deps.new_claim_id(), body["event_id"]
    insert = deps.db.prepare(_CLAIM).bind(
        event_id,
        body["event_type"],
        body["event_created"],
        body.get("stripe_account_id"),
        claim_id,
        now_ms + body.get("lease_seconds", 60) * 1000,
        iso_ms(now),
        now_ms,
    )
    results = await deps.db.batch([insert, deps.db.prepare(_STATUS).bind(event_id)])
    granted = results[0].rows
    if granted and granted[0]["claim_id"] == claim_id:
        return 200, {"claimed": True, "claim_id": claim_id, "attempts": int(granted[0]["attempts"])}
    current = results[1].first_row
    # A `failed` row always yields to a new claim, so a refused claim is processing, processed
    # or rejected (the last two are final).
    return 200, {"claimed": False, "status": str(current["status"]) if current else "processing"}


COMPLETE_FIELDS = {
    "event_id": required(ID),
    "claim_id": required(ID),
    # `rejected`: validly signed but not applicable (odd values, a Stripe id recorded elsewhere);
    # final like `processed`, with the reason in `error`.
    "outcome": required(string(choices=("processed", "failed", "rejected"))),
    "error": optional(nullable(free_text(max_len=500))),
}


async def complete_event(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    outcome, now_iso = body["outcome"], iso_ms(deps.now())
    update = deps.db.prepare(_COMPLETE).bind(
        outcome, body.get("error"), outcome, now_iso, body["event_id"], body["claim_id"], outcome
    )
    if (await update.run()).changes == 0:
        raise Conflict("This claim is no longer current.", code="claim_lost")
    return 200, {"status": outcome}


ROUTES = {
    ("POST", "/webhook-events/claim"): Route.post(claim_event, CLAIM_FIELDS),
    ("POST", "/webhook-events/complete"): Route.post(complete_event, COMPLETE_FIELDS),
}
