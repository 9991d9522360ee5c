"""Deadlines uvicorn does not have: for reading a request's headers, and for reading its body.

uvicorn (0.54, httptools and h11 alike) arms a timer only between requests (`timeout_keep_alive`,
cancelled by the first byte of the next one): a client that connects and sends nothing, or drips
a header byte now and then, or announces a body it never sends, holds its connection — one file
descriptor — for ever, and a few thousand of them exhaust the process. `limit_concurrency` does
not help: it counts those connections and then refuses the *real* requests with 503.

`guarded_protocol` is uvicorn's own httptools protocol (the DESIGN's choice, unchanged on the
hot path) with three additions:

- **header deadline**: from the connection's first moment (and from the first byte of each
  later request on it) the request line and headers must be complete within `header_timeout`,
  else the connection is answered `408` and closed;
- **body deadline**: once the headers are in, the whole body must arrive within `body_timeout`,
  else the connection is closed (the handler sees a client disconnect: no answer, no traceback);
- **a cap on connections still reading headers** (`max_pending`): past it, the one waiting
  longest is dropped, so however many slow clients arrive, they hold at most `max_pending`
  descriptors and never starve requests that arrive whole.

Requests that arrive whole pay two timer operations. Each drop is one debug log line at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from backend.settings import Settings

logger = logging.getLogger("backend.http_guard")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_PENDING = 1000

_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: 80\r\n\r\n"
    b'{"error": {"code": "request_timeout", "message": "The request took too long."}}\n'
)
assert len(_TIMEOUT_408.split(b"\r\n\r\n", 1)[1]) == 80


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT
    body_timeout: ClassVar[float] = DEFAULT_BODY_TIMEOUT
    max_pending: ClassVar[int] = DEFAULT_MAX_PENDING
    # Connections still reading headers, oldest first (per server: each subclass has its own).
    pending: ClassVar[OrderedDict[GuardedHttpToolsProtocol, None]]
    dropped: ClassVar[dict[str, int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    # --- the deadlines -------------------------------------------------------------------------

    def _arm(self, seconds: float, expired: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _await_headers(self) -> None:
        type(self).pending[self] = None
        self._arm(self.header_timeout, self._headers_too_slow)
        while len(type(self).pending) > self.max_pending:
            oldest = next(iter(type(self).pending))
            oldest._drop("evicted", abort=True)

    def _headers_too_slow(self) -> None:
        # A pipelined request may still be answering the one before: never interleave a 408.
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_408)
        self._drop("header_timeout", abort=False)

    def _body_too_slow(self) -> None:
        self._drop("body_timeout", abort=True)

    def _drop(self, reason: str, *, abort: bool) -> None:
        type(self).pending.pop(self, None)
        self._disarm()
        type(self).dropped[reason] = type(self).dropped.get(reason, 0) + 1
        logger.debug("closing a connection from %s: %s", self.client, reason)
        if abort:
            self.transport.abort()
        else:
            self.transport.close()

    # --- uvicorn's protocol, with the deadlines woven in ---------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        type(self).pending.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self not in type(self).pending:  # a later request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        type(self).pending.pop(self, None)
        self._arm(self.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def guarded_protocol(
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_pending: int = DEFAULT_MAX_PENDING,
) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)`, with its own registry of connections."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_pending": max_pending,
            "pending": OrderedDict(),
            "dropped": {},
        },
    )


def protocol_for(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    return guarded_protocol(
        header_timeout=settings.http_header_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
        max_pending=settings.http_max_pending_connections,
    )
