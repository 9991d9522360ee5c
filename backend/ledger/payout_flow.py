"""The manual payout: an organization's available balance (or part of it) to its bank, as one
ledgered money operation (`money_operation.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.errors import ApiError, InvalidRequest
from backend.core.models import PayoutRequest
from backend.ledger.money_operation import Ask, LedgerTag, Outcome, Reserved, hash_request, perform
from backend.money.fees import FeeError, normalise_currency, validate_amount
from backend.money.payout_amount import full_available_balance
from backend.services import Services
from backend.stripe_side.stripe_gateway import idempotency_key
from backend.stripe_side.stripe_models import StripePayout
from backend.worker_side.worker_models import LedgerPayout, Organization


@dataclass(frozen=True, slots=True)
class PayoutOperation:
    noun: str = "payout"

    def request_hash(self, body: PayoutRequest) -> str:
        """The request as sent: an absent amount ("the available balance") stays absent here,
        while the reservation stores the amount it resolved to — the balance of the first
        request, not of a replay."""
        fields = {"organization_id": body.organization_id, "amount": body.amount}
        return hash_request({**fields, "currency": body.currency.lower()})

    def raced(self, exc: ApiError) -> bool:
        return False  # the reservation is conditional on the key: a race answers created=False

    async def find(self, svc: Services, organization_id: str, key: str) -> LedgerPayout | None:
        return await svc.worker.find_payout(organization_id, key)

    async def reserve(self, svc: Services, body: PayoutRequest, ask: Ask) -> Reserved[LedgerPayout]:
        currency = normalise_currency(body.currency)
        amount = body.amount
        if amount is None:
            available, pending = await svc.stripe.retrieve_funds(ask.account_id)
            amount = full_available_balance(available, pending, currency=currency)
        try:
            validate_amount(amount, currency)
        except FeeError as exc:
            raise InvalidRequest(code="invalid_amount", message=str(exc)) from None
        reserved = await svc.worker.reserve_payout(
            organization_id=ask.org.id,
            idempotency_key=ask.key,
            request_hash=ask.hashed,
            amount=amount,
            currency=currency,
            stripe_account_id=ask.account_id,
        )
        return Reserved(reserved.payout, created=reserved.created)

    async def send(self, svc: Services, row: LedgerPayout, body: PayoutRequest) -> StripePayout:
        key = row.idempotency_key or ""
        return await svc.stripe.create_payout(
            row.stripe_account_id or "",
            amount=row.amount,
            currency=row.currency,
            key=idempotency_key("payout", row.organization_id, key),
            metadata=LedgerTag(organization_id=row.organization_id, idempotency_key=key).metadata(),
        )

    async def settle(self, svc: Services, row: LedgerPayout, sent: StripePayout) -> LedgerPayout:
        return await svc.worker.upsert_payout(
            sent,
            organization_id=row.organization_id,
            stripe_account_id=row.stripe_account_id or "",
            event_created=sent.created,
            idempotency_key=row.idempotency_key or "",
        )

    async def refuse(self, svc: Services, row: LedgerPayout, message: str) -> LedgerPayout:
        return await svc.worker.refuse_payout(
            row.organization_id,
            row.idempotency_key or "",
            failure_code=None,
            failure_message=message,
        )


async def payout(
    svc: Services, org: Organization, *, key: str, body: PayoutRequest
) -> Outcome[LedgerPayout]:
    """Reserve and send (or replay) the payout under (organization, idempotency key)."""
    return await perform(PayoutOperation(), svc, org, body, key=key)
