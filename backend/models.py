"""Every body in and out, as pydantic models.

Requests from browsers are strict (`extra="forbid"`, no coercion: an amount is a JSON integer,
never "100" or 100.0). Replies from the Worker are read leniently (`extra="ignore"`), so the Worker
can add fields without breaking running replicas.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.fees import MAX_AMOUNT

OrgId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[str, StringConstraints(max_length=500)]
ConnectStatus = Literal["pending", "active", "disabled"]
OnboardingStep = Literal[
    "account_creation", "details_submission", "verification", "complete", "rejected"
]
PayoutInterval = Literal["manual", "daily", "weekly", "monthly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # A reply whose optional fields are left out rather than sent as null.
    omit_none: ClassVar[bool] = False


class WorkerModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- Worker replies (docs/internal-api.md) ---------------------------------------------------


class Organization(WorkerModel):
    id: str
    name: str | None = None
    slug: str | None = None
    stripe_connect_account_id: str | None = None
    stripe_connect_status: ConnectStatus | None = None
    onboarding_step: OnboardingStep | None = None
    onboarding_rejection_reason: str | None = None
    platform_fee_percent: float = 10.0
    platform_fee_fixed: int = 0
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements_currently_due: list[str] = Field(default_factory=list)
    requirements_past_due: list[str] = Field(default_factory=list)
    requirements_disabled_reason: str | None = None
    requirements_current_deadline: int | None = None
    stripe_synced_at: int | None = None
    auto_transfer_payments: bool = False
    payout_schedule_interval: PayoutInterval = "manual"
    payout_schedule_delay_days: int | None = None
    payout_schedule_weekly_anchor: Weekday | None = None
    payout_schedule_monthly_anchor: int | None = None


class Membership(WorkerModel):
    organization_id: str
    role: str


class User(WorkerModel):
    id: str
    name: str | None = None
    email: str | None = None


class UserContext(WorkerModel):
    user: User
    token_type: str = "session"  # noqa: S105 - a kind of token, not a secret
    active_organization_id: str | None = None
    memberships: list[Membership] = Field(default_factory=list)
    organization: Organization | None = None
    role: str | None = None


class UpdateResult(WorkerModel):
    updated: bool
    organization: Organization


class CreateAccountResult(WorkerModel):
    created: bool
    organization: Organization


class Claim(WorkerModel):
    claimed: bool
    claim_id: str | None = None
    attempts: int | None = None
    status: str | None = None
    # The organization of the event's account, looked up in the claim's batch (present when the
    # claim named an account); `watermark` is its exact `stripe_synced_at`, fraction included.
    organization: Organization | None = None
    watermark: float | None = None
    # Only for a claim that carried a snapshot: written, and the claim completed with it.
    updated: bool | None = None
    completed: bool | None = None


class ApplyResult(WorkerModel):
    updated: bool
    completed: bool
    organization: Organization
    watermark: float | None = None


TransferStatus = Literal["pending", "succeeded", "failed", "reversed"]


class LedgerTransfer(WorkerModel):
    organization_id: str
    idempotency_key: str
    request_hash: str
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    stripe_account_id: str | None = None
    stripe_transfer_id: str | None = None
    status: TransferStatus
    amount_reversed: int = 0
    failure_message: str | None = None
    created_at: str | None = None
    source_transaction: str | None = None
    source_seq: int | None = None
    reason: str | None = None
    initiated_by: str | None = None

    @property
    def waiting(self) -> bool:
        """Reserved, and Stripe's answer not recorded yet."""
        return self.status == "pending"

    @property
    def reserved_at(self) -> str | None:
        return self.created_at


class ReserveResult(WorkerModel):
    created: bool
    transfer: LedgerTransfer


class LedgerPayout(WorkerModel):
    """A payout row: `reserved` / `refused` are ours (no Stripe payout), the rest Stripe's."""

    stripe_payout_id: str | None = None
    organization_id: str
    stripe_account_id: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    amount: int
    currency: str
    status: str
    failure_code: str | None = None
    failure_message: str | None = None
    arrival_date: int | None = None
    updated_at: str | None = None

    @property
    def waiting(self) -> bool:
        return self.status == "reserved"

    @property
    def reserved_at(self) -> str | None:
        return self.updated_at  # a reserved row's updated_at: when it was reserved


