"""`connect_transfer`: the platform-fee transfer ledger, unique per idempotency key, and its routes.

A transfer backed by a payment names its charge (`source_transaction`); its reservation is one
conditional INSERT that succeeds only while enough of the payment is left, and a trigger adds the
row's gross to the payment's `amount_transferred` in the same statement, so two reservations
racing for one payment can never both take the same money."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from connect_worker import ledger, payments
from connect_worker.clock import iso_ms
from connect_worker.d1 import Condition, D1Database, D1Result, D1Statement, Row
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.route import (
    ACCOUNT_ID,
    AMOUNT,
    CURRENCY,
    ID,
    IDEMPOTENCY_KEY,
    Body,
    Params,
    Route,
)
from connect_worker.validation import (
    boolean,
    free_text,
    invalid,
    nullable,
    optional,
    required,
    string,
)

log = logging.getLogger("connect_worker")


class Transfer(NamedTuple):
    """The contract's `Transfer`: a ledger row as stored."""

    organization_id: str
    idempotency_key: str
    request_hash: str
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    stripe_account_id: str
    stripe_transfer_id: str | None
    status: str
    amount_reversed: int
    failure_message: str | None
    created_at: str
    updated_at: str
    source_transaction: str | None
    source_seq: int | None
    reason: str | None
    initiated_by: str | None


# A reservation's answer: the row this request reserved, or the one it replays.
class TransferCreated(NamedTuple):
    created: bool
    transfer: Transfer


LEDGER = ledger.Ledger(
    "connect_transfer", Transfer, TransferCreated, ("succeeded", "failed", "reversed")
)
_BY_STRIPE_ID = f'{LEDGER.select} WHERE "stripe_transfer_id" = ?'
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
    'AND p."amount" - p."amount_refunded" - p."amount_disputed" - p."amount_transferred" >= ?4 '
    'AND (p."dispute_status" IS NULL OR p."dispute_status" IN '
    f"({', '.join(repr(s) for s in payments.SETTLED_DISPUTES)})) "
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


class StripeOrigin(NamedTuple):
    """What a Stripe transfer says about the ledger row it was made for: the metadata the backend
    puts on it (`organization_id`, `idempotency_key`) and the transfer's own money fields, in the
    order `_ADOPT` binds them (?3..?7)."""

    organization_id: str
    idempotency_key: str
    amount: int
    currency: str
    destination: str


# --- routes ---------------------------------------------------------------------------------

INITIATORS = ("member", "platform", "operator", "automatic")
RESERVE_FIELDS = {
    **ledger.RESERVE_FIELDS,
    "gross_amount": required(AMOUNT),
    "fee_amount": required(AMOUNT),
    "net_amount": required(AMOUNT),
    "currency": required(CURRENCY),
    "stripe_account_id": required(ACCOUNT_ID),
    # A payment's transfer names its charge and carries the payment as Stripe shows it now; an
    # adjustment (no source) carries the operator's reason instead.
    "source_transaction": optional(nullable(payments.CHARGE_ID)),
    "payment": optional(nullable(payments.payment)),
    "reason": optional(nullable(free_text(max_len=500))),
    "initiated_by": optional(string(choices=INITIATORS)),
}


def _source_refusal(body: dict[str, Any], payment: Row | None) -> ApiError:
    """Why a payment's reservation took nothing (the caller checked the same from Stripe first;
    this is the answer for a payment that changed, or was taken, in between)."""
    if payment is None or payment["organization_id"] != body["organization_id"]:
        return ApiError(
            "source_not_for_organization", "This payment was not made for this organization."
        )
    if payment["currency"] != body["currency"]:
        return ApiError(
            "source_currency_mismatch",
            f"This payment is in {payment['currency']}, not {body['currency']}.",
        )
    if payment["status"] != "succeeded":
        return ApiError("source_not_succeeded", "This payment has not succeeded.")
    if payments.disputed(payment):
        return ApiError("source_disputed", "This payment is disputed: it cannot be transferred.")
    if payment["amount_refunded"] >= payment["amount"]:
        return ApiError("source_refunded", "This payment was refunded in full.")
    left = payments.to_model(payment).amount_remaining
    return ApiError("source_exhausted", f"Only {left} of this payment is left to transfer.")


