"""Our view of Stripe objects: the gateway returns these, never `StripeObject`s, so nothing past
it depends on the SDK's types. Read leniently, as the Worker's replies are."""

from __future__ import annotations

from pydantic import Field

from backend.models import WorkerModel


class StripeAccount(WorkerModel):
    id: str
    details_submitted: bool = False
    charges_enabled: bool = False
    payouts_enabled: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, object] = Field(default_factory=dict)


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
        return {
            "payment_intent_id": self.payment_intent_id,
            "organization_id": organization_id,
            "charge_id": self.charge_id,
            "amount": self.amount,
            "amount_refunded": self.amount_refunded,
            "currency": self.currency,
            "status": self.status,
            "created": self.created,
        }


class StripePaymentIntent(WorkerModel):
    id: str
    client_secret: str | None
    amount: int
    currency: str
    status: str
    transfer_group: str | None = None


class StripeTransfer(WorkerModel):
    id: str
    amount: int
    currency: str
    destination: str | None = None


class StripePayout(WorkerModel):
    id: str
    amount: int
    currency: str
    status: str
    created: int
    arrival_date: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None
