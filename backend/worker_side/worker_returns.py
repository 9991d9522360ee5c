"""The Worker calls for money that comes back (docs/internal-api.md: `returns/*`, `debts*`,
`history/returns`, `webhook-events/apply-dispute`): a part of `WorkerClient`, kept in its own
module so each stays small."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from backend.money.money_back import Forgive, Part
from backend.worker_side.return_models import Debts, ReturnRow, ReturnsReserved, ReturnsState
from backend.worker_side.worker_models import Payment
from backend.worker_side.worker_transport import WorkerTransport


class ReturnPage(BaseModel):
    returns: list[ReturnRow]
    next_before_id: int | None = None


class DisputeApplied(BaseModel):
    completed: bool
    payment: Payment


class _Returns(BaseModel):
    returns: list[ReturnRow]


class _DebtRows(BaseModel):
    debts: list[ReturnRow]


class _Retried(BaseModel):
    retried: bool
    row: ReturnRow


class ReturnCalls(WorkerTransport):
    async def returns_state(self, charge_id: str) -> ReturnsState | None:
        """What a payment's returns are planned from; None when no payment has this charge."""
        path = "/api/internal/returns/{}"
        return await self._find("GET", path, ReturnsState, charge_id)

    async def reserve_returns(
        self,
        charge_id: str,
        *,
        returns_version: int,
        parts: Sequence[tuple[Part, str, str, str]],
        forgive: Sequence[tuple[Forgive, str]] = (),
    ) -> ReturnsReserved:
        """Each part with its (cause, cause id, idempotency key); each forgiveness with its
        reference. `WorkerError` `returns_conflict` when another plan was reserved first."""
        body: dict[str, Any] = {
            "source_transaction": charge_id,
            "returns_version": returns_version,
            "parts": [
                {
                    "kind": part.kind,
                    "stripe_transfer_id": part.stripe_transfer_id,
                    "cause": cause,
                    "cause_id": cause_id,
                    "idempotency_key": key,
                    "amount": part.amount,
                    "status": part.status,
                }
                for part, cause, cause_id, key in parts
            ],
            "forgive": [
                {"return_id": f.return_id, "amount": f.amount, "reference": reference}
                for f, reference in forgive
            ],
        }
        return await self._post("/api/internal/returns/reserve", ReturnsReserved, body)

    async def complete_returns(self, results: Sequence[dict[str, Any]]) -> list[ReturnRow]:
        body = {"results": list(results)}
        return (await self._post("/api/internal/returns/complete", _Returns, body)).returns

    async def retry_return(
        self, idempotency_key: str, *, taking: tuple[str, int] | None = None
    ) -> tuple[bool, ReturnRow]:
        """Another attempt at a debt: of its own transfer, or `taking` (transfer, amount) of a
        later one."""
        body: dict[str, Any] = {"idempotency_key": idempotency_key}
        if taking is not None:
            body["reversing_transfer"], body["reversing_amount"] = taking
        reply = await self._post("/api/internal/returns/retry", _Retried, body)
        return reply.retried, reply.row

    async def organization_debts(self, organization_id: str) -> Debts:
        path = "/api/internal/debts/{}"
        return await self._get(path, Debts, organization_id)

    async def all_debts(self) -> list[ReturnRow]:
        return (await self._get("/api/internal/debts", _DebtRows)).debts

    async def return_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> ReturnPage:
        body: dict[str, Any] = {"organization_id": organization_id, "limit": limit}
        if before_id is not None:
            body["before_id"] = before_id
        return await self._post("/api/internal/history/returns", ReturnPage, body, read=True)

    async def apply_dispute(
        self,
        *,
        claim: tuple[str, str],
        charge_id: str,
        dispute_id: str,
        dispute_status: str,
        amount_withdrawn: int,
        hold_if_transferred: bool,
    ) -> DisputeApplied:
        """A dispute event's record on its payment and its claim completed in one D1 batch,
        unless held (the payment has transfers or returns: plan them, then complete)."""
        body = {
            "event_id": claim[0],
            "claim_id": claim[1],
            "charge_id": charge_id,
            "dispute_id": dispute_id,
            "dispute_status": dispute_status,
            "amount_withdrawn": amount_withdrawn,
            "hold_if_transferred": hold_if_transferred,
        }
        path = "/api/internal/webhook-events/apply-dispute"
        return await self._post(path, DisputeApplied, body)
