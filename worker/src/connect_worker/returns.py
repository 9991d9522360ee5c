"""`connect_return` and `connect_debt_line`: a payment's money coming back (reversals of its
transfers, reinstatements after a dispute won), the organization's debts when Stripe refuses a
reversal, and the routes that reserve, settle and show them.

The backend plans a payment's returns from `returns/{charge_id}` (`backend/money/money_back.py`) and
reserves the plan under the payment's `returns_version`: every statement of the reservation's
batch is guarded by that version and the last one bumps it, so two plans made from one state (two
refund events racing) cannot both move the money — the second is a 409 and plans again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from connect_worker import payments, transfers
from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Statement, Row, quoted
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.route import ID, IDEMPOTENCY_KEY, Body, Params, Route, path_param
from connect_worker.validation import (
    Field,
    free_text,
    integer,
    invalid,
    nullable,
    optional,
    required,
    string,
    validate_object,
)


class Return(NamedTuple):
    """The contract's `Return`; `amount_owed` is computed (what an `owed` row still owes)."""

    id: int
    organization_id: str
    source_transaction: str
    stripe_transfer_id: str
    kind: str
    cause: str
    cause_id: str
    idempotency_key: str
    amount: int
    currency: str
    status: str
    stripe_object_id: str | None
    amount_reversed: int
    amount_recovered: int
    amount_forgiven: int
    amount_owed: int
    attempts: int
    reversing_transfer: str | None
    reversing_amount: int | None
    failure_message: str | None
    created_at: str
    updated_at: str


class DebtLine(NamedTuple):
    id: int
    return_id: int
    kind: str
    amount: int
    reference: str
    created_at: str


COLUMNS = tuple(name for name in Return._fields if name != "amount_owed")
SELECT_RETURNS = f'SELECT {quoted(COLUMNS)} FROM "connect_return"'
SELECT_LINES = f'SELECT {quoted(DebtLine._fields)} FROM "connect_debt_line"'
OUTSTANDING = '"amount" - "amount_reversed" - "amount_recovered" - "amount_forgiven"'
MAX_PARTS = 20


def to_model(row: Row) -> Return:
    owed = 0
    if row["status"] == "owed":
        owed = int(row["amount"]) - int(row["amount_reversed"])
        owed -= int(row["amount_recovered"]) + int(row["amount_forgiven"])
    return Return._make(owed if n == "amount_owed" else row.get(n) for n in Return._fields)


def line_of(row: Row) -> DebtLine:
    return DebtLine._make(row.get(n) for n in DebtLine._fields)


def payment_not_found() -> ApiError:
    return ApiError("payment_not_found", "No payment is recorded for this charge.")


# --- the state a plan is made from ------------------------------------------------------------


class ReturnsState(NamedTuple):
    payment: payments.Payment
    transfers: list[transfers.Transfer]
    returns: list[Return]


_TRANSFERS_OF = (
    f'{transfers.LEDGER.select} WHERE "source_transaction" = ? AND "status" != \'failed\' '
    'ORDER BY "id"'
)
_RETURNS_OF = f'{SELECT_RETURNS} WHERE "source_transaction" = ? ORDER BY "id"'


async def returns_state(deps: Deps, params: Params, body: None) -> ReturnsState:
    charge = path_param(params, "charge_id")
    if charge is None:
        raise payment_not_found()
    db = deps.db
    payment, made, returned = await db.batch(
        [
            db.prepare(payments.BY_CHARGE).bind(charge),
            db.prepare(_TRANSFERS_OF).bind(charge),
            db.prepare(_RETURNS_OF).bind(charge),
        ]
    )
    if payment.first_row is None:
        raise payment_not_found()
    return ReturnsState(
        payments.to_model(payment.first_row),
        [transfers.LEDGER.found(r) for r in made.rows],
        [to_model(r) for r in returned.rows],
    )


# --- reserving a plan -------------------------------------------------------------------------

