"""The backend's only door to D1: typed calls to the Worker's internal API
(docs/internal-api.md), one method per route, over `WorkerTransport`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from backend.errors import Forbidden, Unauthorized, WorkerUnavailable
from backend.models import (
    ApplyResult,
    Checkpoint,
    Claim,
    ConnectedAccount,
    CreateAccountResult,
    LedgerPayout,
    LedgerTransfer,
    Organization,
    Payment,
    PayoutReserveResult,
    ReserveResult,
    TransferOrigin,
    Unsettled,
    UpdateResult,
    UserContext,
)
from backend.stripe_events import PayoutObject
from backend.stripe_models import StripePayout
from backend.worker_transport import WorkerError, WorkerTransport

__all__ = ["PayoutPage", "TransferPage", "WorkerClient", "WorkerError"]


class WorkerClient(WorkerTransport):
    async def health(self) -> bool:
        try:
            status, _ = await self._call("GET", "/api/internal/health", read=True)
        except WorkerUnavailable:
            return False
        return status == 200

    async def verify_user_context(
        self, token: str, *, organization_id: str | None = None
    ) -> UserContext:
        body: dict[str, Any] = {"token": token}
        if organization_id is not None:
            body["organization_id"] = organization_id
        try:
            context = await self._request(
                "POST", "/api/internal/verify-user-context", body, read=True, model=UserContext
            )
        except WorkerError as exc:
            if exc.status == 401:
                raise Unauthorized() from None
            if exc.status == 403:
                raise Forbidden() from None
            if exc.status == 400:
                # An id the Worker cannot even look up is, to the user, an org they do not hold.
                raise (Forbidden() if organization_id is not None else Unauthorized()) from None
            raise
        return context

    async def get_organization(self, organization_id: str) -> Organization:
        reply = await self._request(
            "GET",
            f"/api/internal/organization/{_segment(organization_id)}",
            read=True,
            model=_OrganizationReply,
        )
        return reply.organization

    async def find_organization_by_account(self, stripe_account_id: str) -> Organization | None:
        reply = await self._find(
            f"/api/internal/organization-by-account/{_segment(stripe_account_id)}",
            model=_OrganizationReply,
        )
        return None if reply is None else reply.organization

    async def update_organization(
        self, organization_id: str, fields: Mapping[str, Any], *, synced_at: float | None
    ) -> UpdateResult:
        body: dict[str, Any] = {"organization_id": organization_id, "fields": dict(fields)}
        if synced_at is not None:
            body["synced_at"] = synced_at
        return await self._request(
            "POST", "/api/internal/update-organization", body, read=False, model=UpdateResult
        )

    async def create_connect_account(
        self, organization_id: str, stripe_account_id: str
    ) -> CreateAccountResult:
        return await self._request(
            "POST",
            "/api/internal/create-connect-account",
            {"organization_id": organization_id, "stripe_account_id": stripe_account_id},
            read=False,
            model=CreateAccountResult,
        )

    async def set_platform_fee(
        self, organization_id: str, *, percent: float, fixed: int | None
    ) -> Organization:
        body: dict[str, Any] = {"organization_id": organization_id, "platform_fee_percent": percent}
        if fixed is not None:
            body["platform_fee_fixed"] = fixed
        reply = await self._request(
            "POST", "/api/internal/set-platform-fee", body, read=False, model=_OrganizationReply
        )
        return reply.organization

    async def claim_event(
        self,
        event_id: str,
        *,
        event_type: str,
        event_created: int,
        stripe_account_id: str | None,
        lease_seconds: int = 60,
        snapshot: Mapping[str, Any] | None = None,
    ) -> Claim:
        """With `snapshot` (an `account.updated` event's fields), the claim's batch also applies
        it under the new claim and completes the claim when it may (`Claim.completed`)."""
        body: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "event_created": event_created,
            "stripe_account_id": stripe_account_id,
            "lease_seconds": lease_seconds,
        }
        if snapshot is not None:
            body["snapshot"] = snapshot
        return await self._request(
            "POST", "/api/internal/webhook-events/claim", body, read=False, model=Claim
        )

    async def complete_event(
        self, event_id: str, *, claim_id: str, outcome: str, error: str | None = None
    ) -> str:
        body: dict[str, Any] = {"event_id": event_id, "claim_id": claim_id, "outcome": outcome}
        if error is not None:
            body["error"] = error[:500]
        reply = await self._request(
            "POST", "/api/internal/webhook-events/complete", body, read=False, model=_StatusReply
        )
        return reply.status

    async def apply_organization(
        self,
        event_id: str,
        *,
        claim_id: str,
        organization_id: str,
        fields: Mapping[str, Any],
        event_created: int,
    ) -> ApplyResult:
        """An event's account snapshot written under "only if from a later second" and its claim
        completed, in one D1 batch; `completed` is false on a same-second tie (read Stripe)."""
        return await self._request(
            "POST",
            "/api/internal/webhook-events/apply-organization",
            {
                "event_id": event_id,
                "claim_id": claim_id,
                "organization_id": organization_id,
                "fields": dict(fields),
                "event_created": event_created,
            },
            read=False,
            model=ApplyResult,
        )

    async def reserve_transfer(self, **fields: Any) -> ReserveResult:
        return await self._request(
            "POST", "/api/internal/transfers/reserve", fields, read=False, model=ReserveResult
        )

    async def find_transfer(
        self, organization_id: str, idempotency_key: str
    ) -> LedgerTransfer | None:
        """The ledger row for this idempotency key, or None (a replay's lookup)."""
        reply = await self._find(
            f"/api/internal/transfers/{_segment(organization_id)}/{_segment(idempotency_key)}",
            model=_TransferReply,
        )
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
        body: dict[str, Any] = {
            "organization_id": organization_id,
            "idempotency_key": idempotency_key,
            "status": status,
        }
        if stripe_transfer_id is not None:
            body["stripe_transfer_id"] = stripe_transfer_id
        if failure_message is not None:
            body["failure_message"] = failure_message[:500]
        reply = await self._request(
            "POST", "/api/internal/transfers/complete", body, read=False, model=_TransferReply
        )
        return reply.transfer

    async def sync_transfer(
        self,
        stripe_transfer_id: str,
        *,
        amount_reversed: int,
        reversed: bool,
        origin: TransferOrigin | None = None,
    ) -> LedgerTransfer | None:
        """The row holding this Stripe transfer after the update, or None (not made through us).
        With `origin`, a `pending` row it names takes the transfer first; a named row that cannot
        (finished, or other money) raises `WorkerError` `transfer_mismatch`."""
        body: dict[str, Any] = {
            "stripe_transfer_id": stripe_transfer_id,
            "amount_reversed": amount_reversed,
            "reversed": reversed,
        }
        if origin is not None:
            body.update(origin.model_dump())
        try:
            reply = await self._request(
                "POST", "/api/internal/transfers/sync", body, read=False, model=_TransferReply
            )
        except WorkerError as exc:
            if exc.status == 404:
                return None
            raise
        return reply.transfer

    async def record_payment(self, payment: Mapping[str, Any]) -> Payment:
        """Store a payment as Stripe shows it; `WorkerError` `payment_conflict` when it is
        recorded for another organization or with other amounts."""
        reply = await self._request(
            "POST", "/api/internal/payments/record", payment, read=False, model=_PaymentReply
        )
        return reply.payment

    async def list_untransferred_payments(self, organization_id: str) -> list[Payment]:
        reply = await self._request(
            "GET",
            f"/api/internal/payments/{_segment(organization_id)}/untransferred",
            read=True,
            model=_PaymentsReply,
        )
        return reply.payments

    async def transfer_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> TransferPage:
        return await self._request(
            "POST",
            "/api/internal/history/transfers",
            _page(organization_id, limit, before_id),
            read=True,
            model=TransferPage,
        )

    async def payout_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> PayoutPage:
        return await self._request(
            "POST",
            "/api/internal/history/payouts",
            _page(organization_id, limit, before_id),
            read=True,
            model=PayoutPage,
        )

    async def set_auto_transfer(self, organization_id: str, *, enabled: bool) -> Organization:
        reply = await self._request(
            "POST",
            "/api/internal/set-auto-transfer",
            {"organization_id": organization_id, "enabled": enabled},
            read=False,
            model=_OrganizationReply,
        )
        return reply.organization

    async def reserve_payout(self, **fields: Any) -> PayoutReserveResult:
        return await self._request(
            "POST", "/api/internal/payouts/reserve", fields, read=False, model=PayoutReserveResult
        )

    async def find_payout(self, organization_id: str, idempotency_key: str) -> LedgerPayout | None:
        """The payout reserved under this idempotency key, or None (a replay's lookup)."""
        reply = await self._find(
            f"/api/internal/payouts/{_segment(organization_id)}/{_segment(idempotency_key)}",
            model=_PayoutReply,
        )
        return None if reply is None else reply.payout

    async def refuse_payout(
        self,
        organization_id: str,
        idempotency_key: str,
        *,
        failure_code: str | None,
        failure_message: str | None,
    ) -> LedgerPayout:
        body: dict[str, Any] = {
            "organization_id": organization_id,
            "idempotency_key": idempotency_key,
            "failure_code": failure_code,
            "failure_message": None if failure_message is None else failure_message[:500],
        }
        reply = await self._request(
            "POST", "/api/internal/payouts/refuse", body, read=False, model=_PayoutReply
        )
        return reply.payout

    async def upsert_payout(
        self,
        payout: StripePayout | PayoutObject,
        *,
        organization_id: str,
        stripe_account_id: str,
        event_created: int,
        idempotency_key: str | None,
    ) -> LedgerPayout:
        """Store a payout as Stripe shows it (our route's answer or its webhook's payload)."""
        fields = ("amount", "currency", "status", "failure_code", "failure_message", "arrival_date")
        body = {
            **payout.model_dump(include=set(fields)),
            "stripe_payout_id": payout.id,
            "organization_id": organization_id,
            "stripe_account_id": stripe_account_id,
            "event_created": event_created,
            "idempotency_key": idempotency_key,
        }
        reply = await self._request(
            "POST", "/api/internal/payouts/upsert", body, read=False, model=_PayoutReply
        )
        return reply.payout

    async def apply_payout(
        self,
        event_id: str,
        *,
        claim_id: str,
        payout: PayoutObject,
        organization_id: str,
        stripe_account_id: str,
        event_created: int,
        idempotency_key: str | None,
    ) -> LedgerPayout:
        """A `payout.*` event's payout stored as `upsert_payout` stores it, and the event's claim
        completed, in one D1 batch."""
        fields = ("amount", "currency", "status", "failure_code", "failure_message", "arrival_date")
        body = {
            **payout.model_dump(include=set(fields)),
            "event_id": event_id,
            "claim_id": claim_id,
            "stripe_payout_id": payout.id,
            "organization_id": organization_id,
            "stripe_account_id": stripe_account_id,
            "event_created": event_created,
            "idempotency_key": idempotency_key,
        }
        reply = await self._request(
            "POST",
            "/api/internal/webhook-events/apply-payout",
            body,
            read=False,
            model=_PayoutReply,
        )
        return reply.payout

    async def list_unsettled(self) -> Unsettled:
        """Transfer rows still `pending` and payout rows still `reserved`, oldest first (≤ 200
        each): the rows whose outcome at Stripe reconciliation must find out."""
        return await self._request(
            "GET", "/api/internal/reconciliation/unsettled", read=True, model=Unsettled
        )

    async def list_connected_accounts(self) -> list[ConnectedAccount]:
        reply = await self._request(
            "GET", "/api/internal/reconciliation/accounts", read=True, model=_AccountsReply
        )
        return reply.accounts

    async def list_checkpoints(self) -> dict[str, Checkpoint]:
        reply = await self._request(
            "GET", "/api/internal/reconciliation/checkpoints", read=True, model=_CheckpointsReply
        )
        return {c.scope: c for c in reply.checkpoints}

    async def advance_checkpoint(self, scope: str, *, event_created: int, event_id: str) -> bool:
        """Record that recovery settled `scope`'s events up to this one (never moves back)."""
        body = {"scope": scope, "event_created": event_created, "event_id": event_id}
        reply = await self._request(
            "POST", "/api/internal/reconciliation/checkpoints", body, read=False, model=_Advanced
        )
        return reply.advanced


class TransferPage(BaseModel):
    transfers: list[dict[str, Any]]
    next_before_id: int | None = None


class PayoutPage(BaseModel):
    payouts: list[dict[str, Any]]
    next_before_id: int | None = None


class _OrganizationReply(BaseModel):
    organization: Organization


class _StatusReply(BaseModel):
    status: str


class _TransferReply(BaseModel):
    transfer: LedgerTransfer


class _PayoutReply(BaseModel):
    payout: LedgerPayout


class _PaymentReply(BaseModel):
    payment: Payment


class _PaymentsReply(BaseModel):
    payments: list[Payment]


class _AccountsReply(BaseModel):
    accounts: list[ConnectedAccount]


class _CheckpointsReply(BaseModel):
    checkpoints: list[Checkpoint]


class _Advanced(BaseModel):
    advanced: bool


def _page(organization_id: str, limit: int, before_id: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"organization_id": organization_id, "limit": limit}
    if before_id is not None:
        body["before_id"] = before_id
    return body


def _segment(value: str) -> str:
    return quote(value, safe="")
