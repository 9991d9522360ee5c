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

import logging
from dataclasses import dataclass
from typing import Literal

from backend.core.errors import ApiError, Conflict, InvalidRequest
from backend.core.models import TransferRequest
from backend.ledger.debt_recovery import recover_from_transfer
from backend.ledger.money_operation import Ask, LedgerTag, Outcome, Reserved, hash_request, perform
from backend.money.fees import FeeError, compute_fee, normalise_currency, validate_amount
from backend.services import Services
from backend.stripe_side.stripe_gateway import idempotency_key
from backend.stripe_side.stripe_models import StripePayment, StripeTransfer
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import LedgerTransfer, Organization, Payment

Initiator = Literal["member", "platform", "operator", "automatic"]
logger = logging.getLogger("backend.transfers")


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


def _refuse_returned(recorded: Payment) -> None:
    """A payment whose money went back to the customer, or that a dispute holds, is not the
    organization's to transfer (what is left of a partly refunded one still is)."""
    if recorded.disputed:
        raise Conflict(
            code="source_disputed",
            message="This payment is disputed: it cannot be transferred while the dispute stands.",
        )
    if recorded.amount_refunded >= recorded.amount:
        raise Conflict(code="source_refunded", message="This payment was refunded in full.")


def stripe_key(row: LedgerTransfer) -> str:
    """A payment's n-th transfer has one Stripe key whoever asks for it: two requests that both
    got past the ledger (they cannot) would still move the money once."""
    if row.source_transaction and row.source_seq:
        return idempotency_key("source-transfer", row.source_transaction, str(row.source_seq))
    return idempotency_key("transfer", row.organization_id, row.idempotency_key)


def stripe_metadata(row: LedgerTransfer, extra: dict[str, str] | None) -> dict[str, str]:
    metadata = {
        **(extra or {}),
        **LedgerTag(
            organization_id=row.organization_id, idempotency_key=row.idempotency_key
        ).metadata(),
        "gross_amount": str(row.gross_amount),
        "fee_amount": str(row.fee_amount),
    }
    if row.source_transaction:
        metadata["source_transaction"] = row.source_transaction
    return metadata


async def _amounts(svc: Services, org: Organization, body: TransferRequest) -> dict[str, object]:
    """What the ledger reserves: the gross (all that is left of the payment, or an adjustment),
    the platform's fee and the net, with the payment it comes from."""
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
        _refuse_returned(recorded)
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
        "gross_amount": fee.gross_amount,
        "fee_amount": fee.fee_amount,
        "net_amount": fee.net_amount,
        "currency": fee.currency,
    }
    if payment is not None:
        fields["source_transaction"] = payment.charge_id
        fields["payment"] = payment.record(org.id)
    else:
        fields["reason"] = body.reason
    return fields


@dataclass(frozen=True, slots=True)
class TransferOperation:
    """A platform-fee transfer; `initiated_by` is stored on the ledger row."""

    initiated_by: Initiator
    noun: str = "transfer"

    def request_hash(self, body: TransferRequest) -> str:
        return hash_request(
            {
                "organization_id": body.organization_id,
                "source_transaction": body.source_transaction,
                "amount": body.amount,
                "currency": body.currency.lower() if body.currency else None,
                "reason": body.reason,
                "description": body.description,
                "transfer_group": body.transfer_group,
                "metadata": body.metadata or {},
            }
        )

    def raced(self, exc: ApiError) -> bool:
        return exc.code == "source_exhausted"

    async def find(self, svc: Services, organization_id: str, key: str) -> LedgerTransfer | None:
        return await svc.worker.find_transfer(organization_id, key)

    async def reserve(
        self, svc: Services, body: TransferRequest, ask: Ask
    ) -> Reserved[LedgerTransfer]:
        amounts = await _amounts(svc, ask.org, body)
        reserved = await svc.worker.reserve_transfer(
            organization_id=ask.org.id,
            idempotency_key=ask.key,
            request_hash=ask.hashed,
            stripe_account_id=ask.account_id,
            initiated_by=self.initiated_by,
            **amounts,
        )
        return Reserved(reserved.transfer, created=reserved.created)

    async def send(
        self, svc: Services, row: LedgerTransfer, body: TransferRequest
    ) -> StripeTransfer:
        return await svc.stripe.create_transfer(
            destination=row.stripe_account_id or "",
            amount=row.net_amount,
            currency=row.currency,
            key=stripe_key(row),
            transfer_group=body.transfer_group,
            description=body.description,
            metadata=stripe_metadata(row, body.metadata),
            source_transaction=row.source_transaction,
        )

    async def settle(
        self, svc: Services, row: LedgerTransfer, sent: StripeTransfer
    ) -> LedgerTransfer:
        return await svc.worker.complete_transfer(
            row.organization_id, row.idempotency_key, status="succeeded", stripe_transfer_id=sent.id
        )

    async def refuse(self, svc: Services, row: LedgerTransfer, message: str) -> LedgerTransfer:
        return await svc.worker.complete_transfer(
            row.organization_id, row.idempotency_key, status="failed", failure_message=message
        )


async def transfer(
    svc: Services,
    org: Organization,
    *,
    key: str,
    body: TransferRequest,
    initiated_by: Initiator,
) -> Outcome[LedgerTransfer]:
    """Reserve and send (or replay) the transfer under (organization, idempotency key); a new
    transfer first pays what the organization owes the platform (`debt_recovery`)."""
    outcome = await perform(TransferOperation(initiated_by), svc, org, body, key=key)
    row = outcome.row
    if row.status == "succeeded" and row.stripe_transfer_id and row.owed > 0:
        try:
            await recover_from_transfer(
                svc,
                org.id,
                transfer_id=row.stripe_transfer_id,
                currency=row.currency,
                room=row.net_amount,
            )
        except ApiError as exc:
            # The transfer stands; the debt stays owed (or its part pending) for reconciliation.
            logger.warning(
                "transfer %s: debts not recovered (%s)", row.stripe_transfer_id, exc.code
            )
    return outcome
