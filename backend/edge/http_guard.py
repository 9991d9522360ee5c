"""Bounds uvicorn does not have: on every way a client can hold a connection.

uvicorn (0.54, httptools and h11 alike) arms a timer only between requests (`timeout_keep_alive`,
cancelled by *any* next byte, a blank line included): a client that connects and sends nothing,
drips a header byte now and then, announces a body it never sends, sends `\\r\\n` between requests,
or sends requests and never reads the answers, holds its connection — one file descriptor — for
ever, and a few thousand of them exhaust the process. Nor does it bound a request's head, and
httptools copies a header split across reads once per read (quadratic). `limit_concurrency` does
not help: it counts those connections and then refuses the *real* requests with 503.

`guarded_protocol` is uvicorn's own httptools protocol (the DESIGN's choice, unchanged on the
hot path) with these additions:

- **header deadline**: from the connection's first moment, and from the first byte of each later
  request on it (a blank line counts), the request line and headers must be complete within
  `header_timeout`, else `408` and the connection is closed;
- **body deadline**: once the headers are in, the whole body must arrive within `body_timeout`,
  else the connection is closed (the handler sees a client disconnect: no answer, no traceback);
- **write deadline**: once the client stops taking what it is sent (the transport's buffer is
  full), it must take some within `write_timeout`, else the connection is closed;
- **head size**: a request line plus headers over `max_header_bytes` is answered `431`; an
  unfinished head is held back from the parser until it ends, then parsed once (linear work);
- **one cap on connections waiting on their client** (`max_pending`) — reading a head or a body,
  or not reading their answers: past it, the one waiting longest is dropped, so however many slow
  clients arrive, they hold at most `max_pending` descriptors and never starve requests that
  arrive whole.

A dropped connection marks every request on it disconnected, so no handler writes to a closed
transport (uvloop raises there, and uvicorn logs a traceback). Requests that arrive whole pay two
timer operations. Each drop is one debug log line at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from backend.core.settings import Settings

logger = logging.getLogger("backend.http_guard")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_MAX_PENDING = 1000
DEFAULT_MAX_HEADER_BYTES = 32 * 1024


def _json_reply(status: bytes, code: str, message: str) -> bytes:
    body = b'{"error": {"code": "%s", "message": "%s"}}\n' % (code.encode(), message.encode())
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (status, len(body), body)
    )


_TIMEOUT_408 = _json_reply(b"408 Request Timeout", "request_timeout", "The request took too long.")
_TOO_LARGE_431 = _json_reply(
    b"431 Request Header Fields Too Large",
    "header_too_large",
    "The request line and headers are too large.",
)


_DISCARD_BYTES = 256 * 1024


class _HeadTooLarge(Exception):
    """Raised inside a parser callback: feed_data stops and raises HttpParserCallbackError."""


class _Dropped(Exception):
    """The connection was dropped while its bytes were being parsed: parse no further."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT
    body_timeout: ClassVar[float] = DEFAULT_BODY_TIMEOUT
    write_timeout: ClassVar[float] = DEFAULT_WRITE_TIMEOUT
    max_pending: ClassVar[int] = DEFAULT_MAX_PENDING
    max_header_bytes: ClassVar[int] = DEFAULT_MAX_HEADER_BYTES
    # Connections waiting on their client, oldest first (per server: each subclass has its own).
    pending: ClassVar[OrderedDict[GuardedHttpToolsProtocol, None]]
    dropped: ClassVar[dict[str, int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None  # reading a head or a body
        self._write_deadline: asyncio.TimerHandle | None = None
        self._reading = False  # a request is arriving: from its first byte to its last
        self._in_head = False  # the parser has begun a request whose headers are not complete
        self._held: bytearray | None = None  # an unfinished head, not yet given to the parser
        self._held_fed = 0  # how many of `_held`'s first bytes the parser already has
        self._running: RequestResponseCycle | None = None
        self._discard_budget = -1  # refused (>= 0): bytes still read and dropped before a reset

    # --- the registry and the deadlines --------------------------------------------------------

    def _wait_on_client(self) -> None:
        registry = type(self).pending
        registry[self] = None
        while len(registry) > self.max_pending:
            next(iter(registry))._drop("evicted", abort=True)

    def _release_unless_waiting(self) -> None:
        if not self._reading and self._write_deadline is None:
            type(self).pending.pop(self, None)

    def _arm(self, seconds: float, expired: Any) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _start_request(self) -> None:
        self._reading = True
        self._arm(self.header_timeout, self._headers_too_slow)
        self._wait_on_client()

    def _answering(self) -> bool:
        # A pipelined request may still be answering the one before: never interleave a reply.
        return self.cycle is not None and not self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        if not self._answering() and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_408)
        self._drop("header_timeout", abort=False)

    def _body_too_slow(self) -> None:
        self._drop("body_timeout", abort=True)

    def _write_too_slow(self) -> None:
        self._drop("write_timeout", abort=True)

    def _head_too_large(self) -> None:
        """431, then what the client still sends is read and dropped for a moment (at most
        `_DISCARD_BYTES`, for at most two seconds): a socket closed with unread data resets at
        once, dropping the answer it had not sent yet."""
        self._held = None
        if self._answering() or self.transport.is_closing() or not self.transport.can_write_eof():
            self._drop("header_too_large", abort=True)
            return
        self.transport.write(_TOO_LARGE_431)
        self.transport.write_eof()
        self._discard_budget = _DISCARD_BYTES
        self._arm(min(self.header_timeout, 2.0), self._stop_discarding)

    def _stop_discarding(self) -> None:
        self._drop("header_too_large", abort=True)

    def _drop(self, reason: str, *, abort: bool) -> None:
        type(self).pending.pop(self, None)
        self._disarm()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        self._held = None
        type(self).dropped[reason] = type(self).dropped.get(reason, 0) + 1
        logger.debug("closing a connection from %s: %s", self.client, reason)
        self._disconnect_requests()
        # A close waits for the write buffer to drain: with a client that does not read, for ever.
        if abort or self.transport.get_write_buffer_size() > len(_TIMEOUT_408):
            self.transport.abort()
        else:
            self.transport.close()

    def _disconnect_requests(self) -> None:
        """Every request on this connection (answering, queued, arriving) sees a disconnect and
        writes nothing more."""
        cycles = [self.cycle, self._running, *(cycle for cycle, _ in self.pipeline)]
        self.pipeline.clear()
        for cycle in cycles:
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        if self.flow is not None:
            self.flow.resume_writing()  # a handler waiting to write wakes up to the disconnect

    # --- reading: the head held back until it ends, then parsed once --------------------------

    def data_received(self, data: bytes) -> None:
        held = self._held
        if self._discard_budget >= 0:
            self._discard_budget -= len(data)
            if self._discard_budget < 0:
                self._stop_discarding()
            return
        if held is not None:
            start = max(len(held) - 3, 0)
            held += data
            if len(held) - self._held_fed > self.max_header_bytes:
                self._head_too_large()
                return
            if held.find(b"\r\n\r\n", start) < 0:
                return
            self._held = None
            data = bytes(held[self._held_fed :])
        elif not self._reading:  # the first byte of a request, or a blank line before one
            self._start_request()
            if self.transport.is_closing():  # it was the oldest waiting, past the cap
                return
        self._feed(data)
        if self._in_head and self._held is None and not self.transport.is_closing():
            tail = data[-3:]  # the end of the head may straddle this read and the next
            self._held, self._held_fed = bytearray(tail), len(tail)

    def _feed(self, data: bytes) -> None:
        """uvicorn's `data_received`, with a head past the bound answered 431."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._head_too_large()
                return
            if self.transport.is_closing():  # dropped meanwhile: nothing to answer
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    # --- writing: a client that does not take its answers -------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.write_timeout, self._write_too_slow)
            self._wait_on_client()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
            self._release_unless_waiting()

    # --- uvicorn's protocol, with the bounds woven in ------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_request()

    def connection_lost(self, exc: Exception | None) -> None:
        type(self).pending.pop(self, None)
        self._disarm()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        self._held = None
        self._disconnect_requests()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if not self._reading:  # a request pipelined right behind the last one's final byte
            self._start_request()

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():  # dropped while parsing: start no handler
            raise _Dropped()
        self._in_head = False
        # The head's size as sent: request line, each header line, the blank line.
        size = len(self.url) + 16
        for name, value in self.headers:
            size += len(name) + len(value) + 4
        if size > self.max_header_bytes:
            raise _HeadTooLarge()
        self._arm(self.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading = False
        self._disarm()
        self._release_unless_waiting()
        super().on_message_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)


def guarded_protocol(
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    max_pending: int = DEFAULT_MAX_PENDING,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)`, with its own registry of connections."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "write_timeout": write_timeout,
            "max_pending": max_pending,
            "max_header_bytes": max_header_bytes,
            "pending": OrderedDict(),
            "dropped": {},
        },
    )


def protocol_for(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    return guarded_protocol(
        header_timeout=settings.http_header_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
        write_timeout=settings.http_write_timeout_seconds,
        max_pending=settings.http_max_pending_connections,
        max_header_bytes=settings.http_max_header_bytes,
    )
