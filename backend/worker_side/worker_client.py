"""The backend's only door to D1: typed calls to the Worker's internal API
(docs/internal-api.md), one method per route, over `WorkerTransport`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from backend.core.errors import Forbidden, Unauthorized, WorkerUnavailable
from backend.stripe_side.stripe_events import PayoutObject
from backend.stripe_side.stripe_models import StripePayout
from backend.worker_side.worker_models import (
    ApplyResult,
    Checkpoint,
    Claim,
    ConnectedAccount,
    CreateAccountResult,
    LedgerPayout,
    LedgerTransfer,
    Organization,
    Payment,
    PaymentApplied,
    PayoutReserveResult,
    ReserveResult,
    TransferOrigin,
    Unsettled,
    UpdateResult,
    UserContext,
)
from backend.worker_side.worker_returns import ReturnCalls
from backend.worker_side.worker_transport import WorkerError

__all__ = ["PayoutPage", "TransferPage", "WorkerClient", "WorkerError"]


class WorkerClient(ReturnCalls):
    async def health(self) -> bool:
        try:
            reply = await self._call("GET", "/api/internal/health", read=True)
        except WorkerUnavailable:
            return False
        return reply.status == 200

    async def verify_user_context(
        self, token: str, *, organization_id: str | None = None
    ) -> UserContext:
        body = _present(token=token, organization_id=organization_id)
        try:
            # It writes nothing, so it retries as a read.
            path = "/api/internal/verify-user-context"
            return await self._post(path, UserContext, body, read=True)
        except WorkerError as exc:
            if exc.status == 401:
                raise Unauthorized() from None
            if exc.status == 403:
                raise Forbidden() from None
            if exc.status == 400:
                # An id the Worker cannot even look up is, to the user, an org they do not hold.
                raise (Forbidden() if organization_id is not None else Unauthorized()) from None
            raise

    async def get_organization(self, organization_id: str) -> Organization:
        path = "/api/internal/organization/{}"
        return (await self._get(path, _OrganizationReply, organization_id)).organization

    async def find_organization_by_account(self, stripe_account_id: str) -> Organization | None:
        path = "/api/internal/organization-by-account/{}"
        reply = await self._find("GET", path, _OrganizationReply, stripe_account_id)
        return None if reply is None else reply.organization

    async def update_organization(
        self,
        organization_id: str,
        fields: Mapping[str, Any],
        *,
        synced_at: float | None,
        claim: tuple[str, str] | None = None,
    ) -> UpdateResult:
        """With `claim` (an event's id and claim id), the same D1 batch completes that claim; a
        lost claim raises `claim_lost` and writes nothing."""
        body = _present(organization_id=organization_id, fields=dict(fields), synced_at=synced_at)
        if claim is None:
            return await self._post("/api/internal/update-organization", UpdateResult, body)
        body["event_id"], body["claim_id"] = claim
        path = "/api/internal/webhook-events/update-organization"
        return await self._post(path, UpdateResult, body)

    async def create_connect_account(
        self, organization_id: str, stripe_account_id: str, *, profile: str
    ) -> CreateAccountResult:
        body = {
            "organization_id": organization_id,
            "stripe_account_id": stripe_account_id,
            "account_profile": profile,
        }
        return await self._post("/api/internal/create-connect-account", CreateAccountResult, body)

    async def set_platform_fee(
        self, organization_id: str, *, percent: float, fixed: int | None
    ) -> Organization:
        body = _present(
            organization_id=organization_id, platform_fee_percent=percent, platform_fee_fixed=fixed
        )
        return (
            await self._post("/api/internal/set-platform-fee", _OrganizationReply, body)
        ).organization

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
        it under the new claim and completes the claim when it may (`Claim.completed`). The claim
        id is ours, made here: a claim sent twice (the first may have run) is recognised by the
        Worker as the same claim and answered as granted, not as held by someone else."""
        body: dict[str, Any] = dict(
            claim_id=secrets.token_urlsafe(18),
            event_id=event_id,
            event_type=event_type,
            event_created=event_created,
            stripe_account_id=stripe_account_id,
            lease_seconds=lease_seconds,
        )
        if snapshot is not None:
            body["snapshot"] = snapshot
        return await self._post("/api/internal/webhook-events/claim", Claim, body)

    async def complete_event(
        self, event_id: str, *, claim_id: str, outcome: str, error: str | None = None
    ) -> str:
        body = _present(event_id=event_id, claim_id=claim_id, outcome=outcome, error=_clip(error))
        return (
            await self._post("/api/internal/webhook-events/complete", _StatusReply, body)
        ).status

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
        body = {
            "event_id": event_id,
            "claim_id": claim_id,
            "organization_id": organization_id,
            "fields": dict(fields),
            "event_created": event_created,
        }
        return await self._post(
            "/api/internal/webhook-events/apply-organization", ApplyResult, body
        )

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
        body = _present(
            organization_id=organization_id,
            idempotency_key=idempotency_key,
            status=status,
            stripe_transfer_id=stripe_transfer_id,
            failure_message=_clip(failure_message),
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
        body = _present(organization_id=organization_id, limit=limit, before_id=before_id)
        return await self._post("/api/internal/history/transfers", TransferPage, body, read=True)

    async def payout_history(
        self, organization_id: str, *, limit: int, before_id: int | None
    ) -> PayoutPage:
        body = _present(organization_id=organization_id, limit=limit, before_id=before_id)
        return await self._post("/api/internal/history/payouts", PayoutPage, body, read=True)

    async def set_auto_transfer(self, organization_id: str, *, enabled: bool) -> Organization:
        body = {"organization_id": organization_id, "enabled": enabled}
        return (
            await self._post("/api/internal/set-auto-transfer", _OrganizationReply, body)
        ).organization

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
            "failure_message": _clip(failure_message),
        }
        return (await self._post("/api/internal/payouts/refuse", _PayoutReply, body)).payout

    async def upsert_payout(
        self,
        payout: StripePayout | PayoutObject,
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

    async def list_unsettled(self) -> Unsettled:
        """Transfer rows still `pending` and payout rows still `reserved`, oldest first (≤ 200
        each): the rows whose outcome at Stripe reconciliation must find out."""
        return await self._get("/api/internal/reconciliation/unsettled", Unsettled)

    async def list_connected_accounts(self) -> list[ConnectedAccount]:
        return (await self._get("/api/internal/reconciliation/accounts", _AccountsReply)).accounts

    async def list_checkpoints(self) -> dict[str, Checkpoint]:
        reply = await self._get("/api/internal/reconciliation/checkpoints", _CheckpointsReply)
        return {c.scope: c for c in reply.checkpoints}

    async def advance_checkpoint(self, scope: str, *, event_created: int, event_id: str) -> bool:
        """Record that recovery settled `scope`'s events up to this one (never moves back)."""
        body = {"scope": scope, "event_created": event_created, "event_id": event_id}
        return (
            await self._post("/api/internal/reconciliation/checkpoints", _Advanced, body)
        ).advanced


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


class _CompletedReply(_TransferReply):
    owed: int = 0


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


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that have a value: an absent optional field is left out, never sent as null."""
    return {name: value for name, value in fields.items() if value is not None}


def _clip(message: str | None) -> str | None:
    return None if message is None else message[:500]
