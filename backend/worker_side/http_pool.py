"""A lean HTTP/1.1 keep-alive client for the backend's one upstream, the Worker.

Why not aiohttp: a Worker call is a small JSON request and a small JSON reply to one origin, and
aiohttp's general machinery (sessions, cookie jars, trace signals, a task and a timer per request)
cost ~200 µs of CPU per call — about half of the status route. This client does only what such a
call needs, on asyncio's transports and `httptools` (the parser uvicorn already uses): keep-alive
connections pooled per process, at most `limit` open at once; replies framed by Content-Length,
chunked, or read until the peer closes (counted only on a clean close: a reset is an error, never
a truncated answer); `Connection: close` honoured; idle connections dropped after `idle_seconds`;
HTTPS with SNI and certificate verification (the default context). A reply's head is bounded
(`MAX_REPLY_HEAD_BYTES`) as is its body (`MAX_REPLY_BYTES`); a `101`/upgrade is an error.

Its failures say how far a call got, because that decides what the caller may retry:
`ConnectFailed` (nothing was sent), `StaleConnection` (a reused connection was closed before any
byte of the answer: most often the peer had closed it while idle, but the request may have run),
`ConnectionLost` (anything after the request may have been sent). A request given a `deadline`
fails with `TimeoutError` once it passes; timed out, cancelled or failed — at any point, even just
after its reply arrived — the connection in use is aborted, never reused nor left open.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

MAX_REPLY_BYTES = 16 * 1024 * 1024
MAX_REPLY_HEAD_BYTES = 64 * 1024  # status line + headers (interim 1xx replies included)


class TransportError(Exception):
    """A call failed on the wire; the subclass says how far it got."""


class ConnectFailed(TransportError):
    """No connection could be opened (refused, unreachable, unknown name, TLS): nothing was sent."""


class StaleConnection(TransportError):
    """A reused keep-alive connection closed before any byte of the answer. Most often the peer
    had closed it while it sat idle and the request never arrived, but the peer may also have
    run the request and gone before answering: the request may have run."""


class ConnectionLost(TransportError):
    """The connection failed once the request may have been sent, or the reply was malformed."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


class _ReplyTooLarge(Exception):
    """More reply than was asked for: a body past `MAX_REPLY_BYTES`, or a second message."""


class _Upgrade(Exception):
    """A `101 Switching Protocols`: the peer wants another protocol, not to answer."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: one request at a time, its reply parsed by httptools."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Connection], None]):
        self._loop = loop
        self._on_lost = on_lost
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False  # it has answered a request before
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Reply] | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._answered = False  # any byte of the current reply arrived
        self._framed = False  # Content-Length or Transfer-Encoding seen
        self._until_close = False  # a reply without framing: its body ends when the peer closes
        self._head_bytes = 0  # of the current reply, until its headers are complete
        self._in_head = True

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: a peer talking out of turn is not reused
            self.abort()
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(ConnectionLost("the reply was " + _what_went_wrong(exc)))
            self.abort()
            return
        if self._in_head:
            # Everything read so far is head: a peer sending headers for ever is cut off.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_REPLY_HEAD_BYTES:
                self._fail(ConnectionLost("the reply was too large (its headers)"))
                self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if self._until_close and self._waiter is not None and exc is None:
            # Framed by the close itself: only a clean close (FIN) ends it; a reset cut it short.
            self._resolve(self._parser.get_status_code())
        elif not self._answered and self.reused:
            self._fail(StaleConnection())
        else:
            self._fail(ConnectionLost("the connection closed before the reply was complete"))

    # --- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None:  # a second reply to one request: the stream is out of step
            raise _ReplyTooLarge()
        self._chunks, self._size = [], 0
        self._framed = self._until_close = False
        self._in_head = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status == 101:
            raise _Upgrade()
        self._in_head = status < 200  # an interim reply's head counts with the real one's
        self._until_close = not self._framed and status >= 200 and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_REPLY_BYTES:
            raise _ReplyTooLarge()
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an interim 1xx: the real reply follows
            return
        self._until_close = False
        keep_alive = self._parser.should_keep_alive()
        self._resolve(status)
        if not keep_alive:
            self.abort()

    # --- used by the pool ----------------------------------------------------------------------

    async def exchange(self, request: bytes, deadline: float | None) -> Reply:
        """Send one request and wait for its whole reply until `deadline` (loop time). Timed out,
        cancelled or failed, the connection is aborted: a reply still on its way must never be
        read as the next request's."""
        assert self.transport is not None
        waiter: asyncio.Future[Reply] = self._loop.create_future()
        self._waiter = waiter
        self._answered = False
        self._head_bytes, self._in_head = 0, True
        # A timer on the loop, not asyncio.timeout(): a third of the cost, on every call.
        timer = None if deadline is None else self._loop.call_at(deadline, self._time_out)
        self.transport.write(request)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if not waiter.done() or waiter.cancelled() or waiter.exception() is not None:
                self._waiter = None
                self.abort()
            else:
                self.reused = True

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _resolve(self, status: int) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(status, b"".join(self._chunks)))
        self._chunks = []

    def _time_out(self) -> None:
        self._fail(TimeoutError())

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


