"""Every way a client can hold a backend connection is bounded (backend/edge/http_guard.py): a head
larger than the bound is a 431, a body that never comes counts under the same cap as headers that
never end, blank lines between requests start the header clock, and a client that never reads its
answers is cut at the write deadline — none of it with a traceback.

Raw sockets against the real server (uvicorn + the guarded protocol, in this process), scaled to
this 2-core machine: loopback, short deadlines, a small cap.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.backend import BackendStack

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
WRITE_TIMEOUT = 1.0
MAX_PENDING = 50
MAX_HEADER_BYTES = 8192
GUARD = {
    "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    "HTTP_WRITE_TIMEOUT_SECONDS": str(WRITE_TIMEOUT),
    "HTTP_MAX_PENDING_CONNECTIONS": str(MAX_PENDING),
    "HTTP_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
}


@pytest.fixture
def stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env=GUARD, webhooks=False, loop="uvloop")  # as `python -m backend`


def _connections(stack: BackendStack) -> list[Any]:
    return list(stack._running.server.server_state.connections)


def _held(stack: BackendStack) -> int:
    """Connections the server holds right now."""
    return len(stack._running.server.server_state.connections)


async def _connect(stack: BackendStack) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", stack._running.port)


async def _real_requests_answered(stack: BackendStack, *, within: float) -> float:
    """Seconds a health check plus an authenticated status read (through the Worker) took."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=stack.url, timeout=within) as http:
        health = await http.get("/healthz")
        status = await http.get(f"/api/connect/status/{stack.org_id}", headers=stack.auth("member"))
    assert (health.status_code, status.status_code) == (200, 200)
    return time.monotonic() - started


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, with uvicorn's own records too (its loggers do not propagate to the root)."""
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn_log.removeHandler(caplog.handler)


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not loud, [r.getMessage() for r in loud]


async def test_a_head_past_the_bound_is_answered_431_and_closed(
    stack: BackendStack, server_log: pytest.LogCaptureFixture
) -> None:
    reader, writer = await _connect(stack)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 10))
    writer.write(b"\r\n\r\n")
    said = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert said.startswith(b"HTTP/1.1 431 "), said[:100]
    assert b'"header_too_large"' in said
    _no_tracebacks(server_log)


async def test_a_head_within_the_bound_is_served(stack: BackendStack) -> None:
    reader, writer = await _connect(stack)
    filler = b"a" * (MAX_HEADER_BYTES - 200)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + filler + b"\r\n\r\n")
    said = await asyncio.wait_for(reader.readuntil(b"}"), 5)
    writer.close()
    assert said.startswith(b"HTTP/1.1 200 ")


async def test_a_header_sent_in_many_small_pieces_is_refused_at_the_bound_not_read_whole(
    stack: BackendStack,
) -> None:
    """A 64 MiB header is refused after about the bound: the server neither reads nor copies the
    rest, so real requests meanwhile are answered promptly."""
    sock = socket.create_connection(("127.0.0.1", stack._running.port), timeout=10)
    sent = 0

    def flood() -> None:
        nonlocal sent
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        piece = b"a" * 1024
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:  # reset once refused
            return

    flooding = asyncio.create_task(asyncio.to_thread(flood))
    said = await asyncio.to_thread(sock.recv, 200)  # a socket reads what came before a reset
    took = await _real_requests_answered(stack, within=5)
    await flooding
    sock.close()
    assert said.startswith(b"HTTP/1.1 431 "), said
    assert sent < 16 * 1024 * 1024, sent
    assert took < 1.0


async def test_a_large_allowed_head_dripped_in_pieces_costs_linear_time(
    make_backend: Callable[..., BackendStack],
) -> None:
    """With the bound raised to 8 MiB, a 6 MiB header sent in 4 KiB writes is parsed at once when
    it ends, not re-copied on every piece (httptools concatenates a split header each time).
    The server runs in this process, so its CPU time is this process's, the client's included."""
    env = {**GUARD, "HTTP_MAX_HEADER_BYTES": str(8 * 1024 * 1024)}
    stack = make_backend(env={**env, "HTTP_HEADER_TIMEOUT_SECONDS": "60"}, loop="uvloop")
    reader, writer = await _connect(stack)
    cpu = time.process_time()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    piece = b"a" * 4096
    for _ in range(6 * 256):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.0005)  # each piece its own read on the server
    writer.write(b"\r\n\r\n")
    said = await asyncio.wait_for(reader.readuntil(b"}"), 30)
    cpu = time.process_time() - cpu
    writer.close()
    assert said.startswith(b"HTTP/1.1 200 ")
    assert cpu < 1.0, cpu