_INSERT_PART = (
    'INSERT INTO "connect_return" ("organization_id", "source_transaction", "stripe_transfer_id", '
    '"kind", "cause", "cause_id", "idempotency_key", "amount", "currency", "status", '
    '"created_at", "updated_at") '
    'SELECT p."organization_id", p."charge_id", ?1, ?2, ?3, ?4, ?5, ?6, p."currency", ?7, ?8, ?8 '
    'FROM "connect_payment" AS p WHERE p."charge_id" = ?9 AND p."returns_version" = ?10 '
    'AND (EXISTS (SELECT 1 FROM "connect_transfer" AS t WHERE t."stripe_transfer_id" = ?1 '
    'AND t."source_transaction" = p."charge_id") '
    # ... or the transfer a reinstatement of this payment made (reversible in its turn).
    'OR EXISTS (SELECT 1 FROM "connect_return" AS r WHERE r."stripe_object_id" = ?1 '
    'AND r."kind" = \'reinstatement\' AND r."source_transaction" = p."charge_id")) '
    'ON CONFLICT ("idempotency_key") DO NOTHING'
)
_FORGIVE_LINE = (
    'INSERT INTO "connect_debt_line" ("return_id", "organization_id", "kind", "amount", '
    '"reference", "created_at") '
    'SELECT "id", "organization_id", \'forgiven\', ?1, ?2, ?3 FROM "connect_return" '
    f'WHERE "id" = ?4 AND "source_transaction" = ?5 AND "status" = \'owed\' '
    f'AND {OUTSTANDING} >= ?1 AND EXISTS (SELECT 1 FROM "connect_payment" '
    'WHERE "charge_id" = ?5 AND "returns_version" = ?6) '
    'ON CONFLICT ("return_id", "reference") DO NOTHING'
)
_FORGIVE = (
    'UPDATE "connect_return" SET "amount_forgiven" = "amount_forgiven" + ?1, '
    f'"status" = CASE WHEN {OUTSTANDING} - ?1 <= 0 THEN \'done\' ELSE "status" END, '
    '"updated_at" = ?2 '
    f'WHERE "id" = ?3 AND "source_transaction" = ?4 AND "status" = \'owed\' '
    f'AND {OUTSTANDING} >= ?1 AND EXISTS (SELECT 1 FROM "connect_payment" '
    'WHERE "charge_id" = ?4 AND "returns_version" = ?5)'
)
_BUMP = (
    'UPDATE "connect_payment" SET "returns_version" = "returns_version" + 1, "updated_at" = ? '
    'WHERE "charge_id" = ? AND "returns_version" = ?'
)

PART_FIELDS: dict[str, Field] = {
    "kind": required(string(choices=("reversal", "reinstatement"))),
    "stripe_transfer_id": required(string(pattern=r"tr_[A-Za-z0-9_]{1,100}")),
    "cause": required(string(choices=("refund", "dispute"))),
    "cause_id": required(ID),
    "idempotency_key": required(IDEMPOTENCY_KEY),
    "amount": required(integer(min_value=1, max_value=10**12)),
    "status": required(string(choices=("pending", "owed"))),
}
FORGIVE_FIELDS: dict[str, Field] = {
    "return_id": required(integer(min_value=1, max_value=2**53 - 1)),
    "amount": required(integer(min_value=1, max_value=10**12)),
    "reference": required(ID),
}