def _what_went_wrong(exc: Exception) -> str:
    if isinstance(exc, httptools.HttpParserUpgrade) or isinstance(exc.__context__, _Upgrade):
        return "an upgrade (101), not an answer"
    return "too large" if isinstance(exc.__context__, _ReplyTooLarge) else "malformed"


def _header_lines(headers: Mapping[str, str]) -> str:
    lines = [f"{name}: {value}" for name, value in headers.items()]
    if not all(line.isprintable() for line in lines):
        raise ValueError("header lines must not contain CR, LF or other control characters")
    return "".join(line + "\r\n" for line in lines)


class Http1Pool:
    """Keep-alive connections to one origin (`http://` or `https://`, with an optional path
    prefix), at most `limit` open at once; a request beyond that waits for a free one."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int,
        headers: Mapping[str, str],
        idle_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context`: for `https://`, the default (system CAs, hostname checked) unless given;
        tests hand one that trusts their own certificate."""
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("the Worker URL must be http:// or https:// with a host")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/")
        authority = f"[{self._host}]" if ":" in self._host else self._host
        if url.port is not None:
            authority += f":{url.port}"
        self._fixed = _header_lines({"Host": authority, **headers})
        self._idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(limit)
        self._idle: deque[_Connection] = deque()  # most recently used on the right
        self._open: set[_Connection] = set()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        deadline: float | None = None,
        fresh: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request on a pooled connection (`fresh`: on a newly opened one), answered by
        `deadline` (loop time) or `TimeoutError` — waiting for a free connection included.
        `headers`: this request's own, after the pool's."""
        request = self._encode(method, path, body, headers)
        if self._slots.locked():
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            connection = None if fresh else self._take_idle()
            if connection is None:
                async with asyncio.timeout_at(deadline):
                    connection = await self._connect()
            try:
                reply = await connection.exchange(request, deadline)
            except BaseException:
                # Cancelled even after the reply arrived (the waiter done, the task not yet
                # resumed): the connection is neither idle nor in use, so it is closed here.
                connection.abort()
                raise
            if not connection.closed:
                connection.idle_since = now = asyncio.get_running_loop().time()
                self._idle.append(connection)
                self._expire_oldest(now)
            return reply
        finally:
            self._slots.release()

    async def close(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._open.clear()
        self._idle.clear()

    def _encode(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> bytes:
        if not path.isprintable() or " " in path:
            raise ValueError("a request path must be percent-encoded")
        head = f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._fixed}"
        if headers:
            head += _header_lines(headers)
        if body is None:
            return (head + "\r\n").encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def _take_idle(self) -> _Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            if now - connection.idle_since < self._idle_seconds:
                return connection
            # The most recent one is too old, so all are: close them all.
            connection.abort()
            for old in self._idle:
                old.abort()
            self._idle.clear()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        made: list[_Connection] = []

        def connection_for_this_call() -> _Connection:
            made.append(_Connection(loop, self._forget))
            return made[-1]

        try:
            _, connection = await loop.create_connection(
                connection_for_this_call,
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl is not None else None,
            )
        except OSError as exc:  # refused, unreachable, DNS, TLS verification (ssl.SSLError)
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from None
        except BaseException:  # cancelled or timed out: a connection made meanwhile is closed
            for orphan in made:
                orphan.abort()
            raise
        self._open.add(connection)
        return connection

    def _expire_oldest(self, now: float) -> None:
        while self._idle and now - self._idle[0].idle_since >= self._idle_seconds:
            self._idle.popleft().abort()

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
