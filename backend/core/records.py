"""The field groups a stored record shares with the replies that show it: an organization's
Connect state, a ledger row's key, a transfer's, payout's and payment's fields, and the words
they are written in. The Worker's records (`backend/worker_side/worker_models.py`) and the
browser's replies (`backend/core/models.py`) both build on these, so neither imports the other.

Records from the Worker are read leniently (`WorkerModel`: `extra="ignore"`), so the Worker can
add fields without breaking running replicas.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConnectStatus = Literal["pending", "active", "disabled"]
OnboardingStep = Literal[
    "account_creation", "details_submission", "verification", "complete", "rejected"
]
PayoutInterval = Literal["manual", "daily", "weekly", "monthly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TransferStatus = Literal["pending", "succeeded", "failed", "reversed"]
AccountProfile = Literal["express", "custom"]


class WorkerModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# A class lists its groups before its base, so the base's fields (`organization_id`) come first.


class ConnectState(BaseModel):
    """An organization's Connect account and settings, as the Worker keeps them."""

    stripe_connect_account_id: str | None = None
    stripe_connect_status: ConnectStatus | None = None
    onboarding_step: OnboardingStep | None = None
    onboarding_rejection_reason: str | None = None
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements_currently_due: list[str] = Field(default_factory=list)
    requirements_past_due: list[str] = Field(default_factory=list)
    requirements_disabled_reason: str | None = None
    requirements_current_deadline: int | None = None
    platform_fee_percent: float = 10.0
    platform_fee_fixed: int = 0
    stripe_synced_at: int | None = None
    auto_transfer_payments: bool = False
    payout_schedule_interval: PayoutInterval = "manual"
    payout_schedule_delay_days: int | None = None
    payout_schedule_weekly_anchor: Weekday | None = None
    payout_schedule_monthly_anchor: int | None = None
    stripe_connect_account_profile: AccountProfile | None = None


class LedgerKey(BaseModel):
    organization_id: str
    idempotency_key: str


class TransferMoney(BaseModel):
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str


class TransferFields(TransferMoney):
    """A transfer ledger row past its key: what the history shows of it."""

    stripe_transfer_id: str | None = None
    status: TransferStatus
    amount_reversed: int = 0
    failure_message: str | None = None
    source_transaction: str | None = None
    reason: str | None = None
    initiated_by: str | None = None
    created_at: str | None = None


class PayoutFields(BaseModel):
    """A payout ledger row: `reserved` / `refused` are ours (no Stripe payout); the rest, Stripe's
    statuses."""

    stripe_payout_id: str | None = None
    amount: int
    currency: str
    status: str
    failure_code: str | None = None
    failure_message: str | None = None
    arrival_date: int | None = None
    updated_at: str | None = None


class PaymentFields(BaseModel):
    """A payment the platform collected for an organization, and what its transfers took."""

    payment_intent_id: str
    charge_id: str | None = None
    amount: int
    amount_refunded: int = 0
    amount_transferred: int = 0
    amount_remaining: int = 0
    # Funds a dispute withdrew and that were not reinstated; the dispute's status at Stripe.
    amount_disputed: int = 0
    dispute_status: str | None = None
    currency: str
    created: int
