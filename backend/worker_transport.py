"""The transport under `WorkerClient`: one pooled aiohttp session per process, and retries
deliberately narrow.

Reads (and `verify-user-context`, which writes nothing) retry on connection failures, timeouts and
502/503/504. Writes retry when the TCP connection could not be opened (the request never left),
and once, at once, on a fresh connection when a pooled keep-alive connection turns out to have been
closed by the Worker (or Cloudflare in front of it) while idle — such a connection fails before any
answer, and every Worker write is idempotent by its key anyway (guarded updates, reservations by
idempotency key, claims by event id). Everything else surfaces as `WorkerUnavailable` (503) so the
caller (or Stripe's webhook retry) decides.

`timeout_seconds` is the budget of a whole call, retries included: a user request never waits on
the Worker longer than that, however many attempts fit in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from backend.errors import ApiError, WorkerUnavailable

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


class WorkerTransport:
    """The pooled sessions, the retry rules and the error mapping every Worker call shares."""

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
    ) -> M:
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
            return model.model_validate(payload)
        except ValidationError:
            logger.error("worker %s %s returned an unexpected body", method, path)
            raise WorkerUnavailable() from None

    async def _find(self, path: str, *, model: type[M]) -> M | None:
        """A read whose 404 means "no such row" rather than an error."""
        try:
            return await self._request("GET", path, read=True, model=model)
        except WorkerError as exc:
            if exc.status == 404:
                return None
            raise
