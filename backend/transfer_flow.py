"""The platform-fee transfer: pay an organization a payment the platform collected for it.

One flow for every caller (an org's owner/admin claiming a payment, the platform's services with
the platform key, the `payment_intent.succeeded` webhook when the org transfers automatically, and
the operator, who alone may transfer without a source). The payment is read from Stripe (its
organization from our metadata, its money from the charge), what is left of it comes from D1, and
the Worker reserves the gross in one conditional write, so one payment is never transferred twice,
even by two keys racing. The Stripe transfer carries `source_transaction` and an idempotency key
derived from (charge, n-th transfer of it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from backend.errors import ApiError, Conflict, InvalidRequest
from backend.fees import FeeError, compute_fee, normalise_currency, validate_amount
from backend.ledger_rules import (
    check_same_request,
    key_reused,
    outcome_unknown,
    require_ready,
    too_old_to_resend,
)
from backend.models import LedgerTransfer, Organization, Payment, StripePayment, TransferRequest
from backend.services import Services
from backend.stripe_gateway import idempotency_key, is_definitive
from backend.worker_client import WorkerError

Initiator = Literal["member", "platform", "operator", "automatic"]


@dataclass(frozen=True, slots=True)
class Outcome:
    row: LedgerTransfer
    replayed: bool


def request_hash(body: TransferRequest) -> str:
    canonical = json.dumps(
        {
            "organization_id": body.organization_id,
            "source_transaction": body.source_transaction,
            "amount": body.amount,
            "currency": body.currency.lower() if body.currency else None,
            "reason": body.reason,
            "description": body.description,
            "transfer_group": body.transfer_group,
            "metadata": body.metadata or {},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _source_not_found() -> ApiError:
    # The same answer for a payment that does not exist and one made for another organization:
    # the route is not a way to learn other organizations' payments.
    return ApiError(404, "source_not_found", "No payment of this organization has this id.")


def _exhausted(left: int, currency: str) -> Conflict:
    if left <= 0:
        return Conflict(
            code="source_exhausted", message="Nothing is left of this payment to transfer."
        )
    return Conflict(
        code="source_exhausted",
        message=f"Only {left} {currency} (minor units) of this payment is left to transfer.",
    )


def _below_minimum(minimum: int, currency: str, what: str) -> InvalidRequest:
    return InvalidRequest(
        code="below_minimum_transfer",
        message=f"{what} is below the minimum transfer of {minimum} {currency} (minor units).",
    )


async def _payment_for(svc: Services, org: Organization, body: TransferRequest) -> StripePayment:
    """The payment named by the request, if it was made for this organization and succeeded."""
    assert body.source_transaction is not None
    payment = await svc.stripe.retrieve_payment(body.source_transaction)
    if payment is None or payment.organization_id != org.id:
        raise _source_not_found()
    if payment.status != "succeeded" or payment.charge_id is None:
        raise Conflict(code="source_not_succeeded", message="This payment has not succeeded.")
    if body.currency is not None and normalise_currency(body.currency) != payment.currency:
        raise Conflict(
            code="source_currency_mismatch",
            message=f"This payment is in {payment.currency}, not {body.currency.lower()}.",
        )
    return payment


async def _recorded(svc: Services, org: Organization, payment: StripePayment) -> Payment:
    try:
        return await svc.worker.record_payment(payment.record(org.id))
    except WorkerError as exc:
        if exc.code == "payment_conflict":
            raise _source_not_found() from None
        raise


def _gross_of(svc: Services, body: TransferRequest, left: int, currency: str) -> int:
    """All that is left of the payment, or the amount asked for; never a crumb: the transfer and
    what it leaves behind are each zero or at least the currency's minimum."""
    minimum = svc.settings.min_transfer(currency)
    if left <= 0:
        raise _exhausted(0, currency)
    gross = left if body.amount is None else body.amount
    if gross > left:
        raise _exhausted(left, currency)
    if gross < minimum:
        raise _below_minimum(minimum, currency, "The transfer")
    if 0 < left - gross < minimum:
        raise _below_minimum(
            minimum, currency, f"What it would leave of the payment ({left - gross})"
        )
    return gross


async def transfer(
    svc: Services,
    org: Organization,
    *,
    key: str,
    body: TransferRequest,
    initiated_by: Initiator,
) -> Outcome:
    """Reserve and send (or replay) the transfer under (organization, idempotency key)."""
    hashed = request_hash(body)
    stored = await svc.worker.find_transfer(org.id, key)
    if stored is not None:
        return await _from_stored(svc, org, stored, body, hashed)
    try:
        return await _new(svc, org, key=key, body=body, hashed=hashed, initiated_by=initiated_by)
    except ApiError as exc:
        if exc.code != "source_exhausted":
            raise
        # The same request (same key) running concurrently took the payment first: this one
        # answers with that row, as a replay does.
        stored = await svc.worker.find_transfer(org.id, key)
        if stored is None:
            raise
        return await _from_stored(svc, org, stored, body, hashed)


