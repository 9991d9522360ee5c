"""SQL for `connect_payment`: payments the platform collected for an organization, and how much
of each the transfer ledger has paid out (kept by triggers on `connect_transfer`)."""

from __future__ import annotations

from typing import Any

from connect_worker.d1 import D1Database, D1Statement, Row

COLUMNS = (
    "payment_intent_id",
    "organization_id",
    "charge_id",
    "amount",
    "amount_refunded",
    "amount_transferred",
    "transfer_count",
    "currency",
    "status",
    "created",
    "updated_at",
)
_SELECT = ", ".join(f'"{c}"' for c in COLUMNS)
BY_CHARGE = f'SELECT {_SELECT} FROM "connect_payment" WHERE "charge_id" = ?'
BY_INTENT = f'SELECT {_SELECT} FROM "connect_payment" WHERE "payment_intent_id" = ?'
# Stripe's view of the payment, newest wins except that refunds only ever add up. The row keeps
# the organization it was first recorded for: a later record naming another one changes nothing.
_RECORD = (
    'INSERT INTO "connect_payment" ("payment_intent_id", "organization_id", "charge_id", '
    '"amount", "amount_refunded", "currency", "status", "created", "updated_at") '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    'ON CONFLICT ("payment_intent_id") DO UPDATE SET '
    '"charge_id" = COALESCE("connect_payment"."charge_id", excluded."charge_id"), '
    '"amount_refunded" = MAX("connect_payment"."amount_refunded", excluded."amount_refunded"), '
    '"status" = excluded."status", "updated_at" = excluded."updated_at" '
    'WHERE "connect_payment"."organization_id" = excluded."organization_id" '
    'AND "connect_payment"."currency" = excluded."currency" '
    'AND "connect_payment"."amount" = excluded."amount"'
)
_UNTRANSFERRED = (
    f'SELECT {_SELECT} FROM "connect_payment" WHERE "organization_id" = ? '
    'AND "status" = \'succeeded\' AND "charge_id" IS NOT NULL '
    'AND "amount" - "amount_refunded" - "amount_transferred" > 0 '
    'ORDER BY "created" DESC, "payment_intent_id" LIMIT ?'
)


def to_api(row: Row) -> dict[str, Any]:
    out = {c: row.get(c) for c in COLUMNS}
    out["amount_remaining"] = max(
        int(row["amount"]) - int(row["amount_refunded"]) - int(row["amount_transferred"]), 0
    )
    return out


def record_statement(db: D1Database, values: dict[str, Any], *, now_iso: str) -> D1Statement:
    return db.prepare(_RECORD).bind(
        values["payment_intent_id"],
        values["organization_id"],
        values.get("charge_id"),
        values["amount"],
        values["amount_refunded"],
        values["currency"],
        values["status"],
        values["created"],
        now_iso,
    )


async def record(
    db: D1Database, values: dict[str, Any], *, now_iso: str
) -> tuple[bool, Row | None]:
    """(written, row as stored)."""
    results = await db.batch(
        [
            record_statement(db, values, now_iso=now_iso),
            db.prepare(BY_INTENT).bind(values["payment_intent_id"]),
        ]
    )
    return results[0].changes > 0, results[1].first_row


async def untransferred(db: D1Database, organization_id: str, *, limit: int) -> list[Row]:
    return await db.prepare(_UNTRANSFERRED).bind(organization_id, limit).all()
