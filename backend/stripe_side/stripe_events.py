"""Stripe events as pydantic models: the envelope and every field a handler reads.

A validly signed event is not necessarily a sane one (a leaked secret, a test tool, a bug of
ours upstream). Whatever a handler writes to D1 passes one of these models first — ids that
look like Stripe's, integers that are integers (never `1.5` or `"100"` coerced), lowercase
currencies, known statuses — and a failure is an `EventRejected` with a short reason that names
the field, never its value. The webhook route records it as `rejected` and acknowledges it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from backend.core.json_depth import json_depth_within

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_EVENT_DEPTH = 64  # Stripe's deepest objects nest about a dozen levels
MAX_MONEY = 10**12  # the Worker's bound on ledger amounts

EventId = Annotated[str, StringConstraints(pattern=r"^evt_[A-Za-z0-9_]{1,120}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]{1,100}$")]
AccountId = Annotated[str, StringConstraints(pattern=r"^acct_[A-Za-z0-9_]{1,100}$")]
PayoutId = Annotated[str, StringConstraints(pattern=r"^po_[A-Za-z0-9_]{1,100}$")]
TransferId = Annotated[str, StringConstraints(pattern=r"^tr_[A-Za-z0-9_]{1,100}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
Money = Annotated[int, Field(ge=0, le=MAX_MONEY)]
UnixTime = Annotated[int, Field(ge=0, le=2**53)]
ShortCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")]
Text = Annotated[str, StringConstraints(max_length=500)]
Metadata = dict[Annotated[str, StringConstraints(max_length=40)], Annotated[str, Field()]]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class EventRejected(Exception):
    """A validly signed event that must not be applied; `reason` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


def rejection_reason(exc: ValidationError, *, prefix: str) -> str:
    """`invalid <field>: <kind>` for the first problem — the path and pydantic's error type only."""
    first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "event"
    return f"invalid {prefix}{field}: {first['type']}"


def parse_as(model: type[M], value: Any, *, prefix: str = "data.object.") -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise EventRejected(rejection_reason(exc, prefix=prefix)) from None


# --- the envelope -----------------------------------------------------------------------------


class _EventData(_Strict):
    object: dict[str, Any]


class Envelope(_Strict):
    id: EventId
    type: EventType
    created: UnixTime
    account: AccountId | None = None
    data: _EventData


class Unparsed(_Strict):
    """What can still be said of an event whose envelope is unusable, to record its rejection:
    a stand-in id derived from the body (a redelivery maps to the same row) and a safe type."""

    id: str
    type: str
    created: int
    account: str | None
    reason: str


_EVENT_ID: TypeAdapter[str] = TypeAdapter(EventId)
_EVENT_TYPE: TypeAdapter[str] = TypeAdapter(EventType)
_ACCOUNT_ID: TypeAdapter[str] = TypeAdapter(AccountId)
_UNIX_TIME: TypeAdapter[int] = TypeAdapter(UnixTime)


def _safe(value: Any, adapter: TypeAdapter[T]) -> T | None:
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError:
        return None


def parse_envelope(payload: bytes) -> Envelope | Unparsed:
    """The verified body, parsed once: pydantic reads the bytes directly (no intermediate
    `json.loads` tree for the envelope's own fields); only a body that fails takes the slow path
    below, which names what is wrong."""
    if json_depth_within(payload, MAX_EVENT_DEPTH):
        try:
            return Envelope.model_validate_json(payload)
        except ValidationError:
            pass
    return _unparsed_or_envelope(payload)


def _unparsed_or_envelope(payload: bytes) -> Envelope | Unparsed:
    digest = hashlib.sha256(payload).hexdigest()[:40]
    stand_in = f"unparsed_{digest}"
    if not json_depth_within(payload, MAX_EVENT_DEPTH):
        return Unparsed(id=stand_in, type="unknown", created=0, account=None, reason="too deep")
    try:
        data: Any = json.loads(payload)
    except (ValueError, RecursionError):
        return Unparsed(id=stand_in, type="unknown", created=0, account=None, reason="not JSON")
    if not isinstance(data, dict):
        return Unparsed(
            id=stand_in, type="unknown", created=0, account=None, reason="not a JSON object"
        )
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        event_id = _safe(data.get("id"), _EVENT_ID)
        return Unparsed(
            # The event's own id when it is a sane one (Stripe dedupes by it); else the stand-in.
            id=event_id or stand_in,
            type=_safe(data.get("type"), _EVENT_TYPE) or "unknown",
            created=_safe(data.get("created"), _UNIX_TIME) or 0,
            account=_safe(data.get("account"), _ACCOUNT_ID),
            reason=rejection_reason(exc, prefix=""),
        )


# --- what the handlers read -------------------------------------------------------------------


class AccountRef(_Strict):
    id: AccountId
    # Lenient on purpose: only `organization_id` is read (`is_organization_id`), and a stranger's
    # metadata must not make an account event unreadable.
    metadata: dict[str, Any] = Field(default_factory=dict)


OrganizationId = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]
_ORGANIZATION_ID: TypeAdapter[str] = TypeAdapter(OrganizationId)


def is_organization_id(value: object) -> bool:
    return _safe(value, _ORGANIZATION_ID) is not None


class _ChargeSource(_Strict):
    object: Literal["charge"]
    payment_intent: Annotated[str, StringConstraints(pattern=r"^(pi_|ch_)")]


class _IntentSource(_Strict):
    object: Literal["payment_intent"] = "payment_intent"
    id: Annotated[str, StringConstraints(pattern=r"^(pi_|ch_)")]


class _RefundSource(_Strict):
    object: Literal["refund"]
    charge: Annotated[str, StringConstraints(pattern=r"^ch_")]


def parse_payment_source(obj: Mapping[str, Any]) -> str | None:
    """The payment a `payment_intent.*`, `charge.*` or `refund.*` event is about, or None when
    the payload names none we made (the payment itself is then re-read from Stripe by that id)."""
    if obj.get("object") == "refund":
        refund = _safe(obj, TypeAdapter(_RefundSource))
        return None if refund is None else refund.charge
    if obj.get("object") == "charge":
        charge = _safe(obj, TypeAdapter(_ChargeSource))
        return None if charge is None else charge.payment_intent
    if obj.get("object") not in (None, "payment_intent"):
        return None
    intent = _safe(obj, TypeAdapter(_IntentSource))
    return None if intent is None else intent.id


_ACCOUNT_FLAGS = ("charges_enabled", "payouts_enabled", "details_submitted")


def full_account(obj: Mapping[str, Any], account_id: str) -> Mapping[str, Any] | None:
    """The event's object when it is a whole account (the one the event is about, with the flags
    and requirements the status is mapped from) — a snapshot worth applying; else None."""
    if obj.get("object") != "account" or obj.get("id") != account_id:
        return None
    if not all(isinstance(obj.get(flag), bool) for flag in _ACCOUNT_FLAGS):
        return None
    return obj if isinstance(obj.get("requirements"), dict) else None


class CapabilityRef(_Strict):
    account: AccountId


PayoutStatus = Literal["pending", "in_transit", "paid", "failed", "canceled"]


class PayoutObject(_Strict):
    id: PayoutId
    amount: Money
    currency: Currency
    status: PayoutStatus
    arrival_date: UnixTime | None = None
    failure_code: ShortCode | None = None
    failure_message: Text | None = None
    metadata: Metadata = Field(default_factory=dict)


class TransferObject(_Strict):
    id: TransferId
    amount: Money
    currency: Currency
    amount_reversed: Money = 0
    reversed: bool = False
    destination: AccountId | None = None
    metadata: Metadata = Field(default_factory=dict)
