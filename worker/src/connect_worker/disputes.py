"""`webhook-events/apply-dispute`: a `charge.dispute.*` event's record on its payment and its
claim's completion, in one D1 batch (the event's second Worker call, as for every event).

Stripe delivers a dispute's events out of order; its final statuses (`won`, `lost`,
`warning_closed`) are never replaced, so a late `funds_withdrawn` cannot withdraw again what a
won dispute reinstated. The claim is held, when the caller asks, while the payment has transfers
or returns: the caller then plans what its transfers give back (or get again) and completes it.
"""

from __future__ import annotations

from typing import NamedTuple

from connect_worker import payments
from connect_worker.clock import iso_ms
from connect_worker.deps import Deps
from connect_worker.event_claims import (
    CLAIM_KEY_FIELDS,
    COMPLETE_HELD,
    HELD_STATUSES,
    STATUS,
    claim_lost,
)
from connect_worker.returns import payment_not_found
from connect_worker.route import Body, Params, Route
from connect_worker.validation import boolean, integer, required, string

FINAL_STATUSES = ("won", "lost", "warning_closed", "prevented")
DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "appeal_needs_response",
    "appeal_under_review",
    "won",
    "lost",
    "prevented",
)
_FINAL = ", ".join(f"'{s}'" for s in FINAL_STATUSES)
_RECORD = (
    'UPDATE "connect_payment" SET "dispute_id" = ?1, "dispute_status" = ?2, '
    '"amount_disputed" = MIN(?3, "amount"), "updated_at" = ?4 '
    'WHERE "charge_id" = ?5 AND NOT ("dispute_id" IS ?1 AND "dispute_status" IN '
    f'({_FINAL})) AND EXISTS (SELECT 1 FROM "connect_webhook_event" WHERE "event_id" = ?6 '
    f'AND "claim_id" = ?7 AND "status" IN ({", ".join(repr(s) for s in HELD_STATUSES)}))'
)
_HAS_MONEY_OUT = (
    'EXISTS (SELECT 1 FROM "connect_transfer" WHERE "source_transaction" = ? '
    'AND "status" != \'failed\') OR EXISTS (SELECT 1 FROM "connect_return" '
    'WHERE "source_transaction" = ?)'
)
_COMPLETE_UNLESS_HELD = f"{COMPLETE_HELD} AND NOT (? = 1 AND ({_HAS_MONEY_OUT}))"

APPLY_DISPUTE_FIELDS = {
    **CLAIM_KEY_FIELDS,
    "charge_id": required(payments.CHARGE_ID),
    "dispute_id": required(string(pattern=r"(du|dp)_[A-Za-z0-9_]{1,100}")),
    "dispute_status": required(string(choices=DISPUTE_STATUSES)),
    "amount_withdrawn": required(integer(min_value=0, max_value=10**12)),
    "hold_if_transferred": required(boolean()),
}


class DisputeApplied(NamedTuple):
    completed: bool
    payment: payments.Payment


async def apply_dispute(deps: Deps, params: Params, body: Body) -> DisputeApplied:
    now_iso, event_id, claim_id = iso_ms(deps.now()), body["event_id"], body["claim_id"]
    charge, db = body["charge_id"], deps.db
    hold = 1 if body["hold_if_transferred"] else 0
    _, completed, event, stored = await db.batch(
        [
            db.prepare(_RECORD).bind(
                *(body["dispute_id"], body["dispute_status"], body["amount_withdrawn"]),
                *(now_iso, charge, event_id, claim_id),
            ),
            db.prepare(_COMPLETE_UNLESS_HELD).bind(
                now_iso, event_id, claim_id, hold, charge, charge
            ),
            db.prepare(STATUS).bind(event_id),
            db.prepare(payments.BY_CHARGE).bind(charge),
        ]
    )
    row = event.first_row
    if row is None or row["claim_id"] != claim_id or row["status"] not in HELD_STATUSES:
        raise claim_lost()
    if stored.first_row is None:
        raise payment_not_found()
    return DisputeApplied(completed.changes > 0, payments.to_model(stored.first_row))


ROUTES = {
    ("POST", "/webhook-events/apply-dispute"): Route(apply_dispute, APPLY_DISPUTE_FIELDS),
}
