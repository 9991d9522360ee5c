"""What happens to a refund after it is created: a pending one succeeds, and one fails or is
canceled, so its money returns to the balance it left.

As Stripe: a failed or canceled refund no longer counts in the charge's `amount_refunded` (the
charge can be refunded again), the amount returns to the charge owner's balance with a
`failure_balance_transaction`, and the events are `refund.updated` and `charge.refund.updated`
(plus `refund.failed` for a failure). Test card 4000000000005126's refunds succeed then fail
(`/_fake/refunds/{id}/fail`); 4000000000007726's start `pending`
(`/_fake/charges/{id}/pending-refunds`, then `/succeed`, `/fail` or `/cancel`).
"""

from __future__ import annotations

import copy

from stripe_fake.core import Fake
from stripe_fake.disputes import charge_owner
from stripe_fake.errors import invalid_request
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id
from stripe_fake.store import JSON, PLATFORM

FAILURE_REASONS = (
    "charge_for_pending_refund_disputed",
    "declined",
    "expired_or_canceled_card",
    "insufficient_funds",
    "lost_or_stolen_card",
    "merchant_request",
    "unknown",
)
# From which statuses each outcome may happen.
_ALLOWED = {
    "succeeded": frozenset({"pending"}),
    "failed": frozenset({"pending", "succeeded"}),
    "canceled": frozenset({"pending", "requires_action"}),
}


def settle(fake: Fake, refund: JSON, status: str, *, failure_reason: str = "unknown") -> JSON:
    """Move a refund to `status`; a failed or canceled one gives its money back."""
    if refund["status"] not in _ALLOWED[status]:
        raise invalid_request(
            f"Refund {refund['id']} is {refund['status']}; it cannot become {status}."
        )
    if status == "failed" and failure_reason not in FAILURE_REASONS:
        raise invalid_request(f"failure_reason must be one of {', '.join(FAILURE_REASONS)}.")
    before = copy.deepcopy(refund)
    refund["status"] = status
    charge = fake.state.charges[refund["charge"]]
    owner = charge_owner(fake, charge)
    if status in ("failed", "canceled"):
        charge["amount_refunded"] -= refund["amount"]
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        bucket = fake.state.charge_bucket.get(charge["id"], "available")
        fake.state.balance_of(owner, charge["currency"])[bucket] += refund["amount"]
        refund["failure_balance_transaction"] = new_id("txn_")
    if status == "failed":
        refund["failure_reason"] = failure_reason
    account = None if owner == PLATFORM else owner
    previous = previous_attributes(before, refund)
    fake.events.emit("refund.updated", refund, account=account, previous=previous)
    fake.events.emit("charge.refund.updated", refund, account=account, previous=previous)
    if status == "failed":
        fake.events.emit("refund.failed", refund, account=account)
    return copy.deepcopy(refund)
