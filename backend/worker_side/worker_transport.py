"""The transport under `WorkerClient`: one pool of keep-alive connections per process
(`http_pool`), and retries deliberately narrow.

Reads (and `verify-user-context`, which writes nothing) retry on connection failures, timeouts and
502/503/504. Writes retry when the TCP connection could not be opened (the request never left),
and once, at once, on a fresh connection when a pooled keep-alive connection closes before any
byte of the answer (`StaleConnection`). That is most often the Worker (or Cloudflare in front of
it) having closed the connection while idle, but the write may have run: so every Worker write is
safe to send twice and answers the second time as the first — guarded updates, reservations and
completions by idempotency key, a webhook claim by the claim id the backend made for it (the
Worker answers a replay of its own claim as granted), each later call of an event by that claim.
Everything else surfaces as `WorkerUnavailable` (503) so the caller (or Stripe's webhook retry)
decides.

`timeout_seconds` is the budget of a whole call, retries included: a user request never waits on
the Worker longer than that, however many attempts fit in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from backend.core import request_context, telemetry
from backend.core.errors import ApiError, WorkerUnavailable
from backend.worker_side.http_pool import (
    ConnectFailed,
    Http1Pool,
    Reply,
    StaleConnection,
    TransportError,
)

logger = logging.getLogger("backend.worker_client")

M = TypeVar("M", bound=BaseModel)

_RETRYABLE_STATUS = frozenset({502, 503, 504})
_READ_ATTEMPTS = 3
_WRITE_CONNECT_ATTEMPTS = 2
_BACKOFF_SECONDS = 0.05


class WorkerError(ApiError):
    """A 4xx answer from the Worker, carrying its code so callers can branch on it."""


class WorkerTransport:
    """The connection pool, the retry rules and the error mapping every Worker call shares."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        pool_size: int = 100,
        idle_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        on_attempt: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_attempt(method, path)` is the test seam: called as every attempt starts (refused
        ones and the retry on a fresh connection included), so a test can watch the network
        without replacing it; `ssl_context` lets it trust its own certificate."""
        self._pool = Http1Pool(
            base_url,
            limit=pool_size,
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            idle_seconds=idle_seconds,
            ssl_context=ssl_context,
        )
        self._timeout_seconds = timeout_seconds
        self._on_attempt = on_attempt

    async def open(self) -> None:
        """Connections open on first use; kept so callers own the client's lifetime explicitly."""

    async def close(self) -> None:
        await self._pool.close()

    # --- transport -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        deadline: float,
        fresh: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        if self._on_attempt is not None:
            self._on_attempt(method, path)
        return await self._pool.request(
            method, path, body, deadline=deadline, fresh=fresh, headers=headers
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        read: bool,
        route: str | None = None,
    ) -> Reply:
        """One Worker call, its retries included, carrying the request's trace context
        (`traceparent`, and `baggage` naming a webhook's event); `route` is the path's template
        (the metric's attribute), when `path` was filled from one."""
        ctx = request_context.current()
        tel = telemetry.current()
        if not isinstance(tel, telemetry.Telemetry):
            headers = None if ctx is None else _trace_headers(ctx, ctx.span_id)
            return await self._attempts(method, path, body, read=read, headers=headers)
        template = route or path
        started = time.perf_counter()
        outcome = "unavailable"
        span = tel.start_child_span(
            f"worker {method} {template}",
            {"http.request.method": method, "connect.worker.route": template},
        )
        headers = None
        if ctx is not None:
            headers = _trace_headers(
                ctx, ctx.span_id if span is None else telemetry.span_id_of(span)
            )
        try:
            reply = await self._attempts(method, path, body, read=read, headers=headers)
            outcome = str(reply.status)
            return reply
        except Exception as exc:
            if span is not None:
                telemetry.failed(span, exc)
            raise
        finally:
            if span is not None:
                # One attribute: the status, or (no answer) the outcome; each costs ~8 µs of CPU
                # on a recorded span with its export (bench.otel_floor).
                if outcome == "unavailable":
                    span.set_attribute("connect.outcome", outcome)
                else:
                    span.set_attribute("http.response.status_code", int(outcome))
                span.end()
            tel.worker_duration.record(
                telemetry.elapsed(started),
                {"connect.worker.route": template, "connect.outcome": outcome},
            )

    async def _attempts(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        read: bool,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        attempts = _READ_ATTEMPTS if read else _WRITE_CONNECT_ATTEMPTS
        data = None if body is None else to_json(body)
        last_reason = "unknown"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_seconds
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF_SECONDS * attempt)
            if deadline <= loop.time():
                break
            try:
                try:
                    reply = await self._send(method, path, data, deadline=deadline, headers=headers)
                except StaleConnection:  # it may have run: every write is safe to send twice
                    logger.info("worker %s %s: pooled connection closed; retrying", method, path)
                    reply = await self._send(
                        method, path, data, deadline=deadline, fresh=True, headers=headers
                    )
            except ConnectFailed:
                last_reason = "connection refused"
                continue  # nothing was sent: safe for writes too
            except (TransportError, TimeoutError) as exc:
                last_reason = type(exc).__name__
                if read:
                    continue
                break
            if reply.status in _RETRYABLE_STATUS and read and attempt + 1 < attempts:
                last_reason = f"HTTP {reply.status}"
                continue
            return reply
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
        route: str | None = None,
    ) -> M:
        reply = await self._call(method, path, body, read=read, route=route)
        status = reply.status
        if status >= 500:
            logger.warning("worker %s %s answered %s", method, path, status)
            raise WorkerUnavailable()
        if status == 401 and path != "/api/internal/verify-user-context":
            logger.error("worker rejected the internal API key (check INTERNAL_API_KEY)")
            raise WorkerUnavailable()
        if status >= 400:
            found = _json_object(reply.body).get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            code = str(error.get("code") or "worker_error")
            message = str(error.get("message") or "Request refused.")
            if status == 401 and code != "invalid_token":
                logger.error("worker rejected the internal API key (check INTERNAL_API_KEY)")
                raise WorkerUnavailable()
            raise WorkerError(status, code, message)
        try:
            return model.model_validate_json(reply.body)
        except ValidationError:
            logger.error("worker %s %s returned an unexpected body", method, path)
            raise WorkerUnavailable() from None

    # Paths are templates: each `{}` is filled with one percent-encoded segment, so every route
    # a caller names reads as docs/internal-api.md writes it.

    async def _get(self, path: str, model: type[M], *segments: str) -> M:
        filled = _fill(path, segments)
        return await self._request("GET", filled, read=True, model=model, route=path)

    async def _post(
        self, path: str, model: type[M], body: Mapping[str, Any], *, read: bool = False
    ) -> M:
        """A POST is a write unless `read` says it changes nothing (then it retries as a read)."""
        return await self._request("POST", path, body, read=read, model=model)

    async def _find(
        self, method: str, path: str, model: type[M], *segments: str, body: Any = None
    ) -> M | None:
        """A call whose 404 means "no such row" rather than an error."""
        try:
            if method == "GET":
                return await self._get(path, model, *segments)
            filled = _fill(path, segments)
            return await self._request("POST", filled, body, read=False, model=model, route=path)
        except WorkerError as exc:
            if exc.status == 404:
                return None
            raise


def present(**fields: Any) -> dict[str, Any]:
    """The fields that have a value: an absent optional field is left out, never sent as null."""
    return {name: value for name, value in fields.items() if value is not None}


def clip(message: str | None) -> str | None:
    """A failure message as the Worker stores it: at most 500 characters."""
    return None if message is None else message[:500]


def _trace_headers(ctx: request_context.RequestContext, span_id: str) -> dict[str, str]:
    """W3C trace context for one Worker call: the request's trace, `span_id` as the parent."""
    headers = {
        "traceparent": request_context.format_traceparent(ctx.trace_id, span_id, ctx.sampled)
    }
    baggage = request_context.baggage(ctx)
    if baggage is not None:
        headers["baggage"] = baggage
    return headers


def _fill(path: str, segments: tuple[str, ...]) -> str:
    return path.format(*(quote(s, safe="") for s in segments)) if segments else path


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
