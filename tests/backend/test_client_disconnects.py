"""A client that goes away in the middle of its body gets a 4xx or nothing, and costs at most one
log line — never a traceback — on every route that reads a body."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from tests.fixtures.backend import BackendStack

BODY_ROUTES = [
    "/api/connect/onboard",
    "/api/connect/transfer",
    "/api/connect/payout",
    "/api/connect/login-link",
    "/api/connect/webhook",
    "/api/operator/platform-fee",
]


async def _send_half_and_leave(url: str, path: str, token: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nIdempotency-Key: k\r\n"
        b"X-Operator-Key: " + b"o" * 40 + b"\r\n"
        # A fresh timestamp: a stale one would be refused before the body is awaited.
        b"Stripe-Signature: t=" + str(int(time.time())).encode() + b",v1=00\r\n"
        b"Content-Length: 4000\r\n\r\n" + b'{"organization_id": "'
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is now waiting for the rest of the body
    writer.transport.abort()  # RST: gone without a goodbye
    await asyncio.sleep(0.3)


@pytest.mark.parametrize("path", BODY_ROUTES)
async def test_a_client_gone_mid_body_costs_at_most_one_line_and_no_traceback(
    make_backend: Callable[..., BackendStack],
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    stack: BackendStack = make_backend(env={"OPERATOR_API_KEY": "o" * 40})
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        await _send_half_and_leave(stack.url, path, stack.tokens["owner"])
    noisy = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name.startswith(("backend", "uvicorn", "starlette"))
    ]
    assert len(noisy) <= 3, [r.getMessage() for r in noisy]
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in noisy]
