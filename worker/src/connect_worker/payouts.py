"""`connect_payout`: payouts reserved under an idempotency key, then Stripe's state; and routes.

A payout made through us is reserved first (`reserved`, no Stripe id yet) and gets its Stripe id
and state from `upsert` with the key. A payout seen only in webhooks has no key. Stripe's state is
ordered by event time, so an older event never overwrites a newer one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from connect_worker import ledger
from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Database, D1Result, D1Statement, Row
from connect_worker.deps import Deps
from connect_worker.errors import ApiError, stripe_id_conflict
from connect_worker.route import (
    ACCOUNT_ID,
    AMOUNT,
    CURRENCY,
    ID,
    IDEMPOTENCY_KEY,
    UNIX_TIME,
    Body,
    Params,
    Route,
)
from connect_worker.validation import free_text, nullable, optional, required, string

log = logging.getLogger("connect_worker")


class Payout(NamedTuple):
    """The contract's `Payout`: a ledger row as stored (no key or hash for a payout Stripe made on
    its own)."""

    stripe_payout_id: str | None
    organization_id: str
    stripe_account_id: str
    idempotency_key: str | None
    request_hash: str | None
    amount: int
    currency: str
    status: str
    failure_code: str | None
    failure_message: str | None
    arrival_date: int | None
    event_created: int | None
    updated_at: str


class PayoutCreated(NamedTuple):
    created: bool
    payout: Payout


# Whether Stripe's state was written (an older event's is not), and the row as stored.
class PayoutUpdated(NamedTuple):
    updated: bool
    payout: Payout


# Only rows Stripe (or our refusal) finished; `reserved`, `pending` and `in_transit` payouts are
# still moving.
FINAL_STATUSES = ("paid", "failed", "canceled", "refused")
LEDGER = ledger.Ledger("connect_payout", Payout, PayoutCreated, FINAL_STATUSES)
_RESERVE = (
    'INSERT INTO "connect_payout" ("organization_id", "stripe_account_id", "idempotency_key", '
    '"request_hash", "amount", "currency", "status", "updated_at") '
    "SELECT ?, ?, ?, ?, ?, ?, 'reserved', ? "
    'WHERE EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?) '
    'ON CONFLICT ("organization_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL '
    "DO NOTHING"
)
_REFUSE = (
    'UPDATE "connect_payout" SET "status" = \'refused\', "failure_code" = ?, '
    '"failure_message" = ?, "updated_at" = ? '
    'WHERE "organization_id" = ? AND "idempotency_key" = ? AND "status" = \'reserved\''
)

STATUS_COLUMN = '"status"'


def _progress(status: str) -> str:
    """How far along a payout state is: Stripe moves pending → in_transit → paid/failed/canceled."""
    return (
        f"CASE {status} WHEN 'reserved' THEN 0 WHEN 'pending' THEN 1 "
        "WHEN 'in_transit' THEN 2 ELSE 3 END"
    )


def _not_older(table: str) -> str:
    """Stripe's state applies unless the stored one is newer: a later event, or — for two events
    of the same second delivered out of order — a state further along."""
    return (
        f'({table}"event_created" IS NULL OR {table}"event_created" < ?10 '
        f'OR ({table}"event_created" = ?10 AND {_progress(table + STATUS_COLUMN)} '
        f"<= {_progress('?6')}))"
    )


# Upsert parameters, numbered so each statement of the batch can reuse them:
# ?1 stripe_payout_id, ?2 organization_id, ?3 stripe_account_id, ?4 amount, ?5 currency,
# ?6 status, ?7 failure_code, ?8 failure_message, ?9 arrival_date, ?10 event_created,
# ?11 updated_at, ?12 idempotency_key (NULL for a payout not made through us).
_STATE_SET = (
    '"stripe_account_id" = ?3, "amount" = ?4, "currency" = ?5, "status" = ?6, '
    '"failure_code" = ?7, "failure_message" = ?8, "arrival_date" = ?9, "event_created" = ?10, '
    '"updated_at" = ?11'
)
_RESERVATION_WAITING = (
    'SELECT 1 FROM "connect_payout" WHERE "organization_id" = ?2 AND "idempotency_key" = ?12 '
    'AND "stripe_payout_id" IS NULL'
)
# Defensive: a keyless row for this payout (a webhook that lacked our metadata arrived before the
# reservation learnt its Stripe id) would block the reservation's unique Stripe id; fold it in.
_DROP_STRAY = (
    'DELETE FROM "connect_payout" WHERE "stripe_payout_id" = ?1 AND "idempotency_key" IS NULL '
    f'AND "organization_id" = ?2 AND ?12 IS NOT NULL AND EXISTS ({_RESERVATION_WAITING})'
)
_ATTACH = (
    f'UPDATE "connect_payout" SET "stripe_payout_id" = ?1, {_STATE_SET} '
    'WHERE ?12 IS NOT NULL AND "organization_id" = ?2 AND "idempotency_key" = ?12 '
    'AND ("stripe_payout_id" IS NULL OR "stripe_payout_id" = ?1) '
    "AND " + _not_older("")
)
# Everything the keyed statement did not own: payouts not made through us, or a key whose row
# already holds another Stripe payout. Only the organization's own row is ever updated: a payout
# id recorded for another organization is left alone (the handler answers 409).
_UPSERT_BY_STRIPE_ID = (
    'INSERT INTO "connect_payout" ("stripe_payout_id", "organization_id", "stripe_account_id", '
    '"amount", "currency", "status", "failure_code", "failure_message", "arrival_date", '
    '"event_created", "updated_at") '
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 "
    'WHERE NOT EXISTS (SELECT 1 FROM "connect_payout" WHERE ?12 IS NOT NULL '
    'AND "organization_id" = ?2 AND "idempotency_key" = ?12 '
    'AND ("stripe_payout_id" IS NULL OR "stripe_payout_id" = ?1)) '
    'ON CONFLICT ("stripe_payout_id") WHERE "stripe_payout_id" IS NOT NULL DO UPDATE SET '
    + _STATE_SET
    + ' WHERE "connect_payout"."organization_id" = ?2 AND '
    + _not_older('"connect_payout".')
)
_BY_STRIPE_ID = f'{LEDGER.select} WHERE "stripe_payout_id" = ?'


def upsert_statements(
    db: D1Database, values: Mapping[str, Any], *, now_iso: str
) -> list[D1Statement]:
    """Stripe's state of a payout, as a batch (with `idempotency_key`, onto the reservation it
    answers); the last statement reads the row as stored. A caller may append statements that
    must commit with it (`ledger_events.apply_payout` completes the event's claim)."""
    params = (
        values["stripe_payout_id"],
        values["organization_id"],
        values["stripe_account_id"],
        values["amount"],
        values["currency"],
        values["status"],
        values.get("failure_code"),
        values.get("failure_message"),
        values.get("arrival_date"),
        values["event_created"],
        now_iso,
        values.get("idempotency_key"),
    )
    return [
        db.prepare(_DROP_STRAY).bind(*params),
        db.prepare(_ATTACH).bind(*params),
        db.prepare(_UPSERT_BY_STRIPE_ID).bind(*params),
        db.prepare(_BY_STRIPE_ID).bind(values["stripe_payout_id"]),
    ]


def upserted(results: Sequence[D1Result]) -> tuple[bool, Row | None]:
    """Whether `upsert_statements` changed the payout, and its row as stored."""
    return results[1].changes + results[2].changes > 0, results[3].first_row


def owned_row(row: Row | None, body: Mapping[str, Any]) -> Row:
    """The stored row when it is `body`'s organization's; a payout recorded for another one is a
    `stripe_id_conflict` (logged, and that organization's row never returned)."""
    if row is None:  # pragma: no cover - the upsert always leaves a row
        raise ApiError("internal_error", "The payout could not be stored.")
    if row["organization_id"] != body["organization_id"]:
        log.warning(
            "payout %s is recorded for organization %s; a write for %s was refused",
            body["stripe_payout_id"],
            row["organization_id"],
            body["organization_id"],
        )
        raise stripe_id_conflict()
    return row


async def upsert(
    db: D1Database, values: dict[str, Any], *, now_iso: str
) -> tuple[bool, Row | None]:
    """Stripe's state of a payout; with `idempotency_key`, onto the reservation it answers."""
    return upserted(await db.batch(upsert_statements(db, values, now_iso=now_iso)))


# --- routes ---------------------------------------------------------------------------------

STATUSES = ("pending", "in_transit", "paid", "failed", "canceled")
RESERVE_FIELDS = {
    **ledger.RESERVE_FIELDS,
    "amount": required(AMOUNT),
    "currency": required(CURRENCY),
    "stripe_account_id": required(ACCOUNT_ID),
}


async def reserve_payout(deps: Deps, params: Params, body: Body) -> PayoutCreated:
    org_id, key = body["organization_id"], body["idempotency_key"]
    insert = deps.db.prepare(_RESERVE).bind(
        org_id,
        body["stripe_account_id"],
        key,
        body["request_hash"],
        body["amount"],
        body["currency"],
        iso_ms(deps.now()),
        org_id,
    )
    reservation = await LEDGER.reserve(deps.db, insert, organization_id=org_id, key=key)
    return LEDGER.reserved(reservation, body)


REFUSE_FIELDS = {
    **ledger.KEY_FIELDS,
    "failure_code": optional(nullable(string(max_len=128))),
    "failure_message": optional(nullable(free_text(max_len=500))),
}


async def refuse_payout(deps: Deps, params: Params, body: Body) -> Payout:
    """Stripe refused to create the payout: `reserved` → `refused`; a finished row is unchanged."""
    org_id, key = body["organization_id"], body["idempotency_key"]
    update = deps.db.prepare(_REFUSE).bind(
        body.get("failure_code"), body.get("failure_message"), iso_ms(deps.now()), org_id, key
    )
    return await LEDGER.settle(deps.db, update, organization_id=org_id, key=key)


UPSERT_FIELDS = {
    "stripe_payout_id": required(ID),
    "organization_id": required(ID),
    "stripe_account_id": required(ACCOUNT_ID),
    "amount": required(AMOUNT),
    "currency": required(CURRENCY),
    "status": required(string(choices=STATUSES)),
    "failure_code": optional(nullable(string(max_len=128))),
    "failure_message": optional(nullable(free_text(max_len=500))),
    "arrival_date": optional(nullable(UNIX_TIME)),
    "event_created": required(UNIX_TIME),
    "idempotency_key": optional(nullable(IDEMPOTENCY_KEY)),
}


async def upsert_payout(deps: Deps, params: Params, body: Body) -> PayoutUpdated:
    updated, row = await upsert(deps.db, body, now_iso=iso_ms(deps.now()))
    return PayoutUpdated(updated, LEDGER.found(owned_row(row, body)))


ROUTES = {
    ("POST", "/payouts/reserve"): Route(reserve_payout, RESERVE_FIELDS),
    ("GET", "/payouts/{organization_id}/{idempotency_key}"): Route(LEDGER.get, reply="payout"),
    ("POST", "/payouts/refuse"): Route(refuse_payout, REFUSE_FIELDS, reply="payout"),
    ("POST", "/payouts/upsert"): Route(upsert_payout, UPSERT_FIELDS),
}
