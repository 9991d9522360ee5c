"""Better Auth's `organization` table and its Connect columns: the SQL and the routes over it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from connect_worker.config import WorkerConfig
from connect_worker.d1 import Condition, D1Database, D1Error, D1Statement, Row, SqlValue
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.route import ACCOUNT_ID, ID, Body, Params, Route, path_param
from connect_worker.validation import (
    MAX_SAFE_INTEGER,
    Field,
    boolean,
    free_text,
    integer,
    invalid,
    nullable,
    number,
    optional,
    required,
    string,
    string_list,
    validate_object,
)

CONNECT_STATUSES = ("pending", "active", "disabled")
PAYOUT_INTERVALS = ("manual", "daily", "weekly", "monthly")
ACCOUNT_PROFILES = ("express", "custom")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ONBOARDING_STEPS = (
    "account_creation",
    "details_submission",
    "verification",
    "complete",
    "rejected",
)


class Organization(NamedTuple):
    """The contract's `Organization`: the row with 0/1 as bool, JSON text as lists."""

    id: str
    name: str
    slug: str
    stripe_connect_account_id: str | None
    stripe_connect_status: str | None
    onboarding_step: str | None
    onboarding_rejection_reason: str | None
    platform_fee_percent: float
    platform_fee_fixed: int
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_currently_due: list[str]
    requirements_past_due: list[str]
    requirements_disabled_reason: str | None
    requirements_current_deadline: int | None
    stripe_synced_at: int | None
    auto_transfer_payments: bool
    payout_schedule_interval: str
    payout_schedule_delay_days: int | None
    payout_schedule_weekly_anchor: str | None
    payout_schedule_monthly_anchor: int | None
    stripe_connect_account_profile: str | None


COLUMNS = Organization._fields
_BOOL_COLUMNS = frozenset(
    {"charges_enabled", "payouts_enabled", "details_submitted", "auto_transfer_payments"}
)
_LIST_COLUMNS = frozenset({"requirements_currently_due", "requirements_past_due"})

# The only columns a request may write through update-organization, with their specs. Keys of
# the request's `fields` are looked up here; the SQL is built from these literals, never from
# request text.
UPDATE_FIELD_SPECS: dict[str, Field] = {
    "stripe_connect_status": optional(string(choices=CONNECT_STATUSES)),
    "onboarding_step": optional(string(choices=ONBOARDING_STEPS)),
    "onboarding_rejection_reason": optional(nullable(free_text(max_len=500))),
    "charges_enabled": optional(boolean()),
    "payouts_enabled": optional(boolean()),
    "details_submitted": optional(boolean()),
    "requirements_currently_due": optional(string_list()),
    "requirements_past_due": optional(string_list()),
    "requirements_disabled_reason": optional(nullable(string(max_len=256))),
    "requirements_current_deadline": optional(nullable(integer(min_value=0, max_value=2**53))),
    "payout_schedule_interval": optional(string(choices=PAYOUT_INTERVALS)),
    "payout_schedule_delay_days": optional(nullable(integer(min_value=0, max_value=365))),
    "payout_schedule_weekly_anchor": optional(nullable(string(choices=WEEKDAYS))),
    "payout_schedule_monthly_anchor": optional(nullable(integer(min_value=1, max_value=31))),
}
UPDATABLE_COLUMNS = tuple(UPDATE_FIELD_SPECS)


# Better Auth's own columns qualified (the platform may have renamed them: `auth_schema`), the
# Connect columns our migrations add as they are.
_BETTER_AUTH_COLUMNS = ("id", "name", "slug")


def _select_column(column: str) -> str:
    if column == "id":  # a serial id is read as text, as the contract's ids are
        return 'CAST("organization"."id" AS TEXT) AS "id"'
    if column in _BETTER_AUTH_COLUMNS:
        return f'"organization"."{column}" AS "{column}"'
    return f'"{column}"'


_SELECT_COLUMNS = ", ".join(_select_column(c) for c in COLUMNS)
SELECT_BY_ID = f'SELECT {_SELECT_COLUMNS} FROM "organization" WHERE "id" = ?'
SELECT_BY_ACCOUNT = (
    f'SELECT {_SELECT_COLUMNS} FROM "organization" WHERE "stripe_connect_account_id" = ?'
)


