"""What the transfer and payout ledgers share: reserving a row under (organization, idempotency
key) exactly once."""

from __future__ import annotations

from connect_worker.d1 import D1Database, D1Statement, Row

_ORG_EXISTS = 'SELECT 1 AS "found" FROM "organization" WHERE "id" = ?'


async def reserve_once(
    db: D1Database, insert: D1Statement, *, by_key_sql: str, organization_id: str, key: str
) -> tuple[bool, Row | None, bool]:
    """(created, row, organization exists): the insert-if-absent, the row as now stored and the
    organization check in one batch, so a concurrent reservation of the same key reads the
    winner's row."""
    results = await db.batch(
        [
            insert,
            db.prepare(by_key_sql).bind(organization_id, key),
            db.prepare(_ORG_EXISTS).bind(organization_id),
        ]
    )
    return results[0].changes > 0, results[1].first_row, bool(results[2].rows)
