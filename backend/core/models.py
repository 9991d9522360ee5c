"""Every body a browser sends and gets, as pydantic models; the field groups the replies share
with the Worker's records are in `backend/core/records.py`.

Requests from browsers are strict (`extra="forbid"`, no coercion: an amount is a JSON integer,
never "100" or 100.0). Replies from the Worker are read leniently (`extra="ignore"`), so the Worker
can add fields without breaking running replicas.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from backend.core.records import (
    ConnectState,
    LedgerKey,
    PaymentFields,
    PayoutFields,
    PayoutInterval,
    TransferFields,
    TransferMoney,
    TransferStatus,
    Weekday,
)

# The largest amount one request may move, in minor units: Stripe's own limit for a charge or
# transfer (eight digits), the bound of every amount field here and in the Worker's replies.
MAX_AMOUNT = 99_999_999

OrgId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[str, StringConstraints(max_length=500)]
SourceId = Annotated[str, StringConstraints(pattern=r"^(ch|pi)_[A-Za-z0-9]{1,100}$")]
Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")
]
TransferGroup = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=500)]
CollectionFields = Literal["currently_due", "eventually_due"]  # what Account Links ask for


def _reply_schema(schema: JsonDict, cls: type[Any]) -> None:
    """A reply `sent_whole` is built from a whole stored record, so every field is always sent:
    all are required, and the defaults its fields carry for the Worker's lenient reading of that
    record say nothing to a client."""
    properties = schema.get("properties")
    if getattr(cls, "sent_whole", False) and isinstance(properties, dict):
        for prop in properties.values():
            if isinstance(prop, dict):
                prop.pop("default", None)
        schema["required"] = list(properties)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OrgRequest(Request):
    organization_id: OrgId


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_reply_schema)
    # A reply whose optional fields are left out rather than sent as null.
    omit_none: ClassVar[bool] = False
    sent_whole: ClassVar[bool] = False


class OrgReply(Reply):
    organization_id: str


# --- Browser requests and replies --------------------------------------------------------------


class Money(Reply):
    amount: int
    currency: str


class BalanceReply(OrgReply):
    available: list[Money]
    pending: list[Money]


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


class NamedConnectState(Protocol):
    """An organization's Connect state under the name replies give its id: the Worker's
    `Organization` (`backend/worker_side/worker_models.py`) is one. A protocol, so the browser's
    models need not import the Worker's; both build on `records`."""

    @property
    def organization_id(self) -> str: ...


class StatusReply(ConnectState, OrgReply):
    sent_whole = True

    @classmethod
    def of(cls, org: NamedConnectState) -> StatusReply:
        # Read from the attributes, not via model_dump + keyword arguments: half the cost, on
        # the status route's every request; the fields (and so the JSON) are the same.
        return cls.model_validate(org, from_attributes=True)


class TransferRequest(OrgRequest):
    """A payment's transfer names its source (the charge, or its PaymentIntent); `amount` is the
    gross to take from it (default: all that is left). Without a source it is an operator's
    adjustment: `amount`, `currency` and `reason` are required then."""

    source_transaction: SourceId | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    reason: Reason | None = None
    description: Description | None = None
    transfer_group: TransferGroup | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=20)] | None = None


class TransferReply(TransferMoney, LedgerKey, Reply):
    stripe_transfer_id: str | None
    status: TransferStatus
    source_transaction: str | None = None
    reason: str | None = None


class PaymentIntentRequest(OrgRequest):
    """The platform's checkout: a payment for an organization's sale."""

    amount: Amount
    currency: Currency
    description: Description | None = None
    transfer_group: TransferGroup | None = None


class PaymentIntentReply(OrgReply):
    payment_intent_id: str
    client_secret: str | None
    amount: int
    currency: str
    status: str
    transfer_group: str | None


class PaymentReply(PaymentFields, Reply):
    """A payment with the transfer of what is left of it previewed: the platform's fee and the
    net the organization would receive (0 and 0 when nothing can be transferred)."""

    sent_whole = True
    fee_amount: int
    net_amount: int


class PaymentsReply(OrgReply):
    auto_transfer_payments: bool
    payments: list[PaymentReply]


class AutoTransferRequest(OrgRequest):
    enabled: bool


class PayoutRequest(OrgRequest):
    currency: Currency
    amount: Amount | None = None


class PayoutReply(OrgReply):
    payout_id: str
    amount: int
    currency: str
    status: str
    arrival_date: int | None


class PayoutScheduleRequest(OrgRequest):
    """Stripe's `settings.payouts.schedule`: `weekly` needs `weekly_anchor`, `monthly` needs
    `monthly_anchor`; `delay_days` (how long funds wait before they can be paid out) is left to
    Stripe's minimum when absent."""

    interval: PayoutInterval
    weekly_anchor: Weekday | None = None
    monthly_anchor: Annotated[int, Field(ge=1, le=31)] | None = None
    delay_days: Annotated[int, Field(ge=2, le=365)] | None = None


class TransferEntry(TransferFields, Reply):
    sent_whole = True
    created_at: str


class TransferHistoryReply(OrgReply):
    transfers: list[TransferEntry]
    next_cursor: str | None


class PayoutEntry(PayoutFields, Reply):
    sent_whole = True
    updated_at: str
    automatic: bool
    # For a failed payout: what the organization should do, in words (from `failure_code`).
    failure_advice: str | None


class PayoutHistoryReply(OrgReply):
    payouts: list[PayoutEntry]
    next_cursor: str | None


class LoginLinkRequest(OrgRequest):
    pass  # the organization alone: its owner or an admin gets a fresh Express dashboard link


class LoginLinkReply(Reply):
    url: str


class AccountSessionRequest(OrgRequest):
    pass  # the organization alone: the components follow from the caller's role in it


class AccountSessionReply(OrgReply):
    """A fresh Account Session's client secret for Stripe's embedded components: single use,
    short-lived, never stored or cached (answered with `Cache-Control: no-store`)."""

    account_id: str
    client_secret: str
    expires_at: int
    components: list[str]


class PlatformFeeRequest(OrgRequest):
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
    # The W3C trace id of the request (docs/operations.md): support finds its log lines by it.
    request_id: str | None = None


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
    # Debts to the platform retried: minor units taken back, and debts still owed after the run.
    debts_recovered: int = 0
    debts_owed: int = 0