def _objects(fields: dict[str, Field], *, min_items: int = 0) -> Any:
    def check(value: Any, name: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not min_items <= len(value) <= MAX_PARTS:
            raise invalid(f"`{name}` must be a list of {min_items} to {MAX_PARTS} objects.")
        return [validate_object(v, fields, name=f"{name}[{i}]") for i, v in enumerate(value)]

    return check


RESERVE_FIELDS = {
    "source_transaction": required(payments.CHARGE_ID),
    "returns_version": required(integer(min_value=0, max_value=2**53 - 1)),
    "parts": required(_objects(PART_FIELDS)),
    "forgive": optional(_objects(FORGIVE_FIELDS)),
}


class Reserved(NamedTuple):
    created: bool
    returns: list[Return]
    payment: payments.Payment


async def reserve_returns(deps: Deps, params: Params, body: Body) -> Reserved:
    parts, forgive = body["parts"], body.get("forgive") or []
    if not parts and not forgive:
        raise invalid("A reservation needs at least one of `parts` and `forgive`.")
    keys = [p["idempotency_key"] for p in parts]
    if len(set(keys)) != len(keys):
        raise invalid("Each part needs its own `idempotency_key`.")
    if any(p["status"] == "owed" and p["kind"] != "reversal" for p in parts):
        raise invalid("Only a reversal can be reserved as `owed`.")
    charge, version, now_iso = (
        body["source_transaction"],
        body["returns_version"],
        iso_ms(deps.now()),
    )
    db = deps.db
    statements: list[D1Statement] = [
        db.prepare(_INSERT_PART).bind(
            *(p["stripe_transfer_id"], p["kind"], p["cause"], p["cause_id"]),
            *(p["idempotency_key"], p["amount"], p["status"], now_iso, charge, version),
        )
        for p in parts
    ]
    for f in forgive:
        statements.append(
            db.prepare(_FORGIVE_LINE).bind(
                f["amount"], f["reference"], now_iso, f["return_id"], charge, version
            )
        )
        statements.append(
            db.prepare(_FORGIVE).bind(f["amount"], now_iso, f["return_id"], charge, version)
        )
    marks = ", ".join("?" for _ in keys) or "NULL"
    statements += [
        db.prepare(_BUMP).bind(now_iso, charge, version),
        db.prepare(f'{SELECT_RETURNS} WHERE "idempotency_key" IN ({marks}) ORDER BY "id"').bind(
            *keys
        ),
        db.prepare(payments.BY_CHARGE).bind(charge),
    ]
    results = await db.batch(statements)
    bumped, stored, payment = results[-3], results[-2], results[-1]
    if payment.first_row is None:
        raise payment_not_found()
    rows = [to_model(r) for r in stored.rows]
    if bumped.changes == 0:
        if not keys or len(rows) != len(keys):
            raise ApiError(
                "returns_conflict",
                "The payment's returns changed since they were read; read them and plan again.",
            )
        return Reserved(False, rows, payments.to_model(payment.first_row))
    if len(rows) != len(keys):
        # The version held, so each insert ran: a part missing names a transfer not of this charge.
        raise invalid("A part names a transfer that was not made from this payment.")
    return Reserved(True, rows, payments.to_model(payment.first_row))


# --- Stripe's answers -------------------------------------------------------------------------

# What a `done` answer pays of a row: all it still owes, or (a debt recovered in part from a
# later transfer) the `amount` given, never more than is owed. ?5 is that amount or NULL.
_TAKE = f"MIN(COALESCE(?5, {OUTSTANDING}), {OUTSTANDING})"
# A retried debt that Stripe has now (partly) paid: the line, written before the update.
_PAID_LINE = (
    'INSERT INTO "connect_debt_line" ("return_id", "organization_id", "kind", "amount", '
    '"reference", "created_at") '
    f'SELECT "id", "organization_id", ?1, {_TAKE}, ?2, ?3 FROM "connect_return" '
    'WHERE "idempotency_key" = ?4 AND "status" = \'pending\' AND "attempts" > 1 '
    f"AND {_TAKE} > 0 "
    'ON CONFLICT ("return_id", "reference") DO NOTHING'
)
_DONE = (
    f'UPDATE "connect_return" SET "status" = CASE WHEN {OUTSTANDING} - {_TAKE} <= 0 '
    "THEN 'done' ELSE 'owed' END, "
    # The row's own Stripe object is its first attempt's; a debt's later payments are its lines.
    '"stripe_object_id" = CASE WHEN "attempts" > 1 THEN "stripe_object_id" ELSE ?1 END, '
    f'"amount_reversed" = "amount_reversed" + CASE WHEN ?6 = 0 THEN {_TAKE} ELSE 0 END, '
    f'"amount_recovered" = "amount_recovered" + CASE WHEN ?6 = 1 THEN {_TAKE} ELSE 0 END, '
    '"failure_message" = NULL, "updated_at" = ?3 '
    'WHERE "idempotency_key" = ?4 AND "status" = \'pending\' AND ?2 IS NOT NULL'
)
_REFUSED = (
    'UPDATE "connect_return" SET "status" = ?1, "failure_message" = ?2, "updated_at" = ?3 '
    'WHERE "idempotency_key" = ?4 AND "status" = \'pending\' AND "kind" = ?5'
)

RESULT_FIELDS: dict[str, Field] = {
    "idempotency_key": required(IDEMPOTENCY_KEY),
    "status": required(string(choices=("done", "owed", "failed"))),
    "stripe_object_id": optional(nullable(string(pattern=r"(trr|tr)_[A-Za-z0-9_]{1,100}"))),
    "recovered_from": optional(nullable(string(pattern=r"tr_[A-Za-z0-9_]{1,100}"))),
    # With `recovered_from`: how much of the debt that transfer paid (default: all it owes).
    "amount": optional(integer(min_value=1, max_value=10**12)),
    "failure_message": optional(nullable(free_text(max_len=500))),
}
COMPLETE_FIELDS = {"results": required(_objects(RESULT_FIELDS, min_items=1))}


class Completed(NamedTuple):
    returns: list[Return]


def _result_statements(deps: Deps, result: dict[str, Any], now_iso: str) -> list[D1Statement]:
    db, key, status = deps.db, result["idempotency_key"], result["status"]
    if status == "done":
        stripe_id = result.get("stripe_object_id")
        if stripe_id is None:
            raise invalid("A `done` result needs its `stripe_object_id`.")
        recovered = result.get("recovered_from") is not None
        kind = "recovered" if recovered else "reversed"
        amount = result.get("amount") if recovered else None
        return [
            db.prepare(_PAID_LINE).bind(kind, stripe_id, now_iso, key, amount),
            db.prepare(_DONE).bind(
                stripe_id, stripe_id, now_iso, key, amount, 1 if recovered else 0
            ),
        ]
    kind = "reversal" if status == "owed" else "reinstatement"
    message = result.get("failure_message")
    return [db.prepare(_REFUSED).bind(status, message, now_iso, key, kind)]


async def complete_returns(deps: Deps, params: Params, body: Body) -> Completed:
    now_iso, results = iso_ms(deps.now()), body["results"]
    statements = [s for r in results for s in _result_statements(deps, r, now_iso)]
    keys = [r["idempotency_key"] for r in results]
    marks = ", ".join("?" for _ in keys)
    statements.append(
        deps.db.prepare(
            f'{SELECT_RETURNS} WHERE "idempotency_key" IN ({marks}) ORDER BY "id"'
        ).bind(*keys)
    )
    stored = (await deps.db.batch(statements))[-1]
    return Completed([to_model(r) for r in stored.rows])


_RETRY = (
    'UPDATE "connect_return" SET "status" = \'pending\', "attempts" = "attempts" + 1, '
    '"reversing_transfer" = ?, "reversing_amount" = ?, "updated_at" = ? '
    'WHERE "idempotency_key" = ? AND "status" = \'owed\''
)
_BY_KEY = f'{SELECT_RETURNS} WHERE "idempotency_key" = ?'


RETRY_FIELDS: dict[str, Field] = {
    "idempotency_key": required(IDEMPOTENCY_KEY),
    # The transfer this attempt reverses when it is not the row's own (a later one).
    "reversing_transfer": optional(nullable(string(pattern=r"tr_[A-Za-z0-9_]{1,100}"))),
    "reversing_amount": optional(nullable(integer(min_value=1, max_value=10**12))),
}


class Retried(NamedTuple):
    retried: bool
    row: Return


async def retry_return(deps: Deps, params: Params, body: Body) -> Retried:
    """An `owed` row back to `pending` for another attempt (reconciliation, or a later transfer
    to the organization the debt is recovered from)."""
    key = body["idempotency_key"]
    db = deps.db
    later, amount = body.get("reversing_transfer"), body.get("reversing_amount")
    if (later is None) != (amount is None):
        raise invalid("Send both of `reversing_transfer` and `reversing_amount`, or neither.")
    retry = db.prepare(_RETRY).bind(later, amount, iso_ms(deps.now()), key)
    updated, stored = await db.batch([retry, db.prepare(_BY_KEY).bind(key)])
    if stored.first_row is None:
        raise ApiError("return_not_found", "No return has this idempotency key.")
    return Retried(updated.changes > 0, to_model(stored.first_row))


ROUTES = {
    ("GET", "/returns/{charge_id}"): Route(returns_state),
    ("POST", "/returns/reserve"): Route(reserve_returns, RESERVE_FIELDS),
    ("POST", "/returns/complete"): Route(complete_returns, COMPLETE_FIELDS),
    ("POST", "/returns/retry"): Route(retry_return, RETRY_FIELDS),
}
