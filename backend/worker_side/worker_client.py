"""The backend's only door to D1: typed calls to the Worker's internal API
(docs/internal-api.md), one method per route, over `WorkerTransport`. Organizations, users, event
claims and reconciliation are here; the ledger's calls (`worker_ledger`) and those for money coming
back (`worker_returns`) are its parts, one module each."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from backend.core.errors import Forbidden, Unauthorized, WorkerUnavailable
from backend.worker_side.worker_ledger import LedgerCalls, PayoutPage, TransferPage
from backend.worker_side.worker_models import (
    ApplyResult,
    Checkpoint,
    Claim,
    ConnectedAccount,
    CreateAccountResult,
    Organization,
    Unsettled,
    UpdateResult,
    UserContext,
)
from backend.worker_side.worker_returns import ReturnCalls
from backend.worker_side.worker_transport import WorkerError, clip, present

__all__ = ["PayoutPage", "TransferPage", "WorkerClient", "WorkerError"]


class WorkerClient(LedgerCalls, ReturnCalls):
    async def health(self) -> bool:
        try:
            reply = await self._call("GET", "/api/internal/health", read=True)
        except WorkerUnavailable:
            return False
        return reply.status == 200

    async def verify_user_context(
        self, token: str, *, organization_id: str | None = None
    ) -> UserContext:
        body = present(token=token, organization_id=organization_id)
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
        body = present(organization_id=organization_id, fields=dict(fields), synced_at=synced_at)
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
        body = present(
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
        body = present(event_id=event_id, claim_id=claim_id, outcome=outcome, error=clip(error))
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

    async def set_auto_transfer(self, organization_id: str, *, enabled: bool) -> Organization:
        body = {"organization_id": organization_id, "enabled": enabled}
        return (
            await self._post("/api/internal/set-auto-transfer", _OrganizationReply, body)
        ).organization

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


class _OrganizationReply(BaseModel):
    organization: Organization


class _StatusReply(BaseModel):
    status: str


class _AccountsReply(BaseModel):
    accounts: list[ConnectedAccount]


class _CheckpointsReply(BaseModel):
    checkpoints: list[Checkpoint]


class _Advanced(BaseModel):
    advanced: bool
