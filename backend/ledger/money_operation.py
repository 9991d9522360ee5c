"""One ledgered money operation — reserve in D1, send to Stripe, settle in D1 — for every resource
that moves money (transfers, payouts: `transfer_flow.py`, `payout_flow.py`).

A request is identified by (organization, `Idempotency-Key`) and fingerprinted by the hash of its
body: the same key with another body is a 409, the same request again is answered from the ledger
(`Idempotent-Replayed`). A row still waiting for Stripe's answer is sent again with the same Stripe
idempotency key, but only to an account that can still take it and only well inside Stripe's
idempotency window (`RESEND_WINDOW`); a finished row is replayed whatever the account's state now.
A definitive refusal by Stripe is recorded on the row; anything else leaves it waiting, for a retry
with the same key or its webhook to finish.

The metadata we put on the Stripe objects (`LedgerTag`) is written and read back here, so the
webhook that reports the object lands on the same ledger row as the request that made it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from backend.core.errors import ApiError, Conflict
from backend.core.outcomes import observed_money
from backend.services import Services
from backend.stripe_side.stripe_errors import is_definitive
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import Organization

# Stripe keeps an idempotency key for at least 24 hours. A ledger row still waiting for Stripe's
# answer is re-sent with its key only well inside that window: later, Stripe may have forgotten
# the key, and if the first attempt did reach it, re-sending would move the money twice.
RESEND_WINDOW = timedelta(hours=23)


class LedgerRow(Protocol):
    @property
    def request_hash(self) -> str | None: ...
    @property
    def waiting(self) -> bool: ...
    @property
    def reserved_at(self) -> str | None: ...


Row = TypeVar("Row", bound=LedgerRow)
Body = TypeVar("Body", contravariant=True)
Sent = TypeVar("Sent")


class LedgerTag(BaseModel):
    """The ledger row a Stripe object was made for, carried in the object's metadata."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    organization_id: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]
    # As `require_idempotency_key` accepts them: printable ASCII, no outer whitespace.
    idempotency_key: Annotated[
        str, StringConstraints(pattern=r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
    ]

    def metadata(self) -> dict[str, str]:
        return {"organization_id": self.organization_id, "idempotency_key": self.idempotency_key}

    @classmethod
    def read(cls, metadata: Mapping[str, Any]) -> LedgerTag | None:
        """The tag we wrote, or None for an object made elsewhere (or with metadata we did not
        write: a tag that does not parse names no row)."""
        if "organization_id" not in metadata or "idempotency_key" not in metadata:
            return None
        try:
            return cls.model_validate(dict(metadata))
        except ValidationError:
            return None


def hash_request(fields: Mapping[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome(Generic[Row]):
    row: Row
    replayed: bool


@dataclass(frozen=True, slots=True)
class Ask:
    """A request new to the ledger: whose, under which key and fingerprint, to which account."""

    org: Organization
    key: str
    hashed: str
    account_id: str


@dataclass(frozen=True, slots=True)
class Reserved(Generic[Row]):
    row: Row
    created: bool


class MoneyOperation(Protocol[Body, Row, Sent]):
    """What one resource says about itself; `perform` owns the order of the steps."""

    @property
    def noun(self) -> str:
        """ "transfer" | "payout": error codes and messages name it."""
        ...

    def request_hash(self, body: Body) -> str: ...

    def raced(self, exc: ApiError) -> bool:
        """Whether a failed reservation may be the same request (same key) having won a race."""
        ...

    async def find(self, svc: Services, organization_id: str, key: str) -> Row | None: ...

    async def reserve(self, svc: Services, body: Body, ask: Ask) -> Reserved[Row]: ...

    async def send(self, svc: Services, row: Row, body: Body) -> Sent: ...

    async def settle(self, svc: Services, row: Row, sent: Sent) -> Row: ...

    async def refuse(self, svc: Services, row: Row, message: str) -> Row: ...


@observed_money
async def perform(
    op: MoneyOperation[Body, Row, Sent],
    svc: Services,
    org: Organization,
    body: Body,
    *,
    key: str,
) -> Outcome[Row]:
    """Reserve and send (or replay, or finish) the operation under (organization, `key`)."""
    hashed = op.request_hash(body)
    stored = await op.find(svc, org.id, key)
    if stored is not None:
        return await _resume(op, svc, org, stored, body, hashed)
    account_id = require_ready(org)
    try:
        reserved = await op.reserve(svc, body, Ask(org, key, hashed, account_id))
    except ApiError as exc:
        if isinstance(exc, WorkerError) and exc.code == "idempotency_key_reused":
            raise key_reused() from None
        if not op.raced(exc):
            raise
        # The same request (same key) running concurrently reserved first: this one answers with
        # that row, as a replay does.
        stored = await op.find(svc, org.id, key)
        if stored is None:
            raise
        return await _resume(op, svc, org, stored, body, hashed)
    if not reserved.created:
        return await _resume(op, svc, org, reserved.row, body, hashed)
    return await _send(op, svc, reserved.row, body, replayed=False)


async def _resume(
    op: MoneyOperation[Body, Row, Sent],
    svc: Services,
    org: Organization,
    row: Row,
    body: Body,
    hashed: str,
) -> Outcome[Row]:
    if row.request_hash != hashed:
        raise key_reused()
    if not row.waiting:
        return Outcome(row, replayed=True)
    # Whether Stripe made it is unknown: finish it with the same Stripe key, but only to an
    # account that can still take it and inside Stripe's idempotency window.
    require_ready(org)
    if too_old_to_resend(row.reserved_at):
        raise outcome_unknown(op.noun)
    return await _send(op, svc, row, body, replayed=True)


async def _send(
    op: MoneyOperation[Body, Row, Sent], svc: Services, row: Row, body: Body, *, replayed: bool
) -> Outcome[Row]:
    """Send the reserved (possibly retried) operation with the amounts stored in the ledger."""
    try:
        sent = await op.send(svc, row, body)
    except ApiError as exc:
        if not is_definitive(exc):
            raise  # left waiting: a retry with the same key (or its webhook) finishes it
        return Outcome(await op.refuse(svc, row, exc.message), replayed=False)
    done = await op.settle(svc, row, sent)
    return Outcome(done, replayed=replayed and not done.waiting)


def too_old_to_resend(reserved_at: str | None) -> bool:
    if reserved_at is None:
        return False
    reserved = epoch_seconds(reserved_at)
    # An unknown age is too old: do not risk a second transfer.
    return reserved is None or time.time() - reserved > RESEND_WINDOW.total_seconds()


def epoch_seconds(iso: str | None) -> float | None:
    """The ledger's ISO-8601 time (naive means UTC) in Unix seconds; None when absent or not one."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def outcome_unknown(what: str) -> Conflict:
    return Conflict(
        code=f"{what}_outcome_unknown",
        message=f"Whether Stripe made this {what} is unknown and its idempotency window has "
        "passed; it is not sent again. Contact support to reconcile it.",
    )


def key_reused() -> Conflict:
    return Conflict(
        code="idempotency_key_reused",
        message="This Idempotency-Key was used with a different request.",
    )


def require_ready(org: Organization) -> str:
    account_id = org.stripe_connect_account_id
    if not account_id or org.stripe_connect_status != "active" or not org.payouts_enabled:
        raise Conflict(
            code="account_not_ready",
            message="The organization's Stripe account cannot receive transfers yet.",
        )
    return account_id
