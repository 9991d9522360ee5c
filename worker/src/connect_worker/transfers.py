"""SQL for `connect_transfer`: the platform-fee transfer ledger, unique per idempotency key.

A transfer backed by a payment names its charge (`source_transaction`); its reservation is one
conditional INSERT that succeeds only while enough of the payment is left, and a trigger adds the
row's gross to the payment's `amount_transferred` in the same statement, so two reservations
racing for one payment can never both take the same money."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connect_worker import payments
from connect_worker.d1 import D1Database, D1Statement, Row
from connect_worker.ledger import reserve_once

COLUMNS = (
    "organization_id",
    "idempotency_key",
    "request_hash",
    "gross_amount",
    "fee_amount",
    "net_amount",
    "currency",
    "stripe_account_id",
    "stripe_transfer_id",
    "status",
    "amount_reversed",
    "failure_message",
    "created_at",
    "updated_at",
    "source_transaction",
    "source_seq",
    "reason",
    "initiated_by",
)
_SELECT = ", ".join(f'"{c}"' for c in COLUMNS)
_BY_KEY = (
    f'SELECT {_SELECT} FROM "connect_transfer" '
    'WHERE "organization_id" = ? AND "idempotency_key" = ?'
)
_BY_STRIPE_ID = f'SELECT {_SELECT} FROM "connect_transfer" WHERE "stripe_transfer_id" = ?'
_INSERT = (
    'INSERT INTO "connect_transfer" ("organization_id", "idempotency_key", "request_hash", '
    '"gross_amount", "fee_amount", "net_amount", "currency", "stripe_account_id", "status", '
    '"created_at", "updated_at", "source_transaction", "source_seq", "reason", "initiated_by") '
)
# An adjustment: no payment behind it, only the organization must exist.
_RESERVE = (
    _INSERT + "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9, NULL, NULL, ?10, ?11 "
    'WHERE EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?1) '
    'ON CONFLICT ("organization_id", "idempotency_key") DO NOTHING'
)
# A payment's transfer: only if the payment is this organization's, succeeded, in this currency
# and at least `gross` of it is neither refunded nor already transferred (?12 is the charge).
_RESERVE_FROM_SOURCE = (
    _INSERT + "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9, ?12, "
    'p."transfer_count" + 1, ?10, ?11 FROM "connect_payment" AS p '
    'WHERE p."charge_id" = ?12 AND p."organization_id" = ?1 AND p."currency" = ?7 '
    "AND p.\"status\" = 'succeeded' "
    'AND p."amount" - p."amount_refunded" - p."amount_transferred" >= ?4 '
    'AND EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?1) '
    'ON CONFLICT ("organization_id", "idempotency_key") DO NOTHING'
)
_COMPLETE = (
    'UPDATE "connect_transfer" SET "status" = ?, '
    '"stripe_transfer_id" = COALESCE(?, "stripe_transfer_id"), "failure_message" = ?, '
    '"updated_at" = ? WHERE "organization_id" = ? AND "idempotency_key" = ? '
    "AND \"status\" = 'pending'"
)
# Reversals only ever add up, and Stripe delivers out of order: the amount never goes down.
_SYNC = (
    'UPDATE "connect_transfer" SET "amount_reversed" = MAX("amount_reversed", ?), '
    '"status" = CASE WHEN ? = 1 THEN \'reversed\' ELSE "status" END, "updated_at" = ? '
    'WHERE "stripe_transfer_id" = ?'
)

# Retention: only finished rows; a `pending` row is money whose outcome is still unknown.
FINAL_STATUSES = ("succeeded", "failed", "reversed")
_PRUNE = 'DELETE FROM "connect_transfer" WHERE "status" IN (?, ?, ?) AND "updated_at" < ?'

# A transfer Stripe made for a `pending` row whose request died before `complete`: the row takes
# it only if it is still pending, holds no Stripe id, and the money fields match; and only if no
# row holds this Stripe transfer already (?1 is unique).
_ADOPT = (
    'UPDATE "connect_transfer" SET "status" = \'succeeded\', "stripe_transfer_id" = ?1, '
    '"failure_message" = NULL, "updated_at" = ?2 '
    'WHERE "organization_id" = ?3 AND "idempotency_key" = ?4 AND "status" = \'pending\' '
    'AND "stripe_transfer_id" IS NULL AND "net_amount" = ?5 AND "currency" = ?6 '
    'AND "stripe_account_id" = ?7 '
    'AND NOT EXISTS (SELECT 1 FROM "connect_transfer" WHERE "stripe_transfer_id" = ?1)'
)


def to_api(row: Row) -> dict[str, Any]:
    return {c: row.get(c) for c in COLUMNS}


async def get(db: D1Database, *, organization_id: str, idempotency_key: str) -> Row | None:
    return await db.prepare(_BY_KEY).bind(organization_id, idempotency_key).first()


def _bind_reserve(db: D1Database, sql: str, values: dict[str, Any], now_iso: str) -> D1Statement:
    bound = [
        values["organization_id"],
        values["idempotency_key"],
        values["request_hash"],
        values["gross_amount"],
        values["fee_amount"],
        values["net_amount"],
        values["currency"],
        values["stripe_account_id"],
        now_iso,
        values.get("reason"),
        values.get("initiated_by"),
    ]
    if sql is _RESERVE_FROM_SOURCE:
        bound.append(values["source_transaction"])
    return db.prepare(sql).bind(*bound)


async def reserve(
    db: D1Database, values: dict[str, Any], *, now_iso: str
) -> tuple[bool, Row | None, bool]:
    """An adjustment (no source): (created, row, organization exists); see `ledger.reserve_once`."""
    org_id, key = values["organization_id"], values["idempotency_key"]
    insert = _bind_reserve(db, _RESERVE, values, now_iso)
    return await reserve_once(db, insert, by_key_sql=_BY_KEY, organization_id=org_id, key=key)


@dataclass(frozen=True, slots=True)
class SourceReservation:
    created: bool
    row: Row | None  # the ledger row under (organization, idempotency key), new or earlier
    organization_exists: bool
    payment: Row | None  # the payment as stored after this request's record of it


async def reserve_from_source(
    db: D1Database, values: dict[str, Any], payment: dict[str, Any], *, now_iso: str
) -> SourceReservation:
    """Record the payment as Stripe shows it now, then reserve `gross` of it: one batch (one
    transaction), so the check of what is left and the taking of it cannot be split by another
    request."""
    org_id, key = values["organization_id"], values["idempotency_key"]
    results = await db.batch(
        [
            payments.record_statement(db, payment, now_iso=now_iso),
            _bind_reserve(db, _RESERVE_FROM_SOURCE, values, now_iso),
            db.prepare(_BY_KEY).bind(org_id, key),
            db.prepare('SELECT 1 AS "found" FROM "organization" WHERE "id" = ?').bind(org_id),
            db.prepare(payments.BY_CHARGE).bind(values["source_transaction"]),
        ]
    )
    return SourceReservation(
        created=results[1].changes > 0,
        row=results[2].first_row,
        organization_exists=bool(results[3].rows),
        payment=results[4].first_row,
    )


async def complete(
    db: D1Database,
    *,
    organization_id: str,
    idempotency_key: str,
    status: str,
    stripe_transfer_id: str | None,
    failure_message: str | None,
    now_iso: str,
) -> Row | None:
    update = db.prepare(_COMPLETE).bind(
        status, stripe_transfer_id, failure_message, now_iso, organization_id, idempotency_key
    )
    results = await db.batch([update, db.prepare(_BY_KEY).bind(organization_id, idempotency_key)])
    return results[1].first_row


@dataclass(frozen=True, slots=True)
class StripeOrigin:
    """What a Stripe transfer says about the ledger row it was made for: the metadata the backend
    puts on it (`organization_id`, `idempotency_key`) and the transfer's own money fields."""

    organization_id: str
    idempotency_key: str
    amount: int
    currency: str
    destination: str