class Unsettled(WorkerModel):
    """What reconciliation asks Stripe about (`reconciliation/unsettled`)."""

    transfers: list[LedgerTransfer]
    payouts: list[LedgerPayout]


class ConnectedAccount(WorkerModel):
    organization_id: str
    stripe_account_id: str
    stripe_connect_status: str | None = None
    onboarding_rejection_reason: str | None = None


class Checkpoint(WorkerModel):
    """How far missed-event recovery got in one scope (`platform` or an account id)."""

    scope: str
    event_created: int
    event_id: str


class Payment(WorkerModel):
    """A payment the platform collected for an organization, as the Worker stores it."""

    payment_intent_id: str
    organization_id: str
    charge_id: str | None = None
    amount: int
    amount_refunded: int = 0
    amount_transferred: int = 0
    transfer_count: int = 0
    amount_remaining: int = 0
    currency: str
    status: str
    created: int


class PayoutReserveResult(WorkerModel):
    created: bool
    payout: LedgerPayout


class TransferOrigin(BaseModel):
    """The ledger row a Stripe transfer names in its metadata, with the transfer's money fields:
    `transfers/sync` lets that row take the transfer if it is still `pending` and they match. The
    bounds are the Worker's, so a stranger's metadata is dropped here rather than refused there."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    organization_id: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]
    idempotency_key: Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,255}$")]
    amount: Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
    currency: Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
    destination: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]


class Money(Reply):
    amount: int
    currency: str


class BalanceReply(Reply):
    organization_id: str
    available: list[Money]
    pending: list[Money]


# --- Browser requests and replies --------------------------------------------------------------


class OnboardRequest(Request):
    organization_id: OrgId | None = None
    return_url: Url | None = None
    refresh_url: Url | None = None
    return_path: Url | None = None
    refresh_path: Url | None = None


class OnboardReply(Reply):
    url: str
    expires_at: int
    account_id: str


class StatusReply(Reply):
    organization_id: str
    stripe_connect_account_id: str | None
    stripe_connect_status: ConnectStatus | None
    onboarding_step: OnboardingStep | None
    onboarding_rejection_reason: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_currently_due: list[str]
    requirements_past_due: list[str]
    requirements_disabled_reason: str | None
    requirements_current_deadline: int | None
    platform_fee_percent: float
    platform_fee_fixed: int
    stripe_synced_at: int | None
    auto_transfer_payments: bool
    payout_schedule_interval: PayoutInterval
    payout_schedule_delay_days: int | None
    payout_schedule_weekly_anchor: Weekday | None
    payout_schedule_monthly_anchor: int | None

    @classmethod
    def of(cls, org: Organization) -> StatusReply:
        return cls(
            organization_id=org.id,
            **org.model_dump(exclude={"id", "name", "slug"}),
        )


SourceId = Annotated[str, StringConstraints(pattern=r"^(ch|pi)_[A-Za-z0-9]{1,100}$")]
Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")
]
TransferGroup = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=500)]


class TransferRequest(Request):
    """A payment's transfer names its source (the charge, or its PaymentIntent); `amount` is the
    gross to take from it (default: all that is left). Without a source it is an operator's
    adjustment: `amount`, `currency` and `reason` are required then."""

    organization_id: OrgId
    source_transaction: SourceId | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    reason: Reason | None = None
    description: Description | None = None
    transfer_group: TransferGroup | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=20)] | None = None


class TransferReply(Reply):
    organization_id: str
    idempotency_key: str
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    stripe_transfer_id: str | None
    status: TransferStatus
    source_transaction: str | None = None
    reason: str | None = None


class PaymentIntentRequest(Request):
    """The platform's checkout: a payment for an organization's sale."""

    organization_id: OrgId
    amount: Amount
    currency: Currency
    description: Description | None = None
    transfer_group: TransferGroup | None = None


class PaymentIntentReply(Reply):
    organization_id: str
    payment_intent_id: str
    client_secret: str | None
    amount: int
    currency: str
    status: str
    transfer_group: str | None


class PaymentReply(Reply):
    payment_intent_id: str
    charge_id: str | None
    amount: int
    amount_refunded: int
    amount_transferred: int
    amount_remaining: int
    currency: str
    created: int


class PaymentsReply(Reply):
    organization_id: str
    auto_transfer_payments: bool
    payments: list[PaymentReply]


class AutoTransferRequest(Request):
    organization_id: OrgId
    enabled: bool


class PayoutRequest(Request):
    organization_id: OrgId
    currency: Currency
    amount: Amount | None = None


class PayoutReply(Reply):
    organization_id: str
    payout_id: str
    amount: int
    currency: str
    status: str
    arrival_date: int | None


class PayoutScheduleRequest(Request):
    """Stripe's `settings.payouts.schedule`: `weekly` needs `weekly_anchor`, `monthly` needs
    `monthly_anchor`; `delay_days` (how long funds wait before they can be paid out) is left to
    Stripe's minimum when absent."""

    organization_id: OrgId
    interval: PayoutInterval
    weekly_anchor: Weekday | None = None
    monthly_anchor: Annotated[int, Field(ge=1, le=31)] | None = None
    delay_days: Annotated[int, Field(ge=2, le=365)] | None = None


