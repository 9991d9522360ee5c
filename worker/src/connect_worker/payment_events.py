"""Payment events (`payment_intent.*`, `charge.*`): the payment recorded as `payments/record`
records it, and the event's claim completed — or held for the automatic transfer or the returns
that follow — in one D1 batch (`webhook-events/apply-payment`)."""

from __future__ import annotations

from typing import NamedTuple

from connect_worker import organizations, payments
from connect_worker.clock import iso_ms
from connect_worker.deps import Deps
from connect_worker.event_claims import (
    CLAIM_KEY_FIELDS,
    COMPLETE_HELD,
    HELD_BY_CALLER,
    HELD_STATUSES,
    ORGANIZATION_EXISTS,
    STATUS,
    claim_lost,
)
from connect_worker.organizations import Organization
from connect_worker.route import Body, Params, Route
from connect_worker.validation import boolean, optional

# A payment event's record and its claim's completion, in one batch: the organization checked
# and the payment recorded only under the caller's claim. The claim completes whatever the record
# found (an organization gone, or a payment recorded for another one, is settled — no retry can
# change it), except when the caller asks to hold it for an automatic transfer and one follows:
# the payment recorded for an organization that transfers automatically. The caller then
# transfers and completes the claim itself.
_COMPLETE_UNLESS_TRANSFER_FOLLOWS = (
    COMPLETE_HELD + " AND NOT (? = 1 "
    'AND EXISTS (SELECT 1 FROM "organization" WHERE "id" = ? AND "auto_transfer_payments" = 1) '
    'AND EXISTS (SELECT 1 FROM "connect_payment" WHERE "payment_intent_id" = ? '
    'AND "organization_id" = ? AND "currency" = ? AND "amount" = ?)) '
    # ... or returns follow (`hold_if_transferred`): the payment's charge has transfers or returns.
    'AND NOT (? = 1 AND (EXISTS (SELECT 1 FROM "connect_transfer" WHERE "source_transaction" = ? '
    'AND "status" != \'failed\') OR EXISTS (SELECT 1 FROM "connect_return" '
    'WHERE "source_transaction" = ?)))'
)

APPLY_PAYMENT_FIELDS = {
    **payments.FIELDS,
    **CLAIM_KEY_FIELDS,
    "hold_if_auto_transfer": optional(boolean()),
    "hold_if_transferred": optional(boolean()),
    "refunds_exact": optional(boolean()),
}


class PaymentApplied(NamedTuple):
    """`completed` false: the claim is held for the automatic transfer that follows."""

    completed: bool
    organization: Organization
    payment: payments.Payment


async def apply_payment(deps: Deps, params: Params, body: Body) -> PaymentApplied:
    values = payments.refunds_within_amount(body)  # as `payments/record` checks it
    now_iso, event_id, claim_id = iso_ms(deps.now()), body["event_id"], body["claim_id"]
    org_id, intent = values["organization_id"], values["payment_intent_id"]
    held = (f"{HELD_BY_CALLER} AND {ORGANIZATION_EXISTS}", (event_id, claim_id, org_id))
    hold = 1 if body.get("hold_if_auto_transfer") else 0
    hold_returns, charge = 1 if body.get("hold_if_transferred") else 0, values.get("charge_id")
    exact = bool(body.get("refunds_exact"))
    db = deps.db
    recorded, completed, event, org, stored = await db.batch(
        [
            payments.record_statement(
                db, values, now_iso=now_iso, only_if=held, refunds_exact=exact
            ),
            db.prepare(_COMPLETE_UNLESS_TRANSFER_FOLLOWS).bind(
                *(now_iso, event_id, claim_id, hold, org_id),
                *(intent, org_id, values["currency"], values["amount"]),
                *(hold_returns, charge, charge),
            ),
            db.prepare(STATUS).bind(event_id),
            db.prepare(organizations.SELECT_BY_ID).bind(org_id),
            db.prepare(payments.BY_INTENT).bind(intent),
        ]
    )
    row = event.first_row
    if row is None or row["claim_id"] != claim_id or row["status"] not in HELD_STATUSES:
        raise claim_lost()
    organization = organizations.found(org.first_row)
    if recorded.changes == 0 or stored.first_row is None:
        raise payments.payment_conflict()
    return PaymentApplied(completed.changes > 0, organization, payments.to_model(stored.first_row))


ROUTES = {
    ("POST", "/webhook-events/apply-payment"): Route(apply_payment, APPLY_PAYMENT_FIELDS),
}