@dataclass(frozen=True, slots=True)
class SyncResult:
    row: Row | None  # the row holding this Stripe transfer, after the update
    named_row: Row | None  # the row the metadata names (None without metadata or no such row)


async def sync(
    db: D1Database,
    *,
    stripe_transfer_id: str,
    amount_reversed: int,
    reversed_: bool,
    origin: StripeOrigin | None,
    now_iso: str,
) -> SyncResult:
    """Apply Stripe's reversal state; with `origin`, first let a `pending` row whose backend died
    after Stripe made the transfer take it (one batch, so the row is never half-finished)."""
    statements: list[D1Statement] = []
    if origin is not None:
        statements.append(
            db.prepare(_ADOPT).bind(
                stripe_transfer_id,
                now_iso,
                origin.organization_id,
                origin.idempotency_key,
                origin.amount,
                origin.currency,
                origin.destination,
            )
        )
    statements += [
        db.prepare(_SYNC).bind(amount_reversed, 1 if reversed_ else 0, now_iso, stripe_transfer_id),
        db.prepare(_BY_STRIPE_ID).bind(stripe_transfer_id),
    ]
    if origin is not None:
        statements.append(db.prepare(_BY_KEY).bind(origin.organization_id, origin.idempotency_key))
    results = await db.batch(statements)
    by_id = results[len(statements) - 2 if origin is not None else -1].rows
    named = results[-1].rows if origin is not None else []
    return SyncResult(row=by_id[0] if by_id else None, named_row=named[0] if named else None)


async def prune(db: D1Database, *, updated_before: str) -> int:
    return (await db.prepare(_PRUNE).bind(*FINAL_STATUSES, updated_before).run()).changes
