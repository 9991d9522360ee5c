"""`connect_webhook_event`: the durable, cross-replica dedupe of Stripe events, and its routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from connect_worker import organizations, payments, payouts, transfers
from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Database, D1Statement, Row
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.organizations import Organization
from connect_worker.route import ID, UNIX_TIME, Body, Params, Route
from connect_worker.validation import (
    boolean,
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
_STATUS = (
    'SELECT "status", "claim_id", "attempts" FROM "connect_webhook_event" WHERE "event_id" = ?'
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
    # the new claim and the claim completed, in the claim's own batch (see `_apply_statements`).
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
    statements = [insert, deps.db.prepare(_STATUS).bind(event_id)]
    account_id = body.get("stripe_account_id")
    snapshot = body.get("snapshot") if account_id is not None else None
    if account_id is not None:
        # The organization the event is about, in the same round trip: the caller needs it (and
        # its watermark) for almost every event, and a second call would double the hop.
        statements.append(deps.db.prepare(organizations.SELECT_BY_ACCOUNT).bind(account_id))
        if snapshot is not None:
            # ... and with a snapshot, its effect and the claim's completion too: one call in all.
            statements += _apply_statements(
                deps,
                event_id=event_id,
                claim_id=claim_id,
                fields=snapshot,
                second=body["event_created"],
                organization=_BY_ACCOUNT,
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
            *_organization_and_watermark(results[5].first_row),
        )
    if account_id is not None:
        return ClaimedFor(
            True, claim_id, attempts, *_organization_and_watermark(results[2].first_row)
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


# An event and the claim a call acts under: the key of every call after the claim.
CLAIM_KEY_FIELDS = {"event_id": required(ID), "claim_id": required(ID)}

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


def claim_lost() -> ApiError:
    return ApiError("claim_lost", "This claim is no longer current.")


def _organization_and_watermark(row: Row | None) -> tuple[Organization | None, float | None]:
    """The organization as the contract shows it, plus its exact watermark: `Organization` shows
    `stripe_synced_at` in whole seconds, but ordering an event against it needs the fraction."""
    if row is None:
        return None, None
    watermark = row.get("stripe_synced_at")
    return organizations.to_model(row), None if watermark is None else float(watermark)


# The effect of an `account.updated` snapshot and the end of its claim, in one batch. The event's
# `created` is a whole second S and its snapshot was taken somewhere inside it, so the snapshot is
# stamped S + 0.999 and written only over a watermark from an earlier second: a watermark inside S
# is a tie no timestamp can break (the caller reads Stripe instead). The claim completes only if,
# after the update, D1 holds a state this event may leave — a later second's, or exactly the
# event's own fields; else (a same-second event with another state won the race) it stays claimed
# and the caller re-reads.
#
# Two callers: `apply-organization` (a claim already held; the organization by id; a NULL
# watermark is written over, as the caller decided) and the claim itself with a `snapshot` (the
# organization by the event's account; written only under the claim this batch just granted, and
# never over a NULL watermark, which has no time to order against — the caller reads Stripe).
WITHIN_SECOND = 0.999
_BY_ID = '"id" = ?'
_BY_ACCOUNT = '"stripe_connect_account_id" = ?'
_CLAIM_HELD = (
    'EXISTS (SELECT 1 FROM "connect_webhook_event" WHERE "event_id" = ? AND "claim_id" = ? '
    "AND \"status\" = 'processing')"
)
_SETTLED = (
    'EXISTS (SELECT 1 FROM "organization" WHERE {organization} AND "stripe_synced_at" IS NOT NULL '
    'AND ("stripe_synced_at" >= ? OR ({same})))'
)


def _apply_statements(
    deps: Deps,
    *,
    event_id: str,
    claim_id: str,
    fields: Mapping[str, Any],
    second: int,
    organization: str,
    key: str,
    under_new_claim: bool,
) -> list[D1Statement]:
    """[update, complete, the organization as left]; `organization` is `_BY_ID`/`_BY_ACCOUNT`."""
    columns = [c for c in organizations.UPDATABLE_COLUMNS if c in fields]
    values = [organizations.to_db_value(c, fields[c]) for c in columns]
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    if under_new_claim:
        guard, guard_values = f'"stripe_synced_at" < ? AND {_CLAIM_HELD}', [event_id, claim_id]
    else:
        guard, guard_values = '("stripe_synced_at" IS NULL OR "stripe_synced_at" < ?)', []
    update = deps.db.prepare(
        f'UPDATE "organization" SET {assignments}, "stripe_synced_at" = ? '
        f"WHERE {organization} AND {guard}"
    ).bind(*values, second + WITHIN_SECOND, key, second, *guard_values)
    same = " AND ".join(f'"{c}" IS ?' for c in columns)
    complete = deps.db.prepare(
        'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
        '"lease_expires_at" = NULL, "processed_at" = ? '
        'WHERE "event_id" = ? AND "claim_id" = ? AND "status" = \'processing\' AND '
        + _SETTLED.format(organization=organization, same=same)
    ).bind(iso_ms(deps.now()), event_id, claim_id, key, second + 1, *values)
    select = (
        organizations.SELECT_BY_ID if organization == _BY_ID else organizations.SELECT_BY_ACCOUNT
    )
    return [update, complete, deps.db.prepare(select).bind(key)]


APPLY_FIELDS = {
    **CLAIM_KEY_FIELDS,
    "organization_id": required(ID),
    "fields": required(organizations.update_fields_value),
    "event_created": required(UNIX_TIME),
}


class Applied(NamedTuple):
    updated: bool
    completed: bool
    organization: Organization | None
    watermark: float | None


async def apply_organization(deps: Deps, params: Params, body: Body) -> Applied:
    statements = _apply_statements(
        deps,
        event_id=body["event_id"],
        claim_id=body["claim_id"],
        fields=body["fields"],
        second=body["event_created"],
        organization=_BY_ID,
        key=body["organization_id"],
        under_new_claim=False,
    )
    statements.append(deps.db.prepare(_STATUS).bind(body["event_id"]))
    results = await deps.db.batch(statements)
    row, event = results[2].first_row, results[3].first_row
    if row is None:
        raise organizations.organization_not_found()
    # Completed by this call, or by this same call sent before (its answer lost): answered alike.
    completed = results[1].changes > 0 or (
        event is not None
        and event["status"] == "processed"
        and event["claim_id"] == body["claim_id"]
    )
    if not completed and (
        event is None or event["status"] != "processing" or event["claim_id"] != body["claim_id"]
    ):
        raise claim_lost()
    return Applied(results[0].changes > 0, completed, *_organization_and_watermark(row))


# A `payout.*` event's effect and the end of its claim, in one batch: the claim completes only if
# the payout is now stored for the event's organization (a payout recorded for another one leaves
# the claim held, and the route answers 409 as `payouts/upsert` does). A retried call whose first
# attempt committed completes again, harmlessly: the claim is still this caller's.
_COMPLETE_IF_PAYOUT_STORED = (
    'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
    '"lease_expires_at" = NULL, "processed_at" = COALESCE("processed_at", ?) '
    'WHERE "event_id" = ? AND "claim_id" = ? AND "status" IN (\'processing\', \'processed\') '
    'AND EXISTS (SELECT 1 FROM "connect_payout" WHERE "stripe_payout_id" = ? '
    'AND "organization_id" = ?)'
)

APPLY_PAYOUT_FIELDS = {**payouts.UPSERT_FIELDS, **CLAIM_KEY_FIELDS}


async def apply_payout(deps: Deps, params: Params, body: Body) -> payouts.PayoutUpdated:
    now_iso = iso_ms(deps.now())
    statements = payouts.upsert_statements(deps.db, body, now_iso=now_iso)
    statements.append(
        deps.db.prepare(_COMPLETE_IF_PAYOUT_STORED).bind(
            now_iso,
            body["event_id"],
            body["claim_id"],
            body["stripe_payout_id"],
            body["organization_id"],
        )
    )
    results = await deps.db.batch(statements)
    updated, row = payouts.upserted(results)
    owned = payouts.owned_row(row, body)
    if results[-1].changes == 0:
        raise claim_lost()
    return payouts.PayoutUpdated(updated, payouts.LEDGER.found(owned))


# The combined routes below write an event's effect and complete its claim in one batch, every
# write guarded by the claim still being the caller's — `processing`, or `processed` by this same
# claim: a retried call whose first attempt committed applies the same idempotent effect and
# completes again, harmlessly — so a lost claim (another replica took the event over) writes
# nothing and answers 409 `claim_lost`.
_HELD_STATUSES = ("processing", "processed")
_HELD = '"event_id" = ? AND "claim_id" = ? AND "status" IN ({})'.format(
    ", ".join(f"'{status}'" for status in _HELD_STATUSES)
)
_HELD_BY_CALLER = f'EXISTS (SELECT 1 FROM "connect_webhook_event" WHERE {_HELD})'
_COMPLETE_HELD = (
    'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
    f'"lease_expires_at" = NULL, "processed_at" = COALESCE("processed_at", ?) WHERE {_HELD}'
)
_ORGANIZATION_EXISTS = 'EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?)'

# `transfer.*`: the claim completes whatever the ledger said — a transfer not in it, or one whose
# metadata names a row that cannot take it, is settled all the same (no retry can change it).
APPLY_TRANSFER_FIELDS = {**transfers.SYNC_FIELDS, **CLAIM_KEY_FIELDS}


async def apply_transfer(deps: Deps, params: Params, body: Body) -> transfers.Transfer:
    """`transfers/sync` and the claim's completion in one batch; answered as `transfers/sync`
    (404 `transfer_not_found`, 409 `transfer_mismatch`) once the claim is completed."""
    now_iso, event_id, claim_id = iso_ms(deps.now()), body["event_id"], body["claim_id"]
    held = (_HELD_BY_CALLER, (event_id, claim_id))
    statements = transfers.sync_statements(deps.db, body, now_iso=now_iso, only_if=held)
    complete = deps.db.prepare(_COMPLETE_HELD).bind(now_iso, event_id, claim_id)
    results = await deps.db.batch([*statements, complete])
    if results[-1].changes == 0:
        raise claim_lost()
    return transfers.synced(results[:-1], body)


# An organization update an event asks for (`account.application.deauthorized`: the payload's
# disabled state) and its claim's completion, in one batch: the update as `update-organization`
# (only if newer) but only under the caller's claim, and the completion only if the organization
# exists — one gone leaves the claim held and answers 404, as `update-organization` does.
_COMPLETE_IF_ORGANIZATION = f"{_COMPLETE_HELD} AND {_ORGANIZATION_EXISTS}"

UPDATE_ORGANIZATION_FIELDS = {**organizations.UPDATE_FIELDS, **CLAIM_KEY_FIELDS}


async def update_organization(
    deps: Deps, params: Params, body: Body
) -> organizations.OrganizationUpdated:
    event_id, claim_id, org_id = body["event_id"], body["claim_id"], body["organization_id"]
    held = (_HELD_BY_CALLER, (event_id, claim_id))
    update = organizations.update_statement(deps.db, body, only_if=held)
    complete = deps.db.prepare(_COMPLETE_IF_ORGANIZATION).bind(
        iso_ms(deps.now()), event_id, claim_id, org_id
    )
    select = deps.db.prepare(organizations.SELECT_BY_ID).bind(org_id)
    updated, completed, row = await deps.db.batch([update, complete, select])
    organization = organizations.found(row.first_row)
    if completed.changes == 0:
        raise claim_lost()
    return organizations.OrganizationUpdated(updated.changes > 0, organization)


# A payment event's record and its claim's completion, in one batch: the organization checked
# and the payment recorded only under the caller's claim. The claim completes whatever the record
# found (an organization gone, or a payment recorded for another one, is settled — no retry can
# change it), except when the caller asks to hold it for an automatic transfer and one follows:
# the payment recorded for an organization that transfers automatically. The caller then
# transfers and completes the claim itself.
_COMPLETE_UNLESS_TRANSFER_FOLLOWS = (
    _COMPLETE_HELD + " AND NOT (? = 1 "
    'AND EXISTS (SELECT 1 FROM "organization" WHERE "id" = ? AND "auto_transfer_payments" = 1) '
    'AND EXISTS (SELECT 1 FROM "connect_payment" WHERE "payment_intent_id" = ? '
    'AND "organization_id" = ? AND "currency" = ? AND "amount" = ?))'
)

APPLY_PAYMENT_FIELDS = {
    **payments.FIELDS,
    **CLAIM_KEY_FIELDS,
    "hold_if_auto_transfer": optional(boolean()),
}


class PaymentApplied(NamedTuple):
    """`completed` false: the claim is held for the automatic transfer that follows."""

    completed: bool
    organization: Organization
    payment: payments.Payment


async def apply_payment(deps: Deps, params: Params, body: Body) -> PaymentApplied:
    values = payments.refunds_within_amount(body)  # as `payments/record` checks it
    now_iso, event_id, claim_id = iso_ms(deps.now()), body["event_id"], body["claim_id"]
    org_id, intent = values["organization_id"], values["payment_intent_id"]
    held = (f"{_HELD_BY_CALLER} AND {_ORGANIZATION_EXISTS}", (event_id, claim_id, org_id))
    hold = 1 if body.get("hold_if_auto_transfer") else 0
    db = deps.db
    recorded, completed, event, org, stored = await db.batch(
        [
            payments.record_statement(db, values, now_iso=now_iso, only_if=held),
            db.prepare(_COMPLETE_UNLESS_TRANSFER_FOLLOWS).bind(
                *(now_iso, event_id, claim_id, hold, org_id),
                *(intent, org_id, values["currency"], values["amount"]),
            ),
            db.prepare(_STATUS).bind(event_id),
            db.prepare(organizations.SELECT_BY_ID).bind(org_id),
            db.prepare(payments.BY_INTENT).bind(intent),
        ]
    )
    row = event.first_row
    if row is None or row["claim_id"] != claim_id or row["status"] not in _HELD_STATUSES:
        raise claim_lost()
    organization = organizations.found(org.first_row)
    if recorded.changes == 0 or stored.first_row is None:
        raise payments.payment_conflict()
    return PaymentApplied(completed.changes > 0, organization, payments.to_model(stored.first_row))


ROUTES = {
    ("POST", "/webhook-events/claim"): Route(claim_event, CLAIM_FIELDS),
    ("POST", "/webhook-events/complete"): Route(complete_event, COMPLETE_FIELDS),
    ("POST", "/webhook-events/apply-organization"): Route(apply_organization, APPLY_FIELDS),
    ("POST", "/webhook-events/apply-payout"): Route(apply_payout, APPLY_PAYOUT_FIELDS),
    ("POST", "/webhook-events/update-organization"): Route(
        update_organization, UPDATE_ORGANIZATION_FIELDS
    ),
    ("POST", "/webhook-events/apply-payment"): Route(apply_payment, APPLY_PAYMENT_FIELDS),
    ("POST", "/webhook-events/apply-transfer"): Route(
        apply_transfer, APPLY_TRANSFER_FIELDS, reply="transfer"
    ),
}