async def reserve_transfer(deps: Deps, params: Params, body: Body) -> TransferCreated:
    if body["fee_amount"] + body["net_amount"] != body["gross_amount"]:
        raise invalid("`fee_amount` + `net_amount` must equal `gross_amount`.")
    source = body.get("source_transaction")
    payment = body.get("payment")
    now_iso = iso_ms(deps.now())
    org_id, key = body["organization_id"], body["idempotency_key"]
    if source is None:
        if not body.get("reason"):
            raise invalid("A transfer without `source_transaction` needs a `reason`.")
        insert = _bind_reserve(deps.db, _RESERVE, body, now_iso)
        reservation = await LEDGER.reserve(deps.db, insert, organization_id=org_id, key=key)
    else:
        if payment is None or payment.get("charge_id") != source:
            raise invalid("`payment` must describe the charge named by `source_transaction`.")
        # Record the payment as Stripe shows it now, then reserve `gross` of it: one batch (one
        # transaction), so the check of what is left and the taking of it cannot be split by
        # another request; `stored` is the payment as this request's record left it.
        db = deps.db
        _, taken, row, org, stored = await db.batch(
            [
                payments.record_statement(db, payment, now_iso=now_iso),
                _bind_reserve(db, _RESERVE_FROM_SOURCE, body, now_iso),
                LEDGER.lookup(db, org_id, key),
                db.prepare(ledger.ORG_EXISTS).bind(org_id),
                db.prepare(payments.BY_CHARGE).bind(source),
            ]
        )
        reservation = ledger.Reservation(taken.changes > 0, row.first_row, bool(org.rows))
        if reservation.organization_exists and reservation.row is None:
            raise _source_refusal(body, stored.first_row)
    return LEDGER.reserved(reservation, body)


COMPLETE_FIELDS = {
    **ledger.KEY_FIELDS,
    "status": required(string(choices=("succeeded", "failed"))),
    "stripe_transfer_id": optional(nullable(ID)),
    "failure_message": optional(nullable(free_text(max_len=500))),
}


# What the organization owes the platform in the transfer's currency (its debts): a transfer that
# just reached it pays them first, and the caller learns of them in the same call.
_OWED_IN_CURRENCY = (
    'SELECT COALESCE(SUM("amount" - "amount_reversed" - "amount_recovered" - "amount_forgiven"), '
    '0) AS "owed" FROM "connect_return" WHERE "organization_id" = ?1 AND "status" = \'owed\' '
    'AND "currency" = (SELECT "currency" FROM "connect_transfer" WHERE "organization_id" = ?1 '
    'AND "idempotency_key" = ?2)'
)


class TransferCompleted(NamedTuple):
    transfer: Transfer
    owed: int


async def complete_transfer(deps: Deps, params: Params, body: Body) -> TransferCompleted:
    org_id, key, db = body["organization_id"], body["idempotency_key"], deps.db
    update = db.prepare(_COMPLETE).bind(
        body["status"],
        body.get("stripe_transfer_id"),
        body.get("failure_message"),
        iso_ms(deps.now()),
        org_id,
        key,
    )
    _, row, owed = await db.batch(
        [update, LEDGER.lookup(db, org_id, key), db.prepare(_OWED_IN_CURRENCY).bind(org_id, key)]
    )
    owed_row = owed.first_row
    return TransferCompleted(LEDGER.found(row.first_row), int(owed_row["owed"]) if owed_row else 0)


SYNC_FIELDS = {
    "stripe_transfer_id": required(ID),
    "amount_reversed": required(AMOUNT),
    "reversed": required(boolean()),
    # The ledger row the Stripe transfer says it was made for (its metadata) and its money fields:
    # all five or none.
    "organization_id": optional(ID),
    "idempotency_key": optional(IDEMPOTENCY_KEY),
    "amount": optional(AMOUNT),
    "currency": optional(CURRENCY),
    "destination": optional(ID),
}


