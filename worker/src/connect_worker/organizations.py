"""SQL for Better Auth's `organization` table and its Connect columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connect_worker.d1 import D1Database, D1Result, Row, SqlValue

CONNECT_STATUSES = ("pending", "active", "disabled")
ONBOARDING_STEPS = (
    "account_creation",
    "details_submission",
    "verification",
    "complete",
    "rejected",
)

COLUMNS = (
    "id",
    "name",
    "slug",
    "stripe_connect_account_id",
    "stripe_connect_status",
    "onboarding_step",
    "onboarding_rejection_reason",
    "platform_fee_percent",
    "platform_fee_fixed",
    "charges_enabled",
    "payouts_enabled",
    "details_submitted",
    "requirements_currently_due",
    "requirements_past_due",
    "requirements_disabled_reason",
    "requirements_current_deadline",
    "stripe_synced_at",
    "auto_transfer_payments",
)
_BOOL_COLUMNS = frozenset(
    {"charges_enabled", "payouts_enabled", "details_submitted", "auto_transfer_payments"}
)
_LIST_COLUMNS = frozenset({"requirements_currently_due", "requirements_past_due"})

# The only columns a request may write through update-organization. Keys of the request's `fields`
# are looked up here; the SQL is built from these literals, never from request text.
UPDATABLE_COLUMNS = (
    "stripe_connect_status",
    "onboarding_step",
    "onboarding_rejection_reason",
    "charges_enabled",
    "payouts_enabled",
    "details_submitted",
    "requirements_currently_due",
    "requirements_past_due",
    "requirements_disabled_reason",
    "requirements_current_deadline",
)


def select_columns(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c}"' for c in COLUMNS)


SELECT_BY_ID = f'SELECT {select_columns()} FROM "organization" WHERE "id" = ?'
SELECT_BY_ACCOUNT = (
    f'SELECT {select_columns()} FROM "organization" WHERE "stripe_connect_account_id" = ?'
)


def to_api(row: Row) -> dict[str, Any]:
    """The contract's `Organization` from a row: 0/1 → bool, JSON text → list."""
    out: dict[str, Any] = {}
    for column in COLUMNS:
        value = row.get(column)
        if column in _BOOL_COLUMNS:
            value = bool(value)
        elif column in _LIST_COLUMNS:
            value = _json_list(value)
        elif column == "platform_fee_percent" and value is not None:
            value = float(value)
        elif column in ("stripe_synced_at", "requirements_current_deadline") and value is not None:
            value = int(value)  # stored with the caller's sub-second precision; shown in seconds
        out[column] = value
    return out


def _json_list(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    return [v for v in parsed if isinstance(v, str)] if isinstance(parsed, list) else []


def to_db_value(column: str, value: Any) -> SqlValue:
    if column in _BOOL_COLUMNS:
        return 1 if value else 0
    if column in _LIST_COLUMNS:
        return json.dumps(list(value), separators=(",", ":"))
    return value  # type: ignore[no-any-return]


async def get(db: D1Database, organization_id: str) -> Row | None:
    return await db.prepare(SELECT_BY_ID).bind(organization_id).first()


async def get_by_account(db: D1Database, stripe_account_id: str) -> Row | None:
    return await db.prepare(SELECT_BY_ACCOUNT).bind(stripe_account_id).first()


async def update_fields(
    db: D1Database, organization_id: str, fields: Mapping[str, Any], *, synced_at: float | None
) -> tuple[bool, Row | None]:
    """Write allow-listed fields, guarded by "only if newer"; returns (updated, stored row)."""
    columns = [c for c in UPDATABLE_COLUMNS if c in fields]
    if len(columns) != len(fields):
        raise ValueError("update_fields got a column outside the allow-list")
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    update = db.prepare(
        f'UPDATE "organization" SET {assignments}, '
        '"stripe_synced_at" = COALESCE(?, "stripe_synced_at") '
        'WHERE "id" = ? AND (? IS NULL OR "stripe_synced_at" IS NULL OR "stripe_synced_at" <= ?)'
    ).bind(
        *(to_db_value(c, fields[c]) for c in columns),
        synced_at,
        organization_id,
        synced_at,
        synced_at,
    )
    results = await db.batch([update, db.prepare(SELECT_BY_ID).bind(organization_id)])
    return results[0].changes > 0, _first(results[1])


async def set_connect_account(
    db: D1Database, organization_id: str, stripe_account_id: str
) -> tuple[bool, Row | None]:
    """Store the account id once; (stored now, row). The caller decides no-op vs conflict."""
    update = db.prepare(
        'UPDATE "organization" SET "stripe_connect_account_id" = ?, '
        "\"stripe_connect_status\" = 'pending', \"onboarding_step\" = 'details_submission' "
        'WHERE "id" = ? AND "stripe_connect_account_id" IS NULL AND NOT EXISTS '
        '(SELECT 1 FROM "organization" WHERE "stripe_connect_account_id" = ?)'
    ).bind(stripe_account_id, organization_id, stripe_account_id)
    results = await db.batch([update, db.prepare(SELECT_BY_ID).bind(organization_id)])
    return results[0].changes > 0, _first(results[1])


async def set_platform_fee(
    db: D1Database, organization_id: str, *, percent: float, fixed: int | None
) -> Row | None:
    update = db.prepare(
        'UPDATE "organization" SET "platform_fee_percent" = ?, '
        '"platform_fee_fixed" = COALESCE(?, "platform_fee_fixed") WHERE "id" = ?'
    ).bind(percent, fixed, organization_id)
    results = await db.batch([update, db.prepare(SELECT_BY_ID).bind(organization_id)])
    return _first(results[1])


async def set_auto_transfer(db: D1Database, organization_id: str, *, enabled: bool) -> Row | None:
    update = db.prepare('UPDATE "organization" SET "auto_transfer_payments" = ? WHERE "id" = ?')
    results = await db.batch(
        [
            update.bind(1 if enabled else 0, organization_id),
            db.prepare(SELECT_BY_ID).bind(organization_id),
        ]
    )
    return _first(results[1])


def _first(result: D1Result) -> Row | None:
    return result.first_row
