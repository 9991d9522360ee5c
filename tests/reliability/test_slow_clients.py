"""Slow and half-open clients (backend/edge/http_guard.py): a connection that never finishes its
headers or its body is closed within a bounded time, and thousands of them neither make the
backend refuse real requests nor pile up file descriptors.

Scaled to this 2-core machine: loopback only, bounded loops, short deadlines (the production
defaults are 10 s for headers, 30 s for a body, 1000 connections reading headers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.backend import BackendStack

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
MAX_PENDING = 200
SLOW_CLIENTS = 2000  # ten times the cap
GUARD = {
    "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    "HTTP_MAX_PENDING_CONNECTIONS": str(MAX_PENDING),
}


@pytest.fixture
def stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env=GUARD, webhooks=False)


async def _connect(stack: BackendStack) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = stack.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _closed_after(reader: asyncio.StreamReader, *, within: float) -> tuple[float, bytes]:
    """Seconds until the server closed the connection, and what it said before."""
    started = time.monotonic()
    said = await asyncio.wait_for(reader.read(), within)
    return time.monotonic() - started, said


async def test_a_client_that_sends_nothing_is_closed_with_408(stack: BackendStack) -> None:
    reader, writer = await _connect(stack)
    took, said = await _closed_after(reader, within=HEADER_TIMEOUT + 3)
    writer.close()
    assert HEADER_TIMEOUT * 0.8 <= took <= HEADER_TIMEOUT + 1.5
    assert said.startswith(b"HTTP/1.1 408 ")
    assert b'"request_timeout"' in said


async def test_headers_dripped_a_byte_at_a_time_do_not_keep_the_connection(
    stack: BackendStack,
) -> None:
    reader, writer = await _connect(stack)
    head = b"POST /api/connect/payout HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400

    async def drip() -> None:
        for byte in head:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)  # each byte well inside any idle timeout

    dripping = asyncio.create_task(drip())
    took, said = await _closed_after(reader, within=HEADER_TIMEOUT + 3)
    dripping.cancel()
    await asyncio.gather(dripping, return_exceptions=True)
    writer.close()
    assert took <= HEADER_TIMEOUT + 1.5
    assert said.startswith(b"HTTP/1.1 408 ")


async def test_a_body_that_never_arrives_is_cut_without_an_answer_or_a_traceback(
    stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await _connect(stack)
    # A fresh timestamp: a stale one is refused from the header, before any body is awaited.
    writer.write(
        b"POST /api/connect/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Stripe-Signature: t={int(time.time())},v1=00\r\n".encode()
        + b'Content-Length: 1000\r\n\r\n{"id": '
    )
    took, said = await _closed_after(reader, within=BODY_TIMEOUT + 3)
    writer.close()
    assert took <= BODY_TIMEOUT + 1.5
    assert said == b""
    assert not [r for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(
    stack: BackendStack,
) -> None:
    reader, writer = await _connect(stack)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await reader.readuntil(b"}")
    assert first.startswith(b"HTTP/1.1 200")
    writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # then nothing more
    took, said = await _closed_after(reader, within=HEADER_TIMEOUT + 3)
    writer.close()
    assert took <= HEADER_TIMEOUT + 1.5
    assert said.startswith(b"HTTP/1.1 408 ")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_thousands_of_half_open_clients_neither_starve_real_requests_nor_hold_fds(
    stack: BackendStack,
) -> None:
    connections = stack._running.server.server_state.connections
    fds_before = _open_fds()
    slow: list[asyncio.StreamWriter] = []
    for _batch in range(0, SLOW_CLIENTS, 200):
        opened = await asyncio.gather(*(_connect(stack) for _ in range(200)))
        for _, writer in opened:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            slow.append(writer)
    await asyncio.sleep(0.3)  # let the server accept the last batch
    held_by_server = len(connections)
    # Our own 2000 client sockets are in this process too; the server's side must stay near the cap.
    fd_growth = _open_fds() - fds_before

    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        for _ in range(30):
            started = time.monotonic()
            health = await http.get("/healthz")
            status = await http.get(
                f"/api/connect/status/{stack.org_id}", headers=stack.auth("member")
            )
            latencies.append(time.monotonic() - started)
            assert (health.status_code, status.status_code) == (200, 200)
    await asyncio.sleep(HEADER_TIMEOUT + 1.0)
    left_after_deadline = len(connections)
    for writer in slow:
        writer.close()
    print(
        f"\nslow clients {SLOW_CLIENTS}: server held {held_by_server} connections "
        f"(cap {MAX_PENDING}), fd growth {fd_growth} (client side {SLOW_CLIENTS}), "
        f"real request pairs: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms; after the deadline {left_after_deadline} left"
    )
    assert held_by_server <= MAX_PENDING + 10
    assert fd_growth <= SLOW_CLIENTS + MAX_PENDING + 50
    assert max(latencies) < 2.0
    assert left_after_deadline <= 5
