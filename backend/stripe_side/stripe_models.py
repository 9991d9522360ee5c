"""Our view of Stripe objects: the gateway returns these, never `StripeObject`s, so nothing past
it depends on the SDK's types. Read leniently, as the Worker's replies are — except the money
objects, read by the same strict models as an event's (`backend/stripe_side/stripe_events.py`)."""

from __future__ import annotations

from pydantic import Field

from backend.core.records import WorkerModel
from backend.stripe_side.stripe_events import PayoutObject, TransferObject, UnixTime

# A transfer the gateway created is checked as an event's transfer is.
StripeTransfer = TransferObject


class StripePayout(PayoutObject):
    """A payout the gateway created, and when Stripe made it (its place in the ledger's order)."""

    created: UnixTime


class StripeAccount(WorkerModel):
    id: str
    details_submitted: bool = False
    charges_enabled: bool = False
    payouts_enabled: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, object] = Field(default_factory=dict)


class StripeAccountSession(WorkerModel):
    account: str
    client_secret: str
    expires_at: int
    components: dict[str, dict[str, object]]


class AccountLink(WorkerModel):
    url: str
    expires_at: int


class StripePayment(WorkerModel):
    """A PaymentIntent and its latest charge, read together: what a transfer's source is."""

    payment_intent_id: str
    charge_id: str | None
    organization_id: str | None  # our metadata on the PaymentIntent, set by whoever created it
    amount: int
    amount_refunded: int
    currency: str
    status: str  # the charge's status ("succeeded" only when the PaymentIntent succeeded too)
    created: int

    def record(self, organization_id: str) -> dict[str, object]:
        """The Worker's `payment` object for this payment, recorded for `organization_id`."""
        return {**self.model_dump(), "organization_id": organization_id}


class StripePaymentIntent(WorkerModel):
    id: str
    client_secret: str | None
    amount: int
    currency: str
    status: str
    transfer_group: str | None = None
