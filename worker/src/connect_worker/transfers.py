"""SQL for `connect_transfer`: the platform-fee transfer ledger, unique per idempotency key."""

from __future__ import annotations

from typing import Any

from connect_worker.d1 import D1Database, Row

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
)
_SELECT = ", ".join(f'"{c}"' for c in COLUMNS)
_BY_KEY = (
    f'SELECT {_SELECT} FROM "connect_transfer" '
    'WHERE "organization_id" = ? AND "idempotency_key" = ?'
)
_BY_STRIPE_ID = f'SELECT {_SELECT} FROM "connect_transfer" WHERE "stripe_transfer_id" = ?'
_ORG_EXISTS = 'SELECT 1 AS "found" FROM "organization" WHERE "id" = ?'
_RESERVE = (
    'INSERT INTO "connect_transfer" ("organization_id", "idempotency_key", "request_hash", '
    '"gross_amount", "fee_amount", "net_amount", "currency", "stripe_account_id", "status", '
    '"created_at", "updated_at") '
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ? "
    'WHERE EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?) '
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


def to_api(row: Row) -> dict[str, Any]:
    return {c: row.get(c) for c in COLUMNS}


async def get(db: D1Database, *, organization_id: str, idempotency_key: str) -> Row | None:
    return await db.prepare(_BY_KEY).bind(organization_id, idempotency_key).first()


async def reserve(
    db: D1Database, values: dict[str, Any], *, now_iso: str
) -> tuple[bool, Row | None, bool]:
    """(created, row, organization exists) — insert-if-absent and read back in one batch."""
    org_id, key = values["organization_id"], values["idempotency_key"]
    insert = db.prepare(_RESERVE).bind(
        org_id,
        key,
        values["request_hash"],
        values["gross_amount"],
        values["fee_amount"],
        values["net_amount"],
        values["currency"],
        values["stripe_account_id"],
        now_iso,
        now_iso,
        org_id,
    )
    results = await db.batch(
        [insert, db.prepare(_BY_KEY).bind(org_id, key), db.prepare(_ORG_EXISTS).bind(org_id)]
    )
    row = results[1].rows[0] if results[1].rows else None
    return results[0].changes > 0, row, bool(results[2].rows)


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
    return results[1].rows[0] if results[1].rows else None


async def sync(
    db: D1Database, *, stripe_transfer_id: str, amount_reversed: int, reversed_: bool, now_iso: str
) -> Row | None:
    update = db.prepare(_SYNC).bind(
        amount_reversed, 1 if reversed_ else 0, now_iso, stripe_transfer_id
    )
    results = await db.batch([update, db.prepare(_BY_STRIPE_ID).bind(stripe_transfer_id)])
    return results[1].rows[0] if results[1].rows else None
