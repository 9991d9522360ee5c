"""SQL for `connect_payment`: payments the platform collected for an organization, and how much
of each the transfer ledger has paid out (kept by triggers on `connect_transfer`)."""

from __future__ import annotations

from typing import Any, NamedTuple

from connect_worker.clock import iso_ms
from connect_worker.d1 import Condition, D1Database, D1Statement, Row, quoted
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.route import AMOUNT, CURRENCY, ID, Params, Route, from_row, path_param
from connect_worker.validation import (
    Field,
    integer,
    invalid,
    nullable,
    optional,
    required,
    string,
    validate_object,
)


class Payment(NamedTuple):
    """The contract's `Payment`; `amount_remaining` is what is left to transfer, never below 0
    (and 0 while a dispute stands)."""

    payment_intent_id: str
    organization_id: str
    charge_id: str | None
    amount: int
    amount_refunded: int
    amount_transferred: int
    transfer_count: int
    currency: str
    status: str
    created: int
    updated_at: str
    amount_disputed: int
    dispute_id: str | None
    dispute_status: str | None
    returns_version: int
    amount_remaining: int


COLUMNS = Payment._fields[:-1]  # all but the computed amount_remaining
_SELECT = quoted(COLUMNS)
BY_CHARGE = f'SELECT {_SELECT} FROM "connect_payment" WHERE "charge_id" = ?'
BY_INTENT = f'SELECT {_SELECT} FROM "connect_payment" WHERE "payment_intent_id" = ?'
# Stripe's view of the payment, newest wins except that refunds only ever add up. The row keeps
# the organization it was first recorded for: a later record naming another one changes nothing.
_INSERT = (
    'INSERT INTO "connect_payment" ("payment_intent_id", "organization_id", "charge_id", '
    '"amount", "amount_refunded", "currency", "status", "created", "updated_at") '
)
# A dispute not settled in the organization's favour stops every transfer of the payment.
SETTLED_DISPUTES = ("won", "warning_closed", "prevented")
NOT_DISPUTED = (
    '("dispute_status" IS NULL OR "dispute_status" IN '
    f"({', '.join(repr(s) for s in SETTLED_DISPUTES)}))"
)
_REFUNDED_ONLY_GROWS = 'MAX("connect_payment"."amount_refunded", excluded."amount_refunded")'
_UPSERT = (
    'ON CONFLICT ("payment_intent_id") DO UPDATE SET '
    '"charge_id" = COALESCE("connect_payment"."charge_id", excluded."charge_id"), '
    '"amount_refunded" = {refunded}, '
    '"status" = excluded."status", "updated_at" = excluded."updated_at" '
    'WHERE "connect_payment"."organization_id" = excluded."organization_id" '
    'AND "connect_payment"."currency" = excluded."currency" '
    'AND "connect_payment"."amount" = excluded."amount"'
)
_RECORD_ANY = _INSERT + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " + _UPSERT
# By `refunds_exact` (see `record_statement`), built once.
_RECORD = {
    False: _RECORD_ANY.replace("{refunded}", _REFUNDED_ONLY_GROWS),
    True: _RECORD_ANY.replace("{refunded}", 'excluded."amount_refunded"'),
}
# The same, only if a caller's condition holds: an INSERT … SELECT, whose WHERE (always present)
# also keeps SQLite from reading the upsert's ON as a join's.
_RECORD_IF = _INSERT + "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE {condition} " + _UPSERT
# What is left of a payment to transfer (SQL over its own columns, possibly aliased).
LEFT = '"amount" - "amount_refunded" - "amount_disputed" - "amount_transferred"'
_UNTRANSFERRED = (
    f'SELECT {_SELECT} FROM "connect_payment" WHERE "organization_id" = ? '
    'AND "status" = \'succeeded\' AND "charge_id" IS NOT NULL '
    # What is left to transfer; or, under a dispute not won, what would be left without it (the
    # payment is listed, its `amount_remaining` 0, so owners see why it waits).
    f'AND ({LEFT} > 0 OR (NOT {NOT_DISPUTED} AND "amount" - "amount_refunded" - '
    '"amount_transferred" > 0)) '
    'ORDER BY "created" DESC, "payment_intent_id" LIMIT ?'
)