def _stripe_origin(body: Body) -> StripeOrigin | None:
    names = StripeOrigin._fields
    missing = [name for name in names if name not in body]
    if len(missing) == len(names):
        return None
    if missing:
        raise invalid(f"Missing field `{missing[0]}`: send all of {', '.join(names)}.")
    return StripeOrigin._make(body[name] for name in names)


def sync_statements(
    db: D1Database, values: Body, *, now_iso: str, only_if: Condition | None = None
) -> list[D1Statement]:
    """Stripe's reversal state of a transfer, as a batch (with metadata naming a ledger row, that
    row first takes the transfer if it may); `synced` reads the answer. A caller may append
    statements that must commit with it (`ledger_events.apply_transfer` completes the claim)."""
    origin = _stripe_origin(values)
    stripe_id = values["stripe_transfer_id"]
    extra, extra_values = (f" AND {only_if[0]}", tuple(only_if[1])) if only_if else ("", ())
    statements: list[D1Statement] = []
    if origin is not None:
        adopt = db.prepare(_ADOPT + extra)
        statements.append(adopt.bind(stripe_id, now_iso, *origin, *extra_values))
    reversed_ = 1 if values["reversed"] else 0
    sync = db.prepare(_SYNC + extra)
    statements += [
        sync.bind(values["amount_reversed"], reversed_, now_iso, stripe_id, *extra_values),
        db.prepare(_BY_STRIPE_ID).bind(stripe_id),
    ]
    if origin is not None:
        statements.append(LEDGER.lookup(db, origin.organization_id, origin.idempotency_key))
    return statements


def synced(results: Sequence[D1Result], values: Body) -> Transfer:
    """The row holding the transfer after `sync_statements`; `transfer_not_found` when none does
    and the metadata names no row; `transfer_mismatch` when it names one that could not take it."""
    origin = _stripe_origin(values)
    stripe_id = values["stripe_transfer_id"]
    held = results[-2 if origin is not None else -1].first_row
    if held is not None:
        return LEDGER.found(held)
    named = results[-1].first_row if origin is not None else None
    if origin is not None and named is not None:
        # Our metadata, but the row cannot take this transfer: it is finished (possibly with
        # another Stripe transfer: money may have moved twice) or its money fields differ.
        theirs = (origin.amount, origin.currency, origin.destination)
        ours = (named["net_amount"], named["currency"], named["stripe_account_id"])
        log.warning(
            "transfer %s names a ledger row of organization %s that cannot take it: status=%s "
            "stripe_transfer_id=%s amount=%s/%s currency=%s/%s destination=%s/%s",
            *(stripe_id, origin.organization_id, named["status"], named["stripe_transfer_id"]),
            *(value for pair in zip(theirs, ours, strict=True) for value in pair),
        )
        raise transfer_mismatch()
    raise LEDGER.not_found()


def transfer_mismatch() -> ApiError:
    return ApiError(
        "transfer_mismatch", "The ledger row named by this transfer's metadata does not match it."
    )


async def sync_transfer(deps: Deps, params: Params, body: Body) -> Transfer:
    """Apply Stripe's reversal state; with metadata naming a ledger row, first let a `pending`
    row whose backend died after Stripe made the transfer take it (one batch, so the row is never
    half-finished)."""
    statements = sync_statements(deps.db, body, now_iso=iso_ms(deps.now()))
    return synced(await deps.db.batch(statements), body)


ROUTES = {
    ("POST", "/transfers/reserve"): Route(reserve_transfer, RESERVE_FIELDS),
    ("POST", "/transfers/complete"): Route(complete_transfer, COMPLETE_FIELDS),
    ("GET", "/transfers/{organization_id}/{idempotency_key}"): Route(LEDGER.get, reply="transfer"),
    ("POST", "/transfers/sync"): Route(sync_transfer, SYNC_FIELDS, reply="transfer"),
}
