"""The Worker host served a round trip away (devstack.distance), over real sockets.

Only what cannot flake is asserted: a reply never comes before its round trip (a lower bound a
timer cannot beat), and requests are not serialised behind the delay — shown by order of events
(every pipelined or concurrent request reached the handler before the first reply came back), not
by measuring how long they took. How exact the delay is under load is measured in `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from devstack.distance import DistantServer
from devstack.http1 import Reply, Request
from tests.worker.test_http1_server import read_response

RTT_S = 0.15
SLACK_S = 0.002  # a loop timer may fire up to a millisecond early (uvloop rounds to ms)


@dataclass
class Running:
    server: DistantServer
    loop: asyncio.AbstractEventLoop
    port: int
    handled: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def seen(self) -> list[str]:
        with self.lock:
            return list(self.handled)


@pytest.fixture
def far() -> Iterator[Running]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    loop = asyncio.new_event_loop()
    running: Running

    async def handle(request: Request) -> Reply:
        with running.lock:
            running.handled.append(request.path)
        body = json.dumps({"path": request.path}).encode()
        return Reply(200, (("content-type", "application/json"),), body)

    server = DistantServer(handle, rtt_s=RTT_S, wanted_headers=frozenset(), max_body=100)
    running = Running(server, loop, sock.getsockname()[1])
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
    yield running
    asyncio.run_coroutine_threadsafe(server.stop(grace_s=5), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    sock.close()


def _get(path: str, *, close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: w\r\n{extra}\r\n".encode()


def test_a_new_connections_first_reply_costs_the_handshake_and_the_round_trip(
    far: Running,
) -> None:
    started = time.monotonic()
    with far.connect() as conn, conn.makefile("rb") as f:
        conn.sendall(_get("/first"))
        first = read_response(f)
        first_at = time.monotonic() - started
        sent = time.monotonic()
        conn.sendall(_get("/second"))
        second = read_response(f)
        second_took = time.monotonic() - sent
    assert (first.status, json.loads(first.body)) == (200, {"path": "/first"})
    assert json.loads(second.body) == {"path": "/second"}
    assert first_at >= 2 * RTT_S - SLACK_S  # handshake + the call
    assert second_took >= RTT_S - SLACK_S  # kept alive: the call alone


def test_the_request_waits_out_the_handshake_before_the_handler_sees_it(far: Running) -> None:
    with far.connect() as conn, conn.makefile("rb") as f:
        conn.sendall(_get("/early"))
        time.sleep(RTT_S / 3)
        assert far.seen() == []  # still "on the wire"
        read_response(f)
    assert far.seen() == ["/early"]


def test_pipelined_requests_are_not_serialised_behind_each_others_delay(far: Running) -> None:
    paths = [f"/p{i}" for i in range(6)]
    with far.connect() as conn, conn.makefile("rb") as f:
        conn.sendall(b"".join(_get(p) for p in paths))
        first = read_response(f)
        handled_by_first_reply = far.seen()
        rest = [read_response(f) for _ in paths[1:]]
    assert handled_by_first_reply == paths  # all in flight at once, as on a real link
    assert [json.loads(r.body)["path"] for r in [first, *rest]] == paths  # replies in order


def test_connections_are_served_side_by_side_not_one_delay_at_a_time(far: Running) -> None:
    conns = [far.connect() for _ in range(4)]
    try:
        files = [c.makefile("rb") for c in conns]
        for i, conn in enumerate(conns):
            conn.sendall(_get(f"/c{i}"))
        read_response(files[0])
        assert sorted(far.seen()) == [f"/c{i}" for i in range(4)]
        for f in files[1:]:
            assert read_response(f).status == 200
        for f in files:
            f.close()
    finally:
        for conn in conns:
            conn.close()


def test_connection_close_is_held_until_the_reply_is_written(far: Running) -> None:
    with far.connect() as conn, conn.makefile("rb") as f:
        conn.sendall(_get("/last", close=True))
        reply = read_response(f)
        assert reply.headers["connection"] == "close"
        assert json.loads(reply.body) == {"path": "/last"}
        assert f.read() == b""  # then the close


def test_a_client_that_leaves_before_its_reply_costs_the_server_nothing(far: Running) -> None:
    with far.connect() as conn:
        conn.sendall(_get("/gone"))
    with far.connect() as conn, conn.makefile("rb") as f:  # the server still serves
        conn.sendall(_get("/next"))
        assert json.loads(read_response(f).body) == {"path": "/next"}


def test_a_negative_round_trip_is_refused() -> None:
    async def handle(request: Request) -> Reply:
        raise AssertionError

    with pytest.raises(ValueError, match="negative"):
        DistantServer(handle, rtt_s=-0.001, wanted_headers=frozenset(), max_body=1)


def test_no_round_trip_serves_the_plain_protocol() -> None:
    async def handle(request: Request) -> Reply:
        raise AssertionError

    server = DistantServer(handle, rtt_s=0.0, wanted_headers=frozenset(), max_body=1)
    assert type(server.protocol()).__name__ == "_Connection"


def test_a_client_that_half_closes_after_its_request_still_gets_the_held_reply(
    far: Running,
) -> None:
    with far.connect() as conn, conn.makefile("rb") as f:
        conn.sendall(_get("/half"))
        conn.shutdown(socket.SHUT_WR)  # EOF while the handshake and the reply are held
        reply = read_response(f)
        assert json.loads(reply.body) == {"path": "/half"}
        assert f.read() == b""


@pytest.mark.parametrize("value", ["-5", "soon", "nan", "inf"])
def test_the_host_refuses_a_reply_delay_that_is_not_a_round_trip(
    value: str, tmp_path: pathlib.Path
) -> None:
    env = {
        **os.environ,
        "BETTER_AUTH_SECRET": "s" * 40,
        "INTERNAL_API_KEYS": "v1:" + "k" * 40,
        "D1_DATABASE_PATH": str(tmp_path / "d1.sqlite3"),
        "WORKER_PORT": "0",
        "WORKER_REPLY_DELAY_MS": value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "devstack.worker_host"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "WORKER_REPLY_DELAY_MS must be a number of ms ≥ 0" in done.stderr