class TransferEntry(Reply):
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    stripe_transfer_id: str | None
    status: TransferStatus
    amount_reversed: int
    failure_message: str | None
    source_transaction: str | None
    reason: str | None
    initiated_by: str | None
    created_at: str


class TransferHistoryReply(Reply):
    organization_id: str
    transfers: list[TransferEntry]
    next_cursor: str | None


class PayoutEntry(Reply):
    stripe_payout_id: str | None
    amount: int
    currency: str
    status: str
    automatic: bool
    failure_code: str | None
    failure_message: str | None
    # For a failed payout: what the organization should do, in words (from `failure_code`).
    failure_advice: str | None
    arrival_date: int | None
    updated_at: str


class PayoutHistoryReply(Reply):
    organization_id: str
    payouts: list[PayoutEntry]
    next_cursor: str | None


class LoginLinkRequest(Request):
    organization_id: OrgId


class LoginLinkReply(Reply):
    url: str


class PlatformFeeRequest(Request):
    organization_id: OrgId
    platform_fee_percent: Annotated[float, Field(ge=0, le=100)]
    platform_fee_fixed: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class WebhookReply(Reply):
    omit_none = True
    received: bool = True
    duplicate: bool = False
    handled: bool = True
    # Sent (true) only for a validly signed event recorded as rejected: acknowledged, not applied.
    rejected: Literal[True] | None = None


class HealthReply(Reply):
    omit_none = True
    ok: bool = True
    worker: bool | None = None


class ErrorDetail(Reply):
    code: str
    message: str


class ErrorReply(Reply):
    error: ErrorDetail


class ReconciledRow(Reply):
    """One ledger row reconciliation asked Stripe about, and what became of it."""

    omit_none = True
    kind: Literal["transfer", "payout"]
    organization_id: str
    idempotency_key: str
    # completed: Stripe made it, the row took its id; refused: Stripe never made it and no request
    # can any more; unknown: not at Stripe yet but still inside the window; mismatch / error: an
    # operator must look (`detail`).
    outcome: Literal["completed", "refused", "unknown", "mismatch", "error"]
    stripe_id: str | None = None
    detail: str | None = None


class ReplayCounts(Reply):
    """Missed events listed, and what replaying each did (`deferred`: another instance held it or
    it could not be applied now; the next run retries it)."""

    listed: int = 0
    applied: int = 0
    already_applied: int = 0
    rejected: int = 0
    not_handled: int = 0
    deferred: int = 0
    # Connected accounts that deauthorized the platform (their events can no longer be read):
    # recorded in D1 as deauthorized, as their `account.application.deauthorized` would be.
    inaccessible_scopes: int = 0


class ReconcileReply(Reply):
    rows: list[ReconciledRow]
    events: ReplayCounts
    scopes: int
    errors: list[str]
