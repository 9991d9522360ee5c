"""SQL for `connect_payout`: the latest Stripe state of each payout, ordered by event time."""

from __future__ import annotations

from typing import Any

from connect_worker.d1 import D1Database, Row

COLUMNS = (
    "stripe_payout_id",
    "organization_id",
    "stripe_account_id",
    "amount",
    "currency",
    "status",
    "failure_code",
    "failure_message",
    "arrival_date",
    "event_created",
    "updated_at",
)
_WRITABLE = COLUMNS[:-1]
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)
_SELECT = f'SELECT {_QUOTED} FROM "connect_payout" WHERE "stripe_payout_id" = ?'
_UPSERT = (
    f'INSERT INTO "connect_payout" ({_QUOTED}) '
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) "
    'ON CONFLICT ("stripe_payout_id") DO UPDATE SET '
    + ", ".join(f'"{c}" = excluded."{c}"' for c in COLUMNS[1:])
    + ' WHERE excluded."event_created" >= "connect_payout"."event_created"'
)


def to_api(row: Row) -> dict[str, Any]:
    return {c: row.get(c) for c in COLUMNS}


async def upsert(
    db: D1Database, values: dict[str, Any], *, now_iso: str
) -> tuple[bool, Row | None]:
    insert = db.prepare(_UPSERT).bind(*(values.get(c) for c in _WRITABLE), now_iso)
    results = await db.batch([insert, db.prepare(_SELECT).bind(values["stripe_payout_id"])])
    return results[0].changes > 0, results[1].rows[0] if results[1].rows else None