async def test_bodies_that_never_come_count_under_the_same_cap_as_slow_headers(
    stack: BackendStack,
) -> None:
    """Complete headers, a Content-Length, no body: ten times the cap of them leave the server
    holding about the cap, and real requests answered meanwhile."""
    before = _held(stack)
    stalled = []
    for _ in range(10):
        opened = await asyncio.gather(*(_connect(stack) for _ in range(MAX_PENDING)))
        for _reader, writer in opened:
            writer.write(
                b"POST /api/connect/webhook HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            )
            stalled.append(writer)
    await asyncio.sleep(0.3)
    held = _held(stack) - before
    took = await _real_requests_answered(stack, within=5)
    for writer in stalled:
        writer.transport.abort()
    assert held <= MAX_PENDING + 5, held
    assert took < 1.0


async def test_blank_lines_between_requests_do_not_keep_a_connection_open(
    stack: BackendStack,
) -> None:
    reader, writer = await _connect(stack)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b"}"), 5)
    assert first.startswith(b"HTTP/1.1 200 ")

    async def drip() -> None:
        while True:
            writer.write(b"\r\n")
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    started = time.monotonic()
    try:
        said = await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + 3)
    finally:
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)
        writer.transport.abort()
    assert time.monotonic() - started <= HEADER_TIMEOUT + 1.5
    assert said.startswith(b"HTTP/1.1 408 ")


async def test_blank_line_drippers_count_under_the_cap(stack: BackendStack) -> None:
    """A blank line after an answer (uvicorn's keep-alive timer is cancelled by any byte) is
    the start of a request: it waits under the cap, with the header deadline."""
    before = _held(stack)

    async def answered_then_blank_line() -> asyncio.StreamWriter:
        reader, writer = await _connect(stack)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"}")
        writer.write(b"\r\n")
        return writer

    writers = []
    for _ in range(5):
        writers += await asyncio.gather(*(answered_then_blank_line() for _ in range(MAX_PENDING)))
    await asyncio.sleep(0.3)
    held = _held(stack) - before
    for writer in writers:
        writer.transport.abort()
    assert held <= MAX_PENDING + 5, held


async def _until(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _never_reading_client(port: int, requests: int) -> socket.socket:
    """A socket that pipelines `requests` reads of /openapi.json and never reads an answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    data = request * requests
    while data:
        try:
            data = data[sock.send(data) :]
        except BlockingIOError:
            break  # the server stopped reading: it is pausing us
    return sock


async def test_a_client_that_never_reads_its_answers_is_cut_at_the_write_deadline(
    stack: BackendStack, server_log: pytest.LogCaptureFixture
) -> None:
    before = _held(stack)
    sock = _never_reading_client(stack._running.port, 2000)
    try:
        await _until(lambda: _held(stack) > before)
        await _until(lambda: _held(stack) == before, within=WRITE_TIMEOUT + 8)
        took = await _real_requests_answered(stack, within=5)
    finally:
        sock.close()
    await asyncio.sleep(0.3)
    assert took < 1.0
    _no_tracebacks(server_log)


async def test_clients_that_never_read_and_then_go_leave_no_traceback(
    stack: BackendStack, server_log: pytest.LogCaptureFixture
) -> None:
    before = _held(stack)
    socks = [_never_reading_client(stack._running.port, 500) for _ in range(3)]
    await _until(lambda: _held(stack) == before + 3)
    await _until(lambda: all(c.flow.write_paused for c in _connections(stack)))
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST
    await asyncio.sleep(0.5)
    assert (await _real_requests_answered(stack, within=5)) < 1.0
    _no_tracebacks(server_log)
