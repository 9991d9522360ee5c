"""The Worker calls for the money ledger (docs/internal-api.md: `transfers/*`, `payments/*`,
`payouts/*`, `history/transfers|payouts`, and the `webhook-events/apply-*` calls that write those
rows under an event's claim): a part of `WorkerClient`, as `worker_returns` is, kept in its own
module so each stays small."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from backend.worker_side.worker_models import (
    LedgerPayout,
    LedgerTransfer,
    Payment,
    PaymentApplied,
    PayoutReserveResult,
    ReserveResult,
    TransferOrigin,
)
from backend.worker_side.worker_transport import WorkerTransport, clip, present


class PayoutAsStripeShowsIt(Protocol):
    """A payout as Stripe shows it: our route's answer (`StripePayout`) or a webhook's payload
    (`PayoutObject`). A protocol, so the Worker side need not import the Stripe side's models."""

    @property
    def id(self) -> str: ...

    def model_dump(self, *, include: set[str]) -> dict[str, Any]: ...


class LedgerCalls(WorkerTransport):
    async def reserve_transfer(self, **fields: Any) -> ReserveResult:
        return await self._post("/api/internal/transfers/reserve", ReserveResult, fields)

    async def find_transfer(
        self, organization_id: str, idempotency_key: str
    ) -> LedgerTransfer | None:
        """The ledger row for this idempotency key, or None (a replay's lookup)."""
        path = "/api/internal/transfers/{}/{}"
        reply = await self._find("GET", path, _TransferReply, organization_id, idempotency_key)
        return None if reply is None else reply.transfer

    async def complete_transfer(
        self,
        organization_id: str,
        idempotency_key: str,
        *,
        status: str,
        stripe_transfer_id: str | None = None,
        failure_message: str | None = None,
    ) -> LedgerTransfer:
        body = present(
            organization_id=organization_id,
            idempotency_key=idempotency_key,
            status=status,
            stripe_transfer_id=stripe_transfer_id,
            failure_message=clip(failure_message),
        )
        reply = await self._post("/api/internal/transfers/complete", _CompletedReply, body)
        return reply.transfer.model_copy(update={"owed": reply.owed})

    async def sync_transfer(
        self,
        stripe_transfer_id: str,
        *,
        amount_reversed: int,
        reversed: bool,
        origin: TransferOrigin | None = None,
        claim: tuple[str, str] | None = None,
    ) -> LedgerTransfer | None:
        """The row holding this Stripe transfer after the update, or None (not made through us).
        With `origin`, a `pending` row it names takes the transfer first; a named row that cannot
        (finished, or other money) raises `WorkerError` `transfer_mismatch`. With `claim` (a
        `transfer.*` event's id and claim id), the same D1 batch completes that claim — whichever
        of the three answers comes back; a lost claim raises `claim_lost` and writes nothing."""
        body: dict[str, Any] = {
            "stripe_transfer_id": stripe_transfer_id,
            "amount_reversed": amount_reversed,
            "reversed": reversed,
            **(origin.model_dump() if origin is not None else {}),
        }
        if claim is None:
            reply = await self._find(
                "POST", "/api/internal/transfers/sync", _TransferReply, body=body
            )
        else:
            body["event_id"], body["claim_id"] = claim
            path = "/api/internal/webhook-events/apply-transfer"
            reply = await self._find("POST", path, _TransferReply, body=body)
        return None if reply is None else reply.transfer

    async def record_payment(self, payment: Mapping[str, Any]) -> Payment:
        """Store a payment as Stripe shows it; `WorkerError` `payment_conflict` when it is
        recorded for another organization or with other amounts."""
        return (await self._post("/api/internal/payments/record", _PaymentReply, payment)).payment

    async def apply_payment(
        self,
        payment: Mapping[str, Any],
        *,
        claim: tuple[str, str],
        hold_if_auto_transfer: bool,
        hold_if_transferred: bool = False,
        refunds_exact: bool = False,
    ) -> PaymentApplied:
        """`record_payment` for a payment event, with its organization checked and the event's
        claim (its id and claim id) completed in the same D1 batch — unless
        `hold_if_auto_transfer` and the organization transfers automatically (`completed` false:
        transfer, then complete). `organization_not_found` and `payment_conflict` still complete
        the claim; a lost claim raises `claim_lost` and writes nothing. `hold_if_transferred`
        holds it while the payment has transfers or returns; `refunds_exact`: refunds as read."""
        body = {
            **payment,
            "event_id": claim[0],
            "claim_id": claim[1],
            "hold_if_auto_transfer": hold_if_auto_transfer,
            "hold_if_transferred": hold_if_transferred,
            "refunds_exact": refunds_exact,
        }
        path = "/api/internal/webhook-events/apply-payment"
        return await self._post(path, PaymentApplied, body)

    async def list_untransferred_payments(self, organization_id: str) -> list[Payment]:
        path = "/api/internal/payments/{}/untransferred"
        return (await self._get(path, _PaymentsReply, organization_id)).payments

    async def transfer_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> TransferPage:
        body = present(organization_id=organization_id, limit=limit, before_id=before_id)
        return await self._post("/api/internal/history/transfers", TransferPage, body, read=True)

    async def payout_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> PayoutPage:
        body = present(organization_id=organization_id, limit=limit, before_id=before_id)
        return await self._post("/api/internal/history/payouts", PayoutPage, body, read=True)

    async def reserve_payout(self, **fields: Any) -> PayoutReserveResult:
        return await self._post("/api/internal/payouts/reserve", PayoutReserveResult, fields)

    async def find_payout(self, organization_id: str, idempotency_key: str) -> LedgerPayout | None:
        """The payout reserved under this idempotency key, or None (a replay's lookup)."""
        path = "/api/internal/payouts/{}/{}"
        reply = await self._find("GET", path, _PayoutReply, organization_id, idempotency_key)
        return None if reply is None else reply.payout

    async def refuse_payout(
        self,
        organization_id: str,
        idempotency_key: str,
        *,
        failure_code: str | None,
        failure_message: str | None,
    ) -> LedgerPayout:
        body = {
            "organization_id": organization_id,
            "idempotency_key": idempotency_key,
            "failure_code": failure_code,
            "failure_message": clip(failure_message),
        }
        return (await self._post("/api/internal/payouts/refuse", _PayoutReply, body)).payout

    async def upsert_payout(
        self,
        payout: PayoutAsStripeShowsIt,
        *,
        organization_id: str,
        stripe_account_id: str,
        event_created: int,
        idempotency_key: str | None,
        claim: tuple[str, str] | None = None,
    ) -> LedgerPayout:
        """Store a payout as Stripe shows it (our route's answer or its webhook's payload). With
        `claim` (a `payout.*` event's id and claim id), the same D1 batch completes that claim."""
        fields = ("amount", "currency", "status", "failure_code", "failure_message", "arrival_date")
        body = {
            **payout.model_dump(include=set(fields)),
            "stripe_payout_id": payout.id,
            "organization_id": organization_id,
            "stripe_account_id": stripe_account_id,
            "event_created": event_created,
            "idempotency_key": idempotency_key,
        }
        if claim is None:
            return (await self._post("/api/internal/payouts/upsert", _PayoutReply, body)).payout
        body["event_id"], body["claim_id"] = claim
        path = "/api/internal/webhook-events/apply-payout"
        return (await self._post(path, _PayoutReply, body)).payout


class TransferPage(BaseModel):
    transfers: list[dict[str, Any]]
    next_before_id: int | None = None


class PayoutPage(BaseModel):
    payouts: list[dict[str, Any]]
    next_before_id: int | None = None


class _TransferReply(BaseModel):
    transfer: LedgerTransfer


class _CompletedReply(_TransferReply):
    owed: int = 0


class _PayoutReply(BaseModel):
    payout: LedgerPayout


class _PaymentReply(BaseModel):
    payment: Payment


class _PaymentsReply(BaseModel):
    payments: list[Payment]