def disputed(row: Row) -> bool:
    status = row.get("dispute_status")
    return status is not None and status not in SETTLED_DISPUTES


def to_model(row: Row) -> Payment:
    left = (
        int(row["amount"])
        - int(row["amount_refunded"])
        - int(row["amount_disputed"] or 0)
        - int(row["amount_transferred"])
    )
    return from_row(Payment, row, amount_remaining=0 if disputed(row) else max(left, 0))


def record_statement(
    db: D1Database,
    values: dict[str, Any],
    *,
    now_iso: str,
    only_if: Condition | None = None,
    refunds_exact: bool = False,
) -> D1Statement:
    """Record the payment; with `only_if`, only when that condition holds (nothing otherwise).
    Refunds only add up, except with `refunds_exact` (a refund event's fresh read of the charge:
    a refund that failed or was canceled gave its money back)."""
    if only_if is None:
        sql = _RECORD[refunds_exact]
    else:
        refunded = 'excluded."amount_refunded"' if refunds_exact else _REFUNDED_ONLY_GROWS
        sql = _RECORD_IF.replace("{condition}", only_if[0]).replace("{refunded}", refunded)
    return db.prepare(sql).bind(
        values["payment_intent_id"],
        values["organization_id"],
        values.get("charge_id"),
        values["amount"],
        values["amount_refunded"],
        values["currency"],
        values["status"],
        values["created"],
        now_iso,
        *(only_if[1] if only_if is not None else ()),
    )


CHARGE_ID = string(pattern=r"ch_[A-Za-z0-9]{1,100}")
FIELDS: dict[str, Field] = {
    "payment_intent_id": required(string(pattern=r"pi_[A-Za-z0-9]{1,100}")),
    "organization_id": required(ID),
    "charge_id": optional(nullable(CHARGE_ID)),
    "amount": required(AMOUNT),
    "amount_refunded": required(AMOUNT),
    "currency": required(CURRENCY),
    "status": required(string(max_len=64)),
    "created": required(integer(min_value=0, max_value=2**53)),
}


def payment(value: Any, name: str) -> dict[str, Any]:
    """A payment as Stripe shows it; a validator, so a transfer's body can carry one too."""
    return refunds_within_amount(validate_object(value, FIELDS, name=name), f"{name}.")


def refunds_within_amount(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The one check `FIELDS` cannot make alone (`prefix`: where the fields sit in the body)."""
    if values["amount_refunded"] > values["amount"]:
        raise invalid(f"`{prefix}amount_refunded` exceeds `{prefix}amount`.")
    return values


async def record_payment(deps: Deps, params: Params, body: Any) -> Payment:
    """A payment as Stripe shows it (a `payment_intent.succeeded` or `charge.refunded` event, or
    the creation route): stored for the organization its metadata names. A payment already
    recorded for another organization, or with other money fields, is a 409."""
    values = payment(body, "body")
    record = record_statement(deps.db, values, now_iso=iso_ms(deps.now()))
    read = deps.db.prepare(BY_INTENT).bind(values["payment_intent_id"])
    recorded, stored = await deps.db.batch([record, read])
    row = stored.first_row
    if row is None:  # pragma: no cover - the upsert always leaves a row
        raise ApiError("internal_error", "The payment could not be stored.")
    if recorded.changes == 0:
        raise payment_conflict()
    return to_model(row)


def payment_conflict() -> ApiError:
    return ApiError(
        "payment_conflict",
        "This payment is recorded for another organization or with other amounts.",
    )


MAX_PAYMENT_LIST = 100


async def list_untransferred(deps: Deps, params: Params, body: None) -> list[Payment]:
    """The organization's succeeded payments with something left to transfer (or that a dispute
    holds back), newest first."""
    org_id = path_param(params, "organization_id")
    if org_id is None:
        return []
    rows = await deps.db.prepare(_UNTRANSFERRED).bind(org_id, MAX_PAYMENT_LIST).all()
    return [to_model(r) for r in rows]


ROUTES = {
    ("POST", "/payments/record"): Route(record_payment, reply="payment"),
    ("GET", "/payments/{organization_id}/untransferred"): Route(
        list_untransferred, reply="payments"
    ),
}
