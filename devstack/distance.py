"""Put a network round trip between a local server and its clients, inside the server itself.

In production the backend and the Worker are a round trip (RTT, ~20 ms Railway → Cloudflare)
apart. This machine's kernel has no `netem`, and a delaying proxy in between costs CPU of its own
and caps the run (a Python proxy held the bench near 1,100 calls/s whatever the pool). So the
server's own protocol is wrapped: every write is held `rtt_s` on the loop before it reaches the
socket — on a kept-alive connection one call then costs one RTT, as across the network — and the
bytes of a new connection arriving before `rtt_s` after it opened are held until then (the TCP
handshake's round trip, paid by each new connection's first request). Nothing is serialised: a
connection's writes keep their order and pipelined requests are answered without waiting on one
another, as bytes in flight would be. One loop timer per connection with bytes held, not a
sleeping task per request.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

from devstack.http1 import Handler, Http1Server

__all__ = ["DistantProtocol", "DistantServer"]

# A timer may fire a hair before its time (uvloop rounds to whole milliseconds): what is due
# within this much is written now rather than re-armed for a turn of its own.
_SLACK_S = 0.0005


class _HeldTransport:
    """The transport the wrapped protocol sees: writes (and a close after them) held `rtt_s`."""

    def __init__(self, real: asyncio.Transport, owner: DistantProtocol) -> None:
        self._real = real
        self._owner = owner
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._owner.hold_write(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._owner.close_after_writes()

    def abort(self) -> None:
        self._closing = True
        self._owner.drop()
        self._real.abort()

    def is_closing(self) -> bool:
        return self._closing or self._real.is_closing()

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._owner.held_bytes + self._real.get_write_buffer_size()


class DistantProtocol(asyncio.Protocol):
    """`inner` served `rtt_s` away: replies reach the wire `rtt_s` after they were written, and
    a new connection's first bytes reach `inner` `rtt_s` after it opened."""

    def __init__(self, inner: asyncio.Protocol, rtt_s: float) -> None:
        if rtt_s < 0:
            raise ValueError("a round trip cannot be negative")
        self._inner = inner
        self._rtt = rtt_s
        self._loop = asyncio.get_running_loop()
        self._real: asyncio.Transport | None = None
        self._writes: collections.deque[tuple[float, bytes]] = collections.deque()
        self._write_timer: asyncio.TimerHandle | None = None
        self._close_after = False
        self._open_at = 0.0  # the handshake's round trip ends here
        self._early: list[bytes] = []  # bytes that came before it, delivered then
        self._early_eof = False
        self._early_timer: asyncio.TimerHandle | None = None
        self.held_bytes = 0

    # the real transport's events, passed on to `inner` (reads after the handshake's RTT)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._real = cast(asyncio.Transport, transport)
        self._open_at = self._loop.time() + self._rtt
        self._inner.connection_made(cast(asyncio.Transport, _HeldTransport(self._real, self)))

    def data_received(self, data: bytes) -> None:
        if self._early_timer is None and self._loop.time() >= self._open_at:
            self._inner.data_received(data)
            return
        self._early.append(data)
        if self._early_timer is None:
            self._early_timer = self._loop.call_at(self._open_at, self._deliver_early)

    def eof_received(self) -> bool | None:
        if self._early_timer is not None:
            self._early_eof = True  # passed on once the held bytes are delivered
        else:
            self._eof()
        return True  # the transport stays open: held replies still go out before the close

    def _eof(self) -> None:
        if not self._inner.eof_received():
            self.close_after_writes()

    def connection_lost(self, exc: Exception | None) -> None:
        self.drop()
        if self._early_timer is not None:
            self._early_timer.cancel()
            self._early_timer = None
        self._early.clear()
        self._real = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _deliver_early(self) -> None:
        self._early_timer = None
        early, self._early = self._early, []
        for data in early:
            if self._real is None:
                return
            self._inner.data_received(data)
        if self._early_eof and self._real is not None:
            self._eof()

    # what `inner` writes, held

    def hold_write(self, data: bytes) -> None:
        if self._real is None:
            return
        self._writes.append((self._loop.time() + self._rtt, data))
        self.held_bytes += len(data)
        if self._write_timer is None:
            self._write_timer = self._loop.call_at(self._writes[0][0], self._flush)

    def close_after_writes(self) -> None:
        self._close_after = True
        if not self._writes and self._real is not None:
            self._real.close()

    def drop(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        self._writes.clear()
        self.held_bytes = 0

    def _flush(self) -> None:
        """Write everything now due, in order; re-arm for the next."""
        self._write_timer = None
        real = self._real
        if real is None:
            return
        now = self._loop.time() + _SLACK_S
        due: list[bytes] = []
        while self._writes and self._writes[0][0] <= now:
            due.append(self._writes.popleft()[1])
        if due:
            data = b"".join(due)
            self.held_bytes -= len(data)
            real.write(data)
        if self._writes:
            self._write_timer = self._loop.call_at(self._writes[0][0], self._flush)
        elif self._close_after:
            real.close()


class DistantServer(Http1Server):
    """An `Http1Server` whose clients are `rtt_s` away (`rtt_s` 0: the plain server)."""

    def __init__(self, handler: Handler, *, rtt_s: float, **options: Any) -> None:
        if rtt_s < 0:
            raise ValueError("a round trip cannot be negative")
        super().__init__(handler, **options)
        self.rtt_s = rtt_s

    def protocol(self) -> asyncio.Protocol:
        inner = super().protocol()
        return DistantProtocol(inner, self.rtt_s) if self.rtt_s > 0 else inner
