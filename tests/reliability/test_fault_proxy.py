"""The fault proxy itself, in pass mode: faithful forwarding without noise.

The bench counts Worker calls through it, and the Worker host closes a connection idle past its
keep-alive: the proxy's upstream connection then answers nothing. Such a request must still be
forwarded (once) and neither that nor a client hanging up may leave an asyncio traceback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from devstack.http1 import Http1Server, Reply, Request
from tests.reliability.fault_proxy import FaultProxy
from tests.worker.test_http1_server import read_response

KEEP_ALIVE_S = 0.3


@pytest.fixture
def upstream() -> Iterator[tuple[int, list[str]]]:
    """An HTTP/1.1 server that closes connections idle past KEEP_ALIVE_S, counting requests."""
    handled: list[str] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    async def handle(request: Request) -> Reply:
        handled.append(request.path)
        return Reply(200, (("content-type", "application/json"),), b'{"ok":true}')

    server = Http1Server(
        handle, wanted_headers=frozenset(), max_body=100, keep_alive_s=KEEP_ALIVE_S
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start(sock))
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    yield sock.getsockname()[1], handled
    asyncio.run_coroutine_threadsafe(server.stop(grace_s=2), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    sock.close()


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: w\r\n\r\n".encode()


def test_a_request_after_the_upstream_closed_idle_is_forwarded_once_and_quietly(
    upstream: tuple[int, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    port, handled = upstream
    proxy = FaultProxy("127.0.0.1", port).start()
    try:
        with (
            caplog.at_level(logging.ERROR),
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn,
            conn.makefile("rb") as f,
        ):
            conn.sendall(_get("/one"))
            assert read_response(f).status == 200
            time.sleep(KEEP_ALIVE_S * 4)  # the upstream closes the proxy's idle connection
            conn.sendall(_get("/two"))
            assert read_response(f).status == 200
    finally:
        proxy.stop()
    assert handled == ["/one", "/two"]
    assert proxy.count("/two") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_client_hanging_up_mid_request_leaves_no_traceback(
    upstream: tuple[int, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    port, handled = upstream
    proxy = FaultProxy("127.0.0.1", port).start()
    try:
        with caplog.at_level(logging.ERROR):
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
                conn.sendall(b"POST /cut HTTP/1.1\r\nHost: w\r\nContent-Length: 50\r\n\r\nabc")
            with (
                socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn,
                conn.makefile("rb") as f,
            ):
                conn.sendall(_get("/after"))
                assert read_response(f).status == 200
    finally:
        proxy.stop()
    assert handled == ["/after"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
