"""The Worker's replies (docs/internal-api.md), read leniently: the Worker may add fields, and a
field an older Worker leaves out takes its default."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from backend.core.models import MAX_AMOUNT, Request
from backend.core.records import (
    ConnectState,
    LedgerKey,
    PaymentFields,
    PayoutFields,
    TransferFields,
    WorkerModel,
)

# A dispute in these statuses no longer stands between the payment and its transfer.
SETTLED_DISPUTES = frozenset(["won", "warning_closed", "prevented"])

# An id as the Worker bounds it in `transfers/sync`: 1 to 128 characters, no control characters.
PlainId = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]


class Organization(ConnectState, WorkerModel):
    id: str
    name: str | None = None
    slug: str | None = None

    @property
    def organization_id(self) -> str:
        """Its id under the name replies give it, so a reply whose fields are its Connect state
        is read straight from its attributes (`StatusReply.of`)."""
        return self.id


class User(WorkerModel):
    id: str
    name: str | None = None
    email: str | None = None
    email_verified: bool = False


class UserContext(WorkerModel):
    """What the backend reads of `verify-user-context`'s reply: the user, and their organization
    and role when one was asked for. The reply's other fields (session, token type, the
    memberships list) are skipped unparsed: this is read on every authenticated request."""

    user: User
    organization: Organization | None = None
    role: str | None = None


class UpdateResult(WorkerModel):
    updated: bool
    organization: Organization


class ApplyResult(UpdateResult):
    completed: bool
    watermark: float | None = None


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


class LedgerTransfer(TransferFields, LedgerKey, WorkerModel):
    request_hash: str
    stripe_account_id: str | None = None
    source_seq: int | None = None
    # From `transfers/complete` only: what the organization owes in this currency (its debts).
    owed: int = 0

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


class LedgerPayout(PayoutFields, WorkerModel):
    organization_id: str
    stripe_account_id: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    @property
    def waiting(self) -> bool:
        return self.status == "reserved"

    @property
    def reserved_at(self) -> str | None:
        return self.updated_at  # a reserved row's updated_at: when it was reserved


class PayoutReserveResult(WorkerModel):
    created: bool
    payout: LedgerPayout


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


class Payment(PaymentFields, WorkerModel):
    organization_id: str
    transfer_count: int = 0
    status: str
    dispute_id: str | None = None
    returns_version: int = 0

    @property
    def disputed(self) -> bool:
        """Under a dispute not won: its money can no longer be transferred."""
        return self.dispute_status is not None and self.dispute_status not in SETTLED_DISPUTES


class PaymentApplied(WorkerModel):
    """A payment event's record: `completed` false when its claim is held for the automatic
    transfer that follows (the organization transfers automatically)."""

    completed: bool
    organization: Organization
    payment: Payment


class TransferOrigin(Request):
    """The ledger row a Stripe transfer names in its metadata, with the transfer's money fields:
    `transfers/sync` lets that row take the transfer if it is still `pending` and they match. The
    bounds are the Worker's, so a stranger's metadata is dropped here rather than refused there
    (checked as strictly as a browser's request)."""

    organization_id: PlainId
    idempotency_key: Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,255}$")]
    amount: Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
    currency: Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
    destination: PlainId