def to_model(row: Row) -> Organization:
    """0/1 → bool, JSON text → list, the watermark (stored with the caller's sub-second
    precision) in whole seconds."""
    return Organization._make(
        [convert(row.get(column)) for column, convert in _CONVERTERS]  # in field order
    )


def _json_list(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    if value == "[]":  # the common case, and the column's default
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    return [v for v in parsed if isinstance(v, str)] if isinstance(parsed, list) else []


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _as_is(value: Any) -> Any:
    return value


def _converter(column: str) -> Callable[[Any], Any]:
    if column in _BOOL_COLUMNS:
        return bool
    if column in _LIST_COLUMNS:
        return _json_list
    if column == "platform_fee_percent":
        return _as_float
    if column in ("stripe_synced_at", "requirements_current_deadline"):
        return _as_int
    return _as_is


# Each column's conversion, chosen once rather than tested per column on every row.
_CONVERTERS = tuple((column, _converter(column)) for column in COLUMNS)


def to_db_value(column: str, value: Any) -> SqlValue:
    if column in _BOOL_COLUMNS:
        return 1 if value else 0
    if column in _LIST_COLUMNS:
        return json.dumps(list(value), separators=(",", ":"))
    return value  # type: ignore[no-any-return]


async def get(db: D1Database, organization_id: str) -> Row | None:
    return await db.prepare(SELECT_BY_ID).bind(organization_id).first()


# --- routes ---------------------------------------------------------------------------------


def organization_not_found() -> ApiError:
    return ApiError("organization_not_found", "Organization not found.")


def found(row: Row | None) -> Organization:
    if row is None:
        raise organization_not_found()
    return to_model(row)


async def _write(deps: Deps, update: D1Statement, org_id: str) -> tuple[bool, Organization]:
    """(written, the organization as then stored): the write and the read in one batch (one round
    trip)."""
    results = await deps.db.batch([update, deps.db.prepare(SELECT_BY_ID).bind(org_id)])
    return results[0].changes > 0, found(results[1].first_row)


class OrganizationUpdated(NamedTuple):
    updated: bool
    organization: Organization


class OrganizationCreated(NamedTuple):
    created: bool
    organization: Organization


async def get_organization(deps: Deps, params: Params, body: None) -> Organization:
    org_id = path_param(params, "id")
    return found(await get(deps.db, org_id) if org_id else None)


async def get_organization_by_account(deps: Deps, params: Params, body: None) -> Organization:
    account_id = path_param(params, "stripe_account_id")
    row = await deps.db.prepare(SELECT_BY_ACCOUNT).bind(account_id).first() if account_id else None
    return found(row)


def update_fields_value(value: Any, name: str) -> dict[str, Any]:
    fields = validate_object(value, UPDATE_FIELD_SPECS, name=name)
    if not fields:
        raise invalid(f"`{name}` must hold at least one field.")
    return fields


UPDATE_FIELDS = {
    "organization_id": required(ID),
    "fields": required(update_fields_value),
    # Unix seconds, fractional allowed: two re-reads that start within one second must still be
    # ordered, or the one that started first (and saw the older state) can land last and win.
    "synced_at": optional(nullable(number(min_value=0, max_value=MAX_SAFE_INTEGER))),
}


def update_statement(
    db: D1Database, body: Body, *, only_if: Condition | None = None
) -> D1Statement:
    """Write the allow-listed fields (the SQL names only `UPDATABLE_COLUMNS`), guarded by "only if
    newer" (and by `only_if`, when a caller adds one)."""
    org_id, fields, synced_at = body["organization_id"], body["fields"], body.get("synced_at")
    columns = [c for c in UPDATABLE_COLUMNS if c in fields]
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    extra, extra_values = (f" AND {only_if[0]}", tuple(only_if[1])) if only_if else ("", ())
    return db.prepare(
        f'UPDATE "organization" SET {assignments}, '
        '"stripe_synced_at" = COALESCE(?, "stripe_synced_at") '
        'WHERE "id" = ? AND (? IS NULL OR "stripe_synced_at" IS NULL OR "stripe_synced_at" <= ?)'
        + extra
    ).bind(
        *(to_db_value(c, fields[c]) for c in columns),
        synced_at,
        org_id,
        synced_at,
        synced_at,
        *extra_values,
    )


async def update_organization(deps: Deps, params: Params, body: Body) -> OrganizationUpdated:
    update = update_statement(deps.db, body)
    return OrganizationUpdated(*await _write(deps, update, body["organization_id"]))


CREATE_ACCOUNT_FIELDS = {
    "organization_id": required(ID),
    "stripe_account_id": required(ACCOUNT_ID),
    # The profile the account was created with; a caller from before profiles made Express ones.
    "account_profile": optional(string(choices=ACCOUNT_PROFILES)),
}
# The account id and its profile are stored once, together (the profile is not in the update
# allow-list: it is a fact of the account's creation); the handler tells a no-op from a conflict.
_SET_ACCOUNT = (
    'UPDATE "organization" SET "stripe_connect_account_id" = ?, '
    '"stripe_connect_account_profile" = ?, '
    "\"stripe_connect_status\" = 'pending', \"onboarding_step\" = 'details_submission' "
    'WHERE "id" = ? AND "stripe_connect_account_id" IS NULL AND NOT EXISTS '
    '(SELECT 1 FROM "organization" WHERE "stripe_connect_account_id" = ?)'
)


async def create_connect_account(deps: Deps, params: Params, body: Body) -> OrganizationCreated:
    org_id, account_id = body["organization_id"], body["stripe_account_id"]
    profile = body.get("account_profile", "express")
    try:
        update = deps.db.prepare(_SET_ACCOUNT).bind(account_id, profile, org_id, account_id)
        created, organization = await _write(deps, update, org_id)
    except D1Error as exc:
        if not exc.is_constraint:
            raise
        # Another request stored this account id on another organization in between.
        created, organization = False, found(await get(deps.db, org_id))
    if created or organization.stripe_connect_account_id == account_id:
        return OrganizationCreated(created, organization)
    raise ApiError(
        "account_conflict",
        "The organization already has a different Connect account, or the account belongs to "
        "another organization.",
    )


def _fee_percent(config: WorkerConfig) -> Callable[[Any, str], float]:
    bounded = number(
        min_value=config.platform_fee_min_percent, max_value=config.platform_fee_max_percent
    )

    def check(value: Any, name: str) -> float:
        percent = float(bounded(value, name))
        if abs(round(percent, 2) - percent) > 1e-9:
            raise invalid(f"`{name}` may have at most two decimals.")
        return round(percent, 2)

    return check


MAX_FIXED_FEE = 10_000_000


async def set_platform_fee(deps: Deps, params: Params, body: Any) -> Organization:
    # The percent bounds come from configuration, so this body is validated here, not in the table.
    values = validate_object(
        body,
        {
            "organization_id": required(ID),
            "platform_fee_percent": required(_fee_percent(deps.config)),
            "platform_fee_fixed": optional(integer(min_value=0, max_value=MAX_FIXED_FEE)),
        },
    )
    org_id = values["organization_id"]
    update = deps.db.prepare(
        'UPDATE "organization" SET "platform_fee_percent" = ?, '
        '"platform_fee_fixed" = COALESCE(?, "platform_fee_fixed") WHERE "id" = ?'
    ).bind(values["platform_fee_percent"], values.get("platform_fee_fixed"), org_id)
    return (await _write(deps, update, org_id))[1]


AUTO_TRANSFER_FIELDS = {"organization_id": required(ID), "enabled": required(boolean())}


async def set_auto_transfer(deps: Deps, params: Params, body: Body) -> Organization:
    org_id, enabled = body["organization_id"], 1 if body["enabled"] else 0
    update = deps.db.prepare(
        'UPDATE "organization" SET "auto_transfer_payments" = ? WHERE "id" = ?'
    )
    return (await _write(deps, update.bind(enabled, org_id), org_id))[1]


ROUTES = {
    ("GET", "/organization/{id}"): Route(get_organization, reply="organization"),
    ("GET", "/organization-by-account/{stripe_account_id}"): Route(
        get_organization_by_account, reply="organization"
    ),
    ("POST", "/update-organization"): Route(update_organization, UPDATE_FIELDS),
    ("POST", "/create-connect-account"): Route(create_connect_account, CREATE_ACCOUNT_FIELDS),
    ("POST", "/set-platform-fee"): Route(set_platform_fee, reply="organization"),
    ("POST", "/set-auto-transfer"): Route(
        set_auto_transfer, AUTO_TRANSFER_FIELDS, reply="organization"
    ),
}
