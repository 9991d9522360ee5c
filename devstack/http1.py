"""A small HTTP/1.1 server for one async handler: the Worker host's transport.

The host sits on the backend's hot path, where uvicorn's ASGI cycle (a task, a scope dict and two
messages per request, a `write` for the head and another for the body) cost about as much CPU as the
Worker's core itself. This server parses with httptools (uvicorn's own parser), hands the handler
the method, the path, the few headers it reads and the body, and writes each reply with one
`write`. It reads a request as Cloudflare's runtime does: the path normalized by the WHATWG URL
parser's rules (`devstack.url_path`: `.`/`..` segments, `%2e` included, resolved), and a header
sent more than once joined with `, `. What it keeps of HTTP/1.1: keep-alive (and `Connection:
close`, HTTP/1.0), pipelined requests answered in order, Content-Length and chunked request bodies,
`Expect: 100-continue` (sent once the replies to earlier pipelined requests are out), HEAD without a
body; a body over `max_body` is cut at `max_body + 1` bytes (the handler answers 413) and the
connection closed after the reply; a malformed request is a 400 JSON error and a close. A client
that goes away does not cancel its request: a write is never interrupted half-way, the reply is
dropped. `stop()` stops accepting, lets requests in flight finish, and closes every connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import http
import json
import logging
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, NamedTuple, cast

import httptools

from devstack.url_path import normalize_path

__all__ = ["Handler", "Http1Server", "Reply", "Request"]

log = logging.getLogger("devstack.http1")

MAX_HEAD_BYTES = 64 * 1024  # request line + headers; more is a 400 (llhttp itself has no limit)
KEEP_ALIVE_S = 5.0  # an idle connection is closed after this long, as uvicorn does by default


class Request(NamedTuple):
    method: str
    path: str  # WHATWG-normalized, still percent-encoded, without the query string
    headers: Mapping[str, str]  # only the names the server was asked to keep, lower-case
    body: bytes


class Reply(NamedTuple):
    status: int
    headers: Sequence[tuple[str, str]]  # besides content-length and connection
    body: bytes


Handler = Callable[[Request], Coroutine[Any, Any, Reply]]

_STATUS_LINES = {
    int(s): f"HTTP/1.1 {int(s)} {s.phrase}\r\n".encode("latin-1") for s in http.HTTPStatus
}
_BAD_REQUEST = json.dumps(
    {"error": {"code": "invalid_request", "message": "Malformed HTTP request."}},
    separators=(",", ":"),
).encode()
_INTERNAL_ERROR = b'{"error":{"code":"internal_error","message":"Internal error."}}'
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Status\r\n".encode()


def _reply_400() -> Reply:
    return Reply(400, (("content-type", "application/json"),), _BAD_REQUEST)


def _failed(request: Request) -> Reply:
    log.exception("handler failed on %s %s", request.method, request.path)
    return Reply(500, (("content-type", "application/json"),), _INTERNAL_ERROR)


class _Pending(NamedTuple):
    request: Request | None  # None: the malformed request's 400
    keep_alive: bool
    head_only: bool


class _Connection(asyncio.Protocol):
    """One client connection: parse, queue, answer in order."""

    def __init__(self, server: Http1Server) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: collections.deque[_Pending] = collections.deque()
        self._busy = False  # a handler is running for the queue's head
        self._closing = False  # after the queued replies, close; read nothing more
        self._paused = False
        self.last_active = 0.0
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._cut = False  # the body went over max_body: queued already, the rest is dropped
        self._continue_owed = False  # `100 Continue` for this request, once earlier replies are out

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.last_active = self._server.loop.time()
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_active = self._server.loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._closing = True  # no protocol to upgrade to: answer what was asked, then close
        except httptools.HttpParserError:
            if not self._cut:
                self._queue.append(_Pending(None, keep_alive=False, head_only=False))
            self._closing = True
        self._next()

    def pause_writing(self) -> None:
        self._set_paused(True)

    def resume_writing(self) -> None:
        self._set_paused(False)

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow_head(len(name) + len(value))
        key = name.decode("latin-1").lower()
        if key in self._server.wanted_headers:
            text = value.decode("latin-1")
            seen = self._headers.get(key)
            self._headers[key] = text if seen is None else f"{seen}, {text}"
        elif key == "expect" and value.lower() == b"100-continue":
            self._headers[key] = "100-continue"

    def on_headers_complete(self) -> None:
        expects = self._headers.pop("expect", None)
        if expects and self._parser.get_http_version() == "1.1":
            # An interim reply must not overtake the replies to requests pipelined before it.
            self._continue_owed = True
            self._send_continue()

    def _send_continue(self) -> None:
        if self._continue_owed and self.idle and not self._closing and self._transport is not None:
            self._continue_owed = False
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self._cut:
            return
        self._body.append(body)
        self._body_size += len(body)
        if self._body_size > self._server.max_body:
            self._queue_request(keep_alive=False)  # the handler sees max_body + 1 bytes: a 413
            self._cut = True
            self._closing = True

    def on_message_complete(self) -> None:
        if not self._cut:
            self._queue_request(keep_alive=self._parser.should_keep_alive())
        self._reset()

    def _grow_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise ValueError("request head too large")  # feed_data raises HttpParserError

    def _queue_request(self, *, keep_alive: bool) -> None:
        method = self._parser.get_method().decode("ascii")
        url = self._url
        path = url.partition(b"?")[0]
        if not path.startswith(b"/"):  # absolute form: http://host/path
            path = httptools.parse_url(url).path or b"/"
        body = b"".join(self._body)[: self._server.max_body + 1]
        request = Request(method, normalize_path(path), self._headers, body)
        self._queue.append(_Pending(request, keep_alive, head_only=method == "HEAD"))
        if len(self._queue) > 16:
            self._set_paused(True)  # a client pipelining far ahead waits for its replies

    # answering

    def _next(self) -> None:
        """Answer queued requests in order, one handler at a time.

        The handler's coroutine is started right here rather than as a task: on this host it
        never waits (SQLite answers synchronously), so it finishes in its first step and the
        reply is written without a task or another turn of the loop. One that does wait is
        handed to a task that finishes it.
        """
        while self._queue and not self._busy and self._transport is not None:
            pending = self._queue.popleft()
            if pending.request is None:
                self._write(_reply_400(), pending)
                continue
            coro = self._server.handler(pending.request)
            # One context for every step, as one task has: a ContextVar the handler sets in its
            # first step is the one it resets in its last.
            context = contextvars.copy_context()
            try:
                waiting = context.run(coro.send, None)
            except StopIteration as done:
                self._write(done.value, pending)
                continue
            except Exception:
                self._write(_failed(pending.request), pending)
                continue
            self._busy = True
            task = self._server.loop.create_task(self._finish(coro, waiting, pending, context))
            self._server.tasks.add(task)
            task.add_done_callback(self._server.tasks.discard)
            return
        if self._closing and not self._queue and not self._busy and self._transport is not None:
            self._transport.close()
        elif self._paused and len(self._queue) <= 4:
            self._set_paused(False)
        self._send_continue()

    async def _finish(
        self,
        coro: Coroutine[Any, Any, Reply],
        waiting: Any,
        pending: _Pending,
        context: contextvars.Context,
    ) -> None:
        """Drive a handler that waited on its first step to the end, as a task would have."""
        assert pending.request is not None
        try:
            while True:
                if waiting is None:  # a bare yield (`asyncio.sleep(0)`)
                    await asyncio.sleep(0)
                else:  # an asyncio future: wait for it; the coroutine reads its outcome itself
                    await asyncio.wait([waiting])
                try:
                    waiting = context.run(coro.send, None)
                except StopIteration as done:
                    reply: Reply = done.value
                    break
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            reply = _failed(pending.request)
        self._busy = False
        self._write(reply, pending)
        self._next()

    def _write(self, reply: Reply, pending: _Pending) -> None:
        transport = self._transport
        if transport is None:
            return
        keep_alive = pending.keep_alive and not self._server.stopping
        head = [_status_line(reply.status)]
        for name, value in reply.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        head.append(b"content-length: %d\r\n" % len(reply.body))
        head.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
        if not pending.head_only:
            head.append(reply.body)
        transport.write(b"".join(head))
        if not keep_alive:
            self._closing = True
            self._queue.clear()
        self.last_active = self._server.loop.time()

    def _set_paused(self, paused: bool) -> None:
        if self._transport is None or paused == self._paused:
            return
        self._paused = paused
        if paused:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()

    @property
    def idle(self) -> bool:
        return not self._busy and not self._queue

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Http1Server:
    """Serves `handler` on a bound socket until `stop()`."""

    def __init__(
        self,
        handler: Handler,
        *,
        wanted_headers: frozenset[str],
        max_body: int,
        keep_alive_s: float = KEEP_ALIVE_S,
    ) -> None:
        self.handler = handler
        self.keep_alive_s = keep_alive_s
        self.wanted_headers = wanted_headers
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    async def start(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(self.protocol, sock=sock)
        self._sweeper = self._loop.call_later(self._sweep_every, self._sweep)

    def protocol(self) -> asyncio.Protocol:
        """One accepted connection's protocol (a subclass may wrap it)."""
        return _Connection(self)

    @property
    def _sweep_every(self) -> float:
        return min(1.0, self.keep_alive_s / 4)

    def _sweep(self) -> None:
        horizon = self.loop.time() - self.keep_alive_s
        for conn in list(self.connections):
            if conn.idle and conn.last_active < horizon:
                conn.close()
        self._sweeper = self.loop.call_later(self._sweep_every, self._sweep)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting; idle connections close now, busy ones after their reply."""
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.idle:
                conn.close()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace_s)
        for conn in list(self.connections):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()
        for _ in range(1000):  # each closed transport reports `connection_lost` a turn later
            if not self.connections:
                break
            await asyncio.sleep(0.001)
