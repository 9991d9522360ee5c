"""`connect_webhook_event`: the durable, cross-replica dedupe of Stripe events — a claim granted
(`webhook-events/claim`), ended (`webhook-events/complete`) and pruned — and its routes.

What each event kind writes under its claim is in its own module: `account_events`,
`ledger_events`, `payment_events`, `disputes`; the guard they share is `event_claims`."""

from __future__ import annotations

from typing import Literal, NamedTuple

from connect_worker import organizations
from connect_worker.account_events import (
    BY_ACCOUNT,
    organization_and_watermark,
    snapshot_statements,
)
from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Database, Row
from connect_worker.deps import Deps
from connect_worker.event_claims import CLAIM_KEY_FIELDS, STATUS, claim_lost
from connect_worker.organizations import Organization
from connect_worker.route import ID, UNIX_TIME, Body, Params, Route
from connect_worker.validation import (
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
    # An `account.updated` event's own snapshot (as `update-organization` fields): applied under
    # the new claim and the claim completed, in the claim's own batch (see `snapshot_statements`).
    "snapshot": optional(nullable(organizations.update_fields_value)),
    # The caller's own id for this claim: a replay of the same request (the caller could not
    # tell whether the first ran) finds its claim held under this id and is answered as granted.
    "claim_id": optional(string(pattern=r"[A-Za-z0-9_-]{16,128}")),
}


class Claimed(NamedTuple):
    claimed: Literal[True]
    claim_id: str
    attempts: int


class ClaimedFor(NamedTuple):
    """A claim of an event about a connected account: its organization (None when no organization
    holds the account) and that organization's exact watermark."""

    claimed: Literal[True]
    claim_id: str
    attempts: int
    organization: Organization | None
    watermark: float | None


class ClaimedAndApplied(NamedTuple):
    """A claim that carried a snapshot: whether it was written and the claim completed with it,
    and the organization as the batch left it."""

    claimed: Literal[True]
    claim_id: str
    attempts: int
    updated: bool
    completed: bool
    organization: Organization | None
    watermark: float | None


class NotClaimed(NamedTuple):
    claimed: Literal[False]
    status: str


async def claim_event(
    deps: Deps, params: Params, body: Body
) -> Claimed | ClaimedFor | ClaimedAndApplied | NotClaimed:
    now = deps.now()
    now_ms, event_id = int(now * 1000), body["event_id"]
    claim_id = body.get("claim_id") or deps.new_claim_id()
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
    statements = [insert, deps.db.prepare(STATUS).bind(event_id)]
    account_id = body.get("stripe_account_id")
    snapshot = body.get("snapshot") if account_id is not None else None
    if account_id is not None:
        # The organization the event is about, in the same round trip: the caller needs it (and
        # its watermark) for almost every event, and a second call would double the hop.
        statements.append(deps.db.prepare(organizations.SELECT_BY_ACCOUNT).bind(account_id))
        if snapshot is not None:
            # ... and with a snapshot, its effect and the claim's completion too: one call in all.
            statements += snapshot_statements(
                deps,
                event_id=event_id,
                claim_id=claim_id,
                fields=snapshot,
                second=body["event_created"],
                organization=BY_ACCOUNT,
                key=account_id,
                under_new_claim=True,
            )
    results = await deps.db.batch(statements)
    granted, current = results[0].rows, results[1].first_row
    if granted and granted[0]["claim_id"] == claim_id:
        attempts, completed_before = int(granted[0]["attempts"]), False
    elif _replayed(body, current, with_snapshot=snapshot is not None):
        assert current is not None
        attempts, completed_before = int(current["attempts"]), current["status"] == "processed"
    else:
        # A `failed` row always yields to a new claim, so a refused claim is processing,
        # processed or rejected (the last two are final).
        return NotClaimed(False, str(current["status"]) if current else "processing")
    if snapshot is not None:
        # The organization as the batch left it; nothing was written unless `completed`.
        return ClaimedAndApplied(
            True,
            claim_id,
            attempts,
            results[3].changes > 0,
            completed_before or results[4].changes > 0,
            *organization_and_watermark(results[5].first_row),
        )
    if account_id is not None:
        return ClaimedFor(
            True, claim_id, attempts, *organization_and_watermark(results[2].first_row)
        )
    return Claimed(True, claim_id, attempts)


def _replayed(body: Body, current: Row | None, *, with_snapshot: bool) -> bool:
    """The caller's own claim id already holds the event: this is its request sent again. A
    snapshot claim may have completed the claim in its own batch; any other is still held."""
    held = ("processing", "processed") if with_snapshot else ("processing",)
    return (
        "claim_id" in body
        and current is not None
        and current["claim_id"] == body["claim_id"]
        and current["status"] in held
    )


COMPLETE_FIELDS = {
    **CLAIM_KEY_FIELDS,
    # `rejected`: validly signed but not applicable (odd values, a Stripe id recorded elsewhere);
    # final like `processed`, with the reason in `error`.
    "outcome": required(string(choices=("processed", "failed", "rejected"))),
    "error": optional(nullable(free_text(max_len=500))),
}


class EventStatus(NamedTuple):
    status: str


async def complete_event(deps: Deps, params: Params, body: Body) -> EventStatus:
    outcome, now_iso = body["outcome"], iso_ms(deps.now())
    update = deps.db.prepare(_COMPLETE).bind(
        outcome, body.get("error"), outcome, now_iso, body["event_id"], body["claim_id"], outcome
    )
    if (await update.run()).changes == 0:
        raise claim_lost()
    return EventStatus(outcome)


ROUTES = {
    ("POST", "/webhook-events/claim"): Route(claim_event, CLAIM_FIELDS),
    ("POST", "/webhook-events/complete"): Route(complete_event, COMPLETE_FIELDS),
}
