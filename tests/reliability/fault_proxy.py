"""A real HTTP/1.1 proxy placed between the backend and the Worker host, switchable into faults.

The backend's Worker client is tested against what the network actually does, not a mock:

- `refuse` — nothing listens on the port any more and open connections are dropped (the Worker
  is down: `ECONNREFUSED`);
- `reset` — the connection is accepted and closed without an answer (a crash mid-request);
- `slow` — the request is held `delay` seconds (past the backend's `WORKER_TIMEOUT_SECONDS`),
  then still forwarded: a slow Worker does finish its write after the caller gave up;
- `error_500` — a 500 with an HTML body, as a platform in front of the Worker answers;
- `hold` — held until `release()` (to kill a backend replica while its call is in flight);
- `answer_lost` — forwarded, the Worker's answer read and dropped, the connection closed: the
  request ran, and the caller saw the connection close before any byte of an answer.

Faults apply to requests whose path starts with one of `paths` (all requests when `None`), for
the next `count` matching requests (until cleared when `None`). Every request is logged in
`seen` with what happened to it, so tests can count effects that reached the Worker.

The proxy runs its own event loop on a daemon thread; its control methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["FaultProxy", "Seen"]

MODES = ("pass", "refuse", "reset", "slow", "error_500", "hold", "answer_lost")
_HTML_500 = b"<html><body><h1>500 Internal Server Error</h1></body></html>"


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    outcome: str  # "forwarded", or the fault mode that hit it
    body: bytes
    at: float


@dataclass
class _Fault:
    mode: str = "pass"
    paths: tuple[str, ...] | None = None
    remaining: int | None = None
    delay: float = 0.0

    def matches(self, path: str) -> bool:
        return self.paths is None or any(path.startswith(p) for p in self.paths)


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    _fault: _Fault = field(default_factory=_Fault)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _release: asyncio.Event | None = None
    _held: int = 0
    _drop_held: bool = False

    # --- control (any thread) ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set(
        self,
        mode: str,
        *,
        paths: Iterable[str] | None = None,
        count: int | None = None,
        delay: float = 0.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "refuse" and paths is not None:
            raise ValueError("a refused connection cannot depend on the path")
        if mode == "hold":
            self._drop_held = False
        with self._lock:
            self._fault = _Fault(
                mode=mode,
                paths=None if paths is None else tuple(paths),
                remaining=count,
                delay=delay,
            )
        self._call(self._apply_listening)

    def clear(self) -> None:
        self.set("pass")

    def release(self, *, drop: bool = False) -> None:
        """Let every held request go on to the Worker (or, with `drop`, cut them off unsent),
        and stop holding new ones."""
        self._drop_held = drop
        self.clear()

    @property
    def held(self) -> int:
        return self._held

    def wait_held(self, count: int = 1, *, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._held < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self._held} requests held, wanted {count}")
            time.sleep(0.01)

    def count(self, path: str, *, outcome: str | None = "forwarded") -> int:
        """How many requests to `path` (exactly) reached the Worker (or met `outcome`)."""
        return sum(
            1
            for s in list(self.seen)
            if s.path == path and (outcome is None or s.outcome == outcome)
        )

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open(self.port or None))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"fault proxy did not start: {failure}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._release is not None:
            loop.call_soon_threadsafe(self._release.set)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if thread.is_alive():
            raise RuntimeError("fault proxy thread did not stop")
        self._loop = self._thread = None

    # --- inside the proxy's loop ----------------------------------------------------------------

    def _call(self, fn: object) -> None:
        loop = self._loop
        if loop is None:
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(5)

    async def _open(self, port: int | None) -> None:
        if self._release is None:
            self._release = asyncio.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port or 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._handle, sock=sock)

    def _apply_listening(self) -> None:
        """`refuse` closes the listener and every open connection; leaving it listens again."""
        mode = self._fault.mode
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
            for writer in list(self._writers):
                writer.transport.abort()
        elif mode != "refuse" and self._server is None and self._loop is not None:
            self._loop.create_task(self._open(self.port))
        if mode != "hold" and self._release is not None:
            self._release.set()
            self._release = asyncio.Event()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def _take(self, path: str) -> tuple[str, float]:
        with self._lock:
            fault = self._fault
            if fault.mode == "pass" or not fault.matches(path):
                return "pass", 0.0
            mode = fault.mode
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._fault = _Fault()
            return mode, fault.delay

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Stopping the proxy ends it quietly; so does a side that goes away mid-exchange (its
        # connection is aborted in `_serve`, which is what the other side then sees).
        with contextlib.suppress(
            asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError
        ):
            await self._serve(reader, writer)

    async def _forward(
        self, upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, request: bytes
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], bytes, bytes]:
        """`request` to the Worker, its reply back. An upstream connection the Worker closed
        while it sat idle (its keep-alive ran out) answers nothing: the request is sent again
        once on a new connection, as a client does when a reused connection turns out stale."""
        for attempt in (0, 1):
            reused = upstream is not None
            if upstream is None:
                upstream = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            up_reader, up_writer = upstream
            try:
                up_writer.write(request)
                await up_writer.drain()
                response_head = await up_reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                up_writer.transport.abort()
                upstream = None
                nothing = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if attempt == 0 and reused and nothing:
                    continue
                raise
            _, _, response_length = _parse_head(response_head, response=True)
            return upstream, response_head, await up_reader.readexactly(response_length)
        raise AssertionError("unreachable")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                method, path, length = _parse_head(head)
                body = await reader.readexactly(length) if length else b""
                mode, delay = self._take(path)
                if mode != "pass":
                    self.seen.append(Seen(method, path, mode, body, time.time()))
                if mode == "reset":
                    writer.transport.abort()
                    return
                if mode == "error_500":
                    writer.write(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\n"
                        + f"content-length: {len(_HTML_500)}\r\n\r\n".encode()
                        + _HTML_500
                    )
                    await writer.drain()
                    continue
                if mode == "slow":
                    await asyncio.sleep(delay)
                elif mode == "hold":
                    release = self._release
                    self._held += 1
                    try:
                        if release is not None:
                            await release.wait()
                    finally:
                        self._held -= 1
                    if self._drop_held:
                        self.seen.append(Seen(method, path, "dropped", body, time.time()))
                        writer.transport.abort()
                        return
                upstream, response_head, response_body = await self._forward(upstream, head + body)
                self.seen.append(Seen(method, path, "forwarded", body, time.time()))
                if mode == "answer_lost":
                    return  # the finally below closes the connection without an answer
                if writer.is_closing():
                    continue  # the caller gave up; the Worker still did the work
                try:
                    writer.write(response_head + response_body)
                    await writer.drain()
                except ConnectionError:
                    return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            if upstream is not None:
                upstream[1].transport.abort()


def _parse_head(head: bytes, *, response: bool = False) -> tuple[str, str, int]:
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0].split(" ")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if response:
        return "", "", length
    return first[0], first[1].split("?", 1)[0] if len(first) > 1 else "", length
