"""The backend's only door to D1: typed calls to the Worker's internal API over one pooled session.

Retries are deliberately narrow. Reads (and `verify-user-context`, which writes nothing) retry on
connection failures, timeouts and 502/503/504. Writes retry when the TCP connection could not be
opened (the request never left), and once, at once, on a fresh connection when a pooled
keep-alive connection turns out to have been closed by the Worker (or Cloudflare in front of it)
while idle — such a connection fails before any answer, and every Worker write is idempotent by
its key anyway (guarded updates, reservations by idempotency key, claims by event id). Everything
else surfaces as `WorkerUnavailable` (503) so the caller (or Stripe's webhook retry) decides.

`timeout_seconds` is the budget of a whole call, retries included: a user request never waits on
the Worker longer than that, however many attempts fit in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError

from backend.errors import ApiError, Forbidden, Unauthorized, WorkerUnavailable
from backend.models import (
    Claim,
    CreateAccountResult,
    LedgerPayout,
    LedgerTransfer,
    Organization,
    Payment,
    PayoutReserveResult,
    ReserveResult,
    TransferOrigin,
    UpdateResult,
    UserContext,
)

logger = logging.getLogger("backend.worker_client")

M = TypeVar("M", bound=BaseModel)

_RETRYABLE_STATUS = frozenset({502, 503, 504})
_READ_ATTEMPTS = 3
_WRITE_CONNECT_ATTEMPTS = 2
_BACKOFF_SECONDS = 0.05


class WorkerError(ApiError):
    """A 4xx answer from the Worker, carrying its code so callers can branch on it."""


class _StaleConnection(Exception):
    """A reused pooled connection failed before any answer: the peer had closed it while idle."""


async def _on_reuse(
    session: aiohttp.ClientSession,
    context: Any,
    params: aiohttp.TraceConnectionReuseconnParams,
) -> None:
    context.trace_request_ctx["reused"] = True


def _reuse_tracing() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_on_reuse)
    return config


class WorkerClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        pool_size: int = 100,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        """`trace_configs` is the test seam: aiohttp's own hooks on every attempt (started,
        refused, reused) of both sessions, so a test can watch the network without replacing it."""
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=timeout_seconds)
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self._trace_configs = list(trace_configs)

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers=self._headers,
                trace_configs=[_reuse_tracing(), *self._trace_configs],
            )
            # For the one retry after a stale connection: never another pooled (maybe stale) one.
            self._fresh = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, force_close=True),
                timeout=self._timeout,
                headers=self._headers,
                trace_configs=self._trace_configs or None,
            )

    async def close(self) -> None:
        for session in (self._session, self._fresh):
            if session is not None:
                await session.close()
        self._session = self._fresh = None

    # --- transport -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        budget: float,
        fresh: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        if self._session is None:
            await self.open()
        session = self._fresh if fresh else self._session
        assert session is not None
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Content-Type": "application/json"} if data is not None else None
        trace: dict[str, bool] = {"reused": False}
        try:
            response = await session.request(
                method,
                self._base_url + path,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=budget),
                trace_request_ctx=trace,
            )
        except aiohttp.ClientConnectorError:
            raise
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            if trace["reused"]:
                raise _StaleConnection() from None
            raise
        async with response:
            raw = await response.read()
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                payload = {}
            return response.status, payload if isinstance(payload, dict) else {}

    async def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, read: bool
    ) -> tuple[int, dict[str, Any]]:
        attempts = _READ_ATTEMPTS if read else _WRITE_CONNECT_ATTEMPTS
        last_reason = "unknown"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF_SECONDS * attempt)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                try:
                    status, payload = await self._send(method, path, body, budget=remaining)
                except _StaleConnection:
                    logger.info(
                        "worker %s %s: pooled connection was closed; retrying", method, path
                    )
                    remaining = deadline - loop.time()
                    status, payload = await self._send(
                        method, path, body, budget=max(remaining, 0.001), fresh=True
                    )
            except aiohttp.ClientConnectorError:
                last_reason = "connection refused"
                continue  # nothing was sent: safe for writes too
            except (aiohttp.ClientError, TimeoutError) as exc:
                last_reason = type(exc).__name__
                if read:
                    continue
                break
            if status in _RETRYABLE_STATUS and read and attempt + 1 < attempts:
                last_reason = f"HTTP {status}"
                continue
            return status, payload
        logger.warning("worker %s %s failed: %s", method, path, last_reason)
        raise WorkerUnavailable()

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        read: bool,
        model: type[M],
    ) -> tuple[int, M]:
        status, payload = await self._call(method, path, body, read=read)
        if status >= 500:
            logger.warning("worker %s %s answered %s", method, path, status)
            raise WorkerUnavailable()
        if status == 401 and path != "/api/internal/verify-user-context":
            logger.error("worker rejected the internal API key (check INTERNAL_API_KEY)")
            raise WorkerUnavailable()
        if status >= 400:
            found = payload.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            code = str(error.get("code") or "worker_error")
            message = str(error.get("message") or "Request refused.")
            if status == 401 and code != "invalid_token":
                logger.error("worker rejected the internal API key (check INTERNAL_API_KEY)")
                raise WorkerUnavailable()
            raise WorkerError(status, code, message)
        try:
            return status, model.model_validate(payload)
        except ValidationError:
            logger.error("worker %s %s returned an unexpected body", method, path)
            raise WorkerUnavailable() from None

    async def _find(self, path: str, *, model: type[M]) -> M | None:
        """A read whose 404 means "no such row" rather than an error."""
        try:
            _, reply = await self._request("GET", path, read=True, model=model)
        except WorkerError as exc:
            if exc.status == 404:
                return None
            raise
        return reply

    # --- routes (docs/internal-api.md) --------------------------------------------------------

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
            _, context = await self._request(
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
        _, reply = await self._request(
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
        _, result = await self._request(
            "POST", "/api/internal/update-organization", body, read=False, model=UpdateResult
        )
        return result

    async def create_connect_account(
        self, organization_id: str, stripe_account_id: str
    ) -> CreateAccountResult:
        _, result = await self._request(
            "POST",
            "/api/internal/create-connect-account",
            {"organization_id": organization_id, "stripe_account_id": stripe_account_id},
            read=False,
            model=CreateAccountResult,
        )
        return result

    async def set_platform_fee(
        self, organization_id: str, *, percent: float, fixed: int | None
    ) -> Organization:
        body: dict[str, Any] = {"organization_id": organization_id, "platform_fee_percent": percent}
        if fixed is not None:
            body["platform_fee_fixed"] = fixed
        _, reply = await self._request(
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
    ) -> Claim:
        _, claim = await self._request(
            "POST",
            "/api/internal/webhook-events/claim",
            {
                "event_id": event_id,
                "event_type": event_type,
                "event_created": event_created,
                "stripe_account_id": stripe_account_id,
                "lease_seconds": lease_seconds,
            },
            read=False,
            model=Claim,
        )
        return claim

    async def complete_event(
        self, event_id: str, *, claim_id: str, outcome: str, error: str | None = None
    ) -> str:
        body: dict[str, Any] = {"event_id": event_id, "claim_id": claim_id, "outcome": outcome}
        if error is not None:
            body["error"] = error[:500]
        _, reply = await self._request(
            "POST", "/api/internal/webhook-events/complete", body, read=False, model=_StatusReply
        )
        return reply.status

    async def reserve_transfer(self, **fields: Any) -> ReserveResult:
        _, result = await self._request(
            "POST", "/api/internal/transfers/reserve", fields, read=False, model=ReserveResult
        )
        return result

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
        _, reply = await self._request(
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
            _, reply = await self._request(
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
        _, reply = await self._request(
            "POST", "/api/internal/payments/record", payment, read=False, model=_PaymentReply
        )
        return reply.payment

    async def list_untransferred_payments(self, organization_id: str) -> list[Payment]:
        _, reply = await self._request(
            "GET",
            f"/api/internal/payments/{_segment(organization_id)}/untransferred",
            read=True,
            model=_PaymentsReply,
        )
        return reply.payments

    async def set_auto_transfer(self, organization_id: str, *, enabled: bool) -> Organization:
        _, reply = await self._request(
            "POST",
            "/api/internal/set-auto-transfer",
            {"organization_id": organization_id, "enabled": enabled},
            read=False,
            model=_OrganizationReply,
        )
        return reply.organization

    async def reserve_payout(self, **fields: Any) -> PayoutReserveResult:
        _, result = await self._request(
            "POST", "/api/internal/payouts/reserve", fields, read=False, model=PayoutReserveResult
        )
        return result

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
        _, reply = await self._request(
            "POST", "/api/internal/payouts/refuse", body, read=False, model=_PayoutReply
        )
        return reply.payout

    async def upsert_payout(self, **fields: Any) -> LedgerPayout:
        _, reply = await self._request(
            "POST", "/api/internal/payouts/upsert", fields, read=False, model=_PayoutReply
        )
        return reply.payout


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


def _segment(value: str) -> str:
    return quote(value, safe="")