async def _from_stored(
    svc: Services, org: Organization, stored: LedgerTransfer, body: TransferRequest, hashed: str
) -> Outcome:
    check_same_request(stored.request_hash, hashed)
    if stored.status != "pending":
        # A finished transfer is replayed whatever the account's state now.
        return Outcome(stored, replayed=True)
    # Whether Stripe made it is unknown: finish it with the same Stripe key, but only to an
    # account that can still take it and inside Stripe's idempotency window.
    _ready(org)
    if too_old_to_resend(stored.created_at):
        raise outcome_unknown("transfer")
    return await _execute(svc, stored, body, replayed=True)


async def _new(
    svc: Services,
    org: Organization,
    *,
    key: str,
    body: TransferRequest,
    hashed: str,
    initiated_by: Initiator,
) -> Outcome:
    account_id = _ready(org)
    payment: StripePayment | None = None
    if body.source_transaction is None:
        if body.amount is None or body.currency is None or not body.reason:
            raise InvalidRequest(
                code="adjustment_incomplete",
                message="A transfer without source_transaction needs amount, currency and reason.",
            )
        currency = normalise_currency(body.currency)
        gross = body.amount
        minimum = svc.settings.min_transfer(currency)
        if gross < minimum:
            raise _below_minimum(minimum, currency, "The transfer")
    else:
        payment = await _payment_for(svc, org, body)
        currency = payment.currency
        recorded = await _recorded(svc, org, payment)
        gross = _gross_of(svc, body, recorded.amount_remaining, currency)
    try:
        validate_amount(gross, currency)
        fee = compute_fee(
            gross,
            percent=org.platform_fee_percent,
            fixed_amount=org.platform_fee_fixed,
            currency=currency,
        )
    except FeeError as exc:
        raise InvalidRequest(code="invalid_amount", message=str(exc)) from None
    if fee.net_amount <= 0:
        raise InvalidRequest(
            code="invalid_amount", message="After the platform fee nothing is left to transfer."
        )
    fields: dict[str, object] = {
        "organization_id": org.id,
        "idempotency_key": key,
        "request_hash": hashed,
        "gross_amount": fee.gross_amount,
        "fee_amount": fee.fee_amount,
        "net_amount": fee.net_amount,
        "currency": fee.currency,
        "stripe_account_id": account_id,
        "initiated_by": initiated_by,
    }
    if payment is not None:
        fields["source_transaction"] = payment.charge_id
        fields["payment"] = payment.record(org.id)
    else:
        fields["reason"] = body.reason
    try:
        reserved = await svc.worker.reserve_transfer(**fields)
    except WorkerError as exc:
        if exc.code == "idempotency_key_reused":
            raise key_reused() from None
        raise
    row = reserved.transfer
    if not reserved.created and row.status != "pending":
        return Outcome(row, replayed=True)
    if not reserved.created and too_old_to_resend(row.created_at):
        raise outcome_unknown("transfer")
    return await _execute(svc, row, body, replayed=not reserved.created)


def _ready(org: Organization) -> str:
    return require_ready(
        org.stripe_connect_account_id,
        status=org.stripe_connect_status,
        payouts_enabled=org.payouts_enabled,
    )


def stripe_key(row: LedgerTransfer) -> str:
    """A payment's n-th transfer has one Stripe key whoever asks for it: two requests that both
    got past the ledger (they cannot) would still move the money once."""
    if row.source_transaction and row.source_seq:
        return idempotency_key("source-transfer", row.source_transaction, str(row.source_seq))
    return idempotency_key("transfer", row.organization_id, row.idempotency_key)


async def _execute(
    svc: Services, row: LedgerTransfer, body: TransferRequest, *, replayed: bool
) -> Outcome:
    """Send the reserved (possibly retried) transfer with the amounts stored in the ledger."""
    metadata = {
        **(body.metadata or {}),
        "organization_id": row.organization_id,
        "idempotency_key": row.idempotency_key,
        "gross_amount": str(row.gross_amount),
        "fee_amount": str(row.fee_amount),
    }
    if row.source_transaction:
        metadata["source_transaction"] = row.source_transaction
    try:
        sent = await svc.stripe.create_transfer(
            destination=row.stripe_account_id or "",
            amount=row.net_amount,
            currency=row.currency,
            key=stripe_key(row),
            transfer_group=body.transfer_group,
            description=body.description,
            metadata=metadata,
            source_transaction=row.source_transaction,
        )
    except ApiError as exc:
        if not is_definitive(exc):
            raise  # left pending: a retry with the same key (or its webhook) finishes it
        done = await svc.worker.complete_transfer(
            row.organization_id, row.idempotency_key, status="failed", failure_message=exc.message
        )
        return Outcome(done, replayed=False)
    done = await svc.worker.complete_transfer(
        row.organization_id, row.idempotency_key, status="succeeded", stripe_transfer_id=sent.id
    )
    return Outcome(done, replayed=replayed and done.status != "pending")
