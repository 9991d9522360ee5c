"""The Worker host's HTTP/1.1 server, byte for byte over real sockets.

Each test runs `Http1Server` on its own event loop in a thread, with a small echo handler, and
talks to it with a raw `socket`, so what is checked is what a client really receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pytest

from devstack.http1 import MAX_HEAD_BYTES, Http1Server, Reply, Request

MAX_BODY = 100
SECRET = "sk_test_never_in_logs_123"


@dataclass
class Seen:
    bodies: list[bytes] = field(default_factory=list)
    slow_started: threading.Event = field(default_factory=threading.Event)


_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("current", default=None)


async def _handler(seen: Seen, request: Request) -> Reply:
    seen.bodies.append(request.body)
    if request.path == "/context":
        # Set before a real wait, reset after it: as the Worker's request log does.
        token = _CURRENT.set(request.path)
        await asyncio.sleep(0.01)
        _CURRENT.reset(token)
    if request.path == "/boom":
        raise RuntimeError("handler exploded")
    if request.path == "/slow":
        seen.slow_started.set()
        await asyncio.sleep(0.4)
    if len(request.body) > MAX_BODY:
        return Reply(413, (("content-type", "application/json"),), b'{"error":"too big"}')
    body = json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "body": request.body.decode("latin-1"),
            "headers": dict(request.headers),
        }
    ).encode()
    return Reply(200, (("content-type", "application/json"),), body)


@dataclass
class Running:
    server: Http1Server
    loop: asyncio.AbstractEventLoop
    port: int
    seen: Seen

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace_s=5), self.loop).result(10)


def _start(keep_alive_s: float = 5.0) -> tuple[Running, threading.Thread]:
    seen = Seen()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]

    async def handle(request: Request) -> Reply:
        return await _handler(seen, request)

    server = Http1Server(
        handle,
        wanted_headers=frozenset({"authorization", "x-test"}),
        max_body=MAX_BODY,
        keep_alive_s=keep_alive_s,
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
    return Running(server, loop, port, seen), thread


@pytest.fixture
def srv() -> Iterator[Running]:
    running, thread = _start()
    yield running
    if not running.server.stopping:
        running.stop()
    running.loop.call_soon_threadsafe(running.loop.stop)
    thread.join(5)


@pytest.fixture
def quick_idle_srv() -> Iterator[Running]:
    running, thread = _start(keep_alive_s=0.3)
    yield running
    running.stop()
    running.loop.call_soon_threadsafe(running.loop.stop)
    thread.join(5)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def read_response(f: BinaryIO, *, head_only: bool = False) -> Response:
    """Read exactly one response off a buffered socket file."""
    status_line = f.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = b"" if head_only else f.read(length)
    assert len(body) == (0 if head_only else length)
    return Response(status, headers, body)


def is_closed(sock: socket.socket) -> bool:
    """True when the server has closed its side (EOF or reset within the timeout)."""
    sock.settimeout(3)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


def test_a_handler_that_waits_keeps_one_context_from_its_first_step_to_its_last(
    srv: Running,
) -> None:
    with srv.connect() as sock:
        sock.sendall(get("/context"))
        assert read_response(sock.makefile("rb")).status == 200


def test_keep_alive_answers_several_requests_on_one_connection(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        for i in range(3):
            sock.sendall(get(f"/n/{i}?q=1", "X-Test: yes\r\n"))
            resp = read_response(f)
            assert resp.status == 200
            assert "connection" not in resp.headers
            assert int(resp.headers["content-length"]) == len(resp.body)
            data = json.loads(resp.body)
            assert data["path"] == f"/n/{i}"  # the query string is not part of the path
            assert data["headers"] == {"x-test": "yes"}  # only the wanted headers


def test_pipelined_requests_are_answered_in_order(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(get("/a") + post("/slow", b"x") + get("/c"))
        paths = [json.loads(read_response(f).body)["path"] for _ in range(3)]
        assert paths == ["/a", "/slow", "/c"]


def test_content_length_body_reaches_the_handler_intact(srv: Running) -> None:
    body = bytes(range(256))[:90]
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(post("/echo", body)[: -len(body) + 40])
        time.sleep(0.05)  # the body arrives in two segments
        sock.sendall(body[40:])
        assert read_response(f).status == 200
    assert srv.seen.bodies == [body]


def test_chunked_body_reaches_the_handler_intact(srv: Running) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(head + chunks)
        resp = read_response(f)
        assert resp.status == 200
        assert json.loads(resp.body)["body"] == "hello world"
        sock.sendall(get("/after"))  # the connection is still usable
        assert read_response(f).status == 200


def test_body_over_max_body_is_cut_at_max_body_plus_one_and_connection_closed(
    srv: Running,
) -> None:
    body = b"z" * (MAX_BODY * 3)
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(post("/echo", body))
        resp = read_response(f)
        assert resp.status == 413
        assert resp.headers["connection"] == "close"
        assert is_closed(sock)
    assert [len(b) for b in srv.seen.bodies] == [MAX_BODY + 1]


def test_chunked_body_over_max_body_is_cut_too(srv: Running) -> None:
    chunk = b"y" * 60
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(head + (b"3c\r\n" + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
        assert read_response(f).status == 413
        assert is_closed(sock)
    assert [len(b) for b in srv.seen.bodies] == [MAX_BODY + 1]


def test_expect_100_continue_gets_100_then_the_reply(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        assert f.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert f.readline() == b"\r\n"
        sock.sendall(b"data")
        resp = read_response(f)
        assert resp.status == 200
        assert json.loads(resp.body)["body"] == "data"


def test_head_gets_headers_without_a_body(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/y"))
        head = read_response(f, head_only=True)
        assert head.status == 200
        assert int(head.headers["content-length"]) > 0
        # the next bytes are the next response, not a body
        assert json.loads(read_response(f).body)["path"] == "/y"


def test_http_1_0_closes_after_the_reply(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        resp = read_response(f)
        assert resp.status == 200
        assert resp.headers["connection"] == "close"
        assert is_closed(sock)


def test_connection_close_closes_after_the_reply(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(get("/bye", "Connection: close\r\n") + get("/ignored"))
        resp = read_response(f)
        assert resp.headers["connection"] == "close"
        assert is_closed(sock)
    assert len(srv.seen.bodies) == 1  # nothing after the close is answered


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET /x HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        b"GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    ],
    ids=["request_line", "header", "content_length"],
)
def test_malformed_request_gets_a_400_json_error_and_a_close(srv: Running, raw: bytes) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(raw)
        resp = read_response(f)
        assert resp.status == 400
        assert resp.headers["connection"] == "close"
        assert json.loads(resp.body)["error"]["code"] == "invalid_request"
        assert is_closed(sock)
    assert srv.seen.bodies == []


def test_over_long_head_gets_a_400_and_a_close(srv: Running) -> None:
    filler = "a" * 1000
    headers = "".join(f"X-Fill-{i}: {filler}\r\n" for i in range(MAX_HEAD_BYTES // 1000 + 2))
    with srv.connect() as sock, sock.makefile("rb") as f:
        with contextlib.suppress(ConnectionError):  # the server may close before reading it all
            sock.sendall(get("/big", headers))
        resp = read_response(f)
        assert resp.status == 400
        assert json.loads(resp.body)["error"]["code"] == "invalid_request"
        assert is_closed(sock)
    assert srv.seen.bodies == []


def test_over_long_url_gets_a_400(srv: Running) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        with contextlib.suppress(ConnectionError):
            sock.sendall(get("/" + "u" * (MAX_HEAD_BYTES + 10)))
        assert read_response(f).status == 400


def test_client_gone_mid_body_or_before_its_reply_does_not_break_the_server(
    srv: Running,
) -> None:
    with srv.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nonly-part")
    with srv.connect() as sock:
        sock.sendall(post("/slow", b"x"))
        assert srv.seen.slow_started.wait(3)
    # reset rather than FIN, before the reply
    sock = srv.connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.sendall(get("/reset"))
    sock.close()
    time.sleep(0.5)  # the slow handler finishes and writes to a closed connection
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(get("/next"))
        assert json.loads(read_response(f).body)["path"] == "/next"


def test_handler_that_raises_gets_a_500_json_error_logged_without_secrets(
    srv: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="devstack.http1"),
        srv.connect() as sock,
        sock.makefile("rb") as f,
    ):
        sock.sendall(get("/boom?token=" + SECRET, f"Authorization: Bearer {SECRET}\r\n"))
        resp = read_response(f)
        assert resp.status == 500
        assert json.loads(resp.body)["error"]["code"] == "internal_error"
        assert SECRET not in resp.body.decode()
        # the connection stays usable: the failure was the handler's, not the stream's
        sock.sendall(get("/after"))
        assert json.loads(read_response(f).body)["path"] == "/after"
    assert "handler failed on GET /boom" in caplog.text
    assert "handler exploded" in caplog.text  # the traceback is there
    assert SECRET not in caplog.text


def test_idle_keep_alive_connection_is_closed_after_keep_alive_s(
    quick_idle_srv: Running,
) -> None:
    with quick_idle_srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(get("/once"))
        assert read_response(f).status == 200
        started = time.monotonic()
        assert is_closed(sock)
        assert 0.2 < time.monotonic() - started < 2.0


def test_busy_connection_is_not_closed_as_idle(quick_idle_srv: Running) -> None:
    with quick_idle_srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(get("/slow"))  # 0.4 s, longer than keep_alive_s
        assert read_response(f).status == 200


def test_stop_finishes_the_request_in_flight_closes_idle_and_refuses_new(
    srv: Running,
) -> None:
    idle = srv.connect()
    idle_f = idle.makefile("rb")
    idle.sendall(get("/warm"))
    assert read_response(idle_f).status == 200
    busy = srv.connect()
    busy_f = busy.makefile("rb")
    busy.sendall(get("/slow"))
    assert srv.seen.slow_started.wait(3)
    stopping = asyncio.run_coroutine_threadsafe(srv.server.stop(grace_s=5), srv.loop)
    assert is_closed(idle)
    resp = read_response(busy_f)
    assert resp.status == 200
    assert resp.headers["connection"] == "close"
    stopping.result(5)
    assert is_closed(busy)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    for s, fh in ((idle, idle_f), (busy, busy_f)):
        fh.close()
        s.close()


def test_100_continue_behind_a_pipelined_request_waits_for_the_earlier_reply(
    srv: Running,
) -> None:
    with srv.connect() as sock, sock.makefile("rb") as f:
        sock.sendall(
            get("/slow")
            + b"POST /late HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        first = read_response(f)  # not the interim 100 of the second request
        assert json.loads(first.body)["path"] == "/slow"
        assert f.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert f.readline() == b"\r\n"
        sock.sendall(b"ok")
        second = read_response(f)
        assert json.loads(second.body) == {
            "method": "POST",
            "path": "/late",
            "body": "ok",
            "headers": {},
        }


@pytest.mark.parametrize(
    ("sent", "routed"),
    [
        ("/a/./b/../c", "/a/c"),
        ("/a/%2e/b/%2E%2e/c", "/a/c"),  # %2e is a dot, in either case
        ("/a/.%2e/b", "/b"),
        ("/a/%2e./b", "/b"),
        ("/x/..", "/"),
        ("/../../etc", "/etc"),  # never above the root
        ("/a/b/.", "/a/b/"),
        ("/a\\b", "/a/b"),  # a backslash is a slash in an http URL
        ("/a//b", "/a//b"),
        ("/a%2fb/..", "/"),
        ("/.../b", "/.../b"),
        ("/a%2Fb", "/a%2Fb"),  # other escapes are kept as sent
        ("/a{b}", "/a%7Bb%7D"),  # the path percent-encode set is encoded
    ],
)
def test_the_path_is_read_as_the_whatwg_url_parser_reads_it(
    srv: Running, sent: str, routed: str
) -> None:
    with srv.connect() as s:
        s.sendall(get(sent + "?q=1"))
        reply = read_response(s.makefile("rb"))
    assert reply.status == 200
    assert json.loads(reply.body)["path"] == routed


def test_a_header_sent_twice_is_joined_with_a_comma(srv: Running) -> None:
    with srv.connect() as s:
        s.sendall(get("/h", "X-Test: one\r\nAuthorization: a\r\nx-test: two\r\n"))
        reply = read_response(s.makefile("rb"))
    assert json.loads(reply.body)["headers"] == {"x-test": "one, two", "authorization": "a"}
