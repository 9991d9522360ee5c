"""`build_app(config)`: the ASGI app — Stripe's `/v1/` surface, the `/_fake/` control API, and
fault injection in front of `/v1/` only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stripe_fake import (
    api,
    control,
    control_accounts,
    control_balances,
    control_money,
    control_webhooks,
)
from stripe_fake.config import FakeConfig
from stripe_fake.core import Fake
from stripe_fake.ids import new_id


class ConnectionDropped(Exception):
    """Raised after the response has started so the server closes the connection mid-answer."""


_FAULT_BODIES = {
    "error_500": (
        500,
        {"type": "api_error", "message": "An unknown error occurred"},
    ),
    # A restricted key (`rk_…`) lacking one permission: 403 like a revoked account, but without
    # the `account_invalid` code — the account is fine, the key is not.
    "permission_denied": (
        403,
        {
            "type": "invalid_request_error",
            "message": "The provided key does not have the required permissions for this "
            "endpoint on this account. Having the 'rak_accounts_kyc_basic_read' permission "
            "would allow this request to continue.",
        },
    ),
    "rate_limit": (
        429,
        {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
        },
    ),
}


async def _buffered(receive: Receive) -> Receive:
    """Read the request body now; the app then reads it from memory even if the client left."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _drop_connection(send: Send) -> bool:
    """Abort the TCP connection before any byte is written, like a host that is down.

    ASGI has no verb for this; uvicorn's `send` is a method of its request cycle, which holds the
    transport. Other servers fall back to a started-then-broken response.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
        return True
    return False


class FaultInjection:
    """Applies `/_fake/faults` to `/v1/` requests before they reach the API."""

    def __init__(self, app: ASGIApp, fake: Fake) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        mode = self.fake.faults.take(scope["path"])
        if mode == "slow":
            # Stripe has the whole request before it is slow to answer: a client that gives up
            # meanwhile does not undo it (the object is made, the answer lost).
            receive = await _buffered(receive)
            faults = self.fake.faults
            await asyncio.sleep(faults.delay_seconds)
            if self.fake.faults is not faults:
                # Reset meanwhile (the next test's fresh Stripe): this request belongs to none.
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        elif mode == "down":
            dropped = _drop_connection(send)
            await send({"type": "http.response.start", "status": 503, "headers": []})
            if dropped:
                # Writes to an aborted transport are dropped; finishing keeps the server quiet.
                await send({"type": "http.response.body", "body": b""})
                return
            raise ConnectionDropped
        elif mode in _FAULT_BODIES:
            status, error = _FAULT_BODIES[mode]
            body = json.dumps({"error": error}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"request-id", new_id("req_", 14).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def build_app(config: FakeConfig) -> ASGIApp:
    """The whole fake as one ASGI app; webhook delivery starts and stops with its lifespan."""
    fake = Fake(config)

    async def v1(request: Request) -> Response:
        return await api.handle(fake, request)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await fake.dispatcher.start()
        try:
            yield
        finally:
            await fake.dispatcher.stop()

    app = Starlette(
        routes=[
            *control.routes(fake),
            *control_accounts.routes(fake),
            *control_balances.routes(fake),
            *control_money.routes(fake),
            *control_webhooks.routes(fake),
            Route("/v1/{rest:path}", v1, methods=["GET", "POST", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.fake = fake
    return FaultInjection(app, fake)
