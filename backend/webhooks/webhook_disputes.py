"""`charge.dispute.*`: a dispute on a payment the platform collected for an organization.

The dispute as the event shows it is recorded on the payment with the claim (one Worker call,
`webhook-events/apply-dispute`); a disputed payment can no longer be transferred. When money
went out of the payment, the claim is held and its transfers are brought to what the organization
may keep (`return_flow`): the funds a dispute withdrew are reversed like a refund, reinstated
funds (a dispute won) are transferred again, once, and a lost dispute stays reversed.

What the dispute has withdrawn is read from its balance transactions (Stripe writes one when it
takes the funds and one when it gives them back; their `amount`s, without the dispute fee, add
up to what is withdrawn now); a dispute whose transactions are not in the charge's currency is
read from its status instead.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field, StringConstraints

from backend.ledger.return_flow import settle_payment
from backend.services import Services
from backend.stripe_side.stripe_events import Currency, Money, _Strict, parse_as
from backend.webhooks.webhook_handlers import CLAIM_COMPLETED, ClaimCompleted, Event, Handler
from backend.worker_side.worker_client import WorkerError

logger = logging.getLogger("backend.webhooks")

# Statuses in which Stripe holds the disputed funds (withdrawn from the platform's balance).
FUNDS_WITHDRAWN = frozenset(
    ["needs_response", "under_review", "lost", "appeal_needs_response", "appeal_under_review"]
)
DisputeStatus = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]


class _BalanceTransaction(_Strict):
    amount: Annotated[int, Field(ge=-(10**12), le=10**12)]
    currency: Currency


class DisputeObject(_Strict):
    """The fields of Stripe's `Dispute` the handler reads (SDK: `stripe.Dispute`)."""

    id: Annotated[str, StringConstraints(pattern=r"^(du|dp)_[A-Za-z0-9_]{1,100}$")]
    charge: Annotated[str, StringConstraints(pattern=r"^ch_[A-Za-z0-9_]{1,100}$")]
    amount: Money
    currency: Currency
    status: DisputeStatus
    balance_transactions: list[_BalanceTransaction] = Field(default_factory=list)

    def withdrawn(self) -> int:
        """What the dispute holds of the payment now (0 .. its amount)."""
        moved = self.balance_transactions
        if moved and all(bt.currency == self.currency for bt in moved):
            return min(max(-sum(bt.amount for bt in moved), 0), self.amount)
        return self.amount if self.status in FUNDS_WITHDRAWN else 0


async def _dispute(svc: Services, event: Event) -> ClaimCompleted | None:
    if event.account:
        return None  # a dispute of a connected account's own (direct) charge: not the platform's
    dispute = parse_as(DisputeObject, event.object)
    try:
        applied = await svc.worker.apply_dispute(
            claim=(event.id, event.claim_id),
            charge_id=dispute.charge,
            dispute_id=dispute.id,
            dispute_status=dispute.status,
            amount_withdrawn=dispute.withdrawn(),
            hold_if_transferred=True,
        )
    except WorkerError as exc:
        if exc.code != "payment_not_found":
            raise
        logger.info(
            "event %s: dispute of charge %s, not a payment of ours", event.id, dispute.charge
        )
        return CLAIM_COMPLETED  # the Worker completed the claim with its answer
    if applied.completed:
        return CLAIM_COMPLETED
    await settle_payment(svc, dispute.charge, cause="dispute", cause_id=event.id)
    return None


DISPUTE_HANDLERS: dict[str, Handler] = {
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _dispute,
}
