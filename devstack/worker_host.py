"""Host the Worker's core on CPython: a small HTTP/1.1 server on uvloop, SQLite standing in for D1.

    python -m devstack.worker_host   (make worker)

Environment: `WORKER_PORT` (8787), `WORKER_HOST` (127.0.0.1), `D1_DATABASE_PATH`
(`.devstack/d1.sqlite3`), `SESSIONS_KV_PATH` (the SQLite file standing in for the `SESSIONS_KV`
binding; needed with `BETTER_AUTH_SESSION_STORAGE=secondary`), and the Worker's own settings
exactly as in `wrangler.toml` / secrets (`INTERNAL_API_KEYS`, `BETTER_AUTH_SECRET`, …). Missing
migrations are applied on start.
`WORKER_REPLY_DELAY_MS` (0) puts the host that many milliseconds of round trip away from its
clients, as Cloudflare is from the backend (`devstack.distance`; the bench's hop at distance).

No framework on purpose: this sits on the backend's hot path, so each request is one parse (two
headers decoded), one call into the core and one `write` (`devstack.http1`; under uvicorn the ASGI
cycle around the core cost about as much CPU as the core).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import uvloop
from connect_worker import kv_sessions
from connect_worker.app import handle
from connect_worker.clock import Clock
from connect_worker.config import ConfigError, WorkerConfig, load_config
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.http import MAX_BODY_BYTES, Request
from connect_worker.kv import KVNamespace
from connect_worker.request_log import JsonFormatter, TextFormatter

from devstack.better_auth_schema import apply_for
from devstack.distance import DistantServer
from devstack.ed25519 import CryptographyEd25519Verifier
from devstack.http1 import Handler, Http1Server, Reply
from devstack.http1 import Request as HttpRequest
from devstack.migrate import DEFAULT_DB_PATH
from devstack.sqlite_d1 import SqliteD1
from devstack.sqlite_kv import SqliteKV

__all__ = ["HostedWorker", "build_deps", "build_handler", "build_server", "main", "serve_in_thread"]

log = logging.getLogger("devstack.worker_host")

# The only request headers the core reads (the API key, the W3C trace context); the server
# decodes no other.
_WANTED_HEADERS = frozenset({"x-api-key", "authorization", "traceparent", "baggage"})
_JSON = ("content-type", "application/json")
_JSON_ONLY = (_JSON,)


def build_deps(
    config: WorkerConfig, db: SqliteD1, *, now: Clock = time.time, kv: KVNamespace | None = None
) -> Deps:
    return Deps(config=config, db=db, verifier=CryptographyEd25519Verifier(), now=now, kv=kv)


def open_kv(config: WorkerConfig, kv_path: str | Path | None, *, now: Clock) -> SqliteKV | None:
    """The SESSIONS_KV stand-in when sessions live in secondary storage (ConfigError without it)."""
    if config.session_storage != kv_sessions.SECONDARY:
        return None
    if kv_path is None:
        raise ConfigError(
            f"{kv_sessions.SETTING}={kv_sessions.SECONDARY} needs SESSIONS_KV_PATH (the SQLite "
            f"file standing in for the {kv_sessions.BINDING} binding)"
        )
    return SqliteKV(kv_path, now=now)


async def check_schema(deps: Deps) -> None:
    """The first request's Better Auth schema check, done before serving: a host that starts
    over a database without those names logs it and answers 503 until D1 has them."""
    try:
        await deps.schema_check.ensure(deps.db, deps.config.auth_schema)
    except ApiError as exc:
        log.error("worker host: %s", exc.message)


def build_handler(deps: Deps) -> Handler:
    """The core behind the HTTP server: its `Request` in, its `Response` as bytes out."""

    async def respond(request: HttpRequest) -> Reply:
        response = await handle(
            Request(request.method, request.path, request.headers, request.body), deps=deps
        )
        headers = [_JSON, *response.headers.items()] if response.headers else _JSON_ONLY
        return Reply(response.status, headers, response.body())

    return respond


def build_server(deps: Deps, *, reply_delay_s: float = 0.0) -> Http1Server:
    """`reply_delay_s`: the round trip between the host and its clients (0: none)."""
    return DistantServer(
        build_handler(deps),
        rtt_s=reply_delay_s,
        wanted_headers=_WANTED_HEADERS,
        max_body=MAX_BODY_BYTES,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = a free port), bound before the loop starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class HostedWorker:
    """A host running in a background thread (tests, benchmarks); `stop()` ends it."""

    url: str
    port: int
    db: SqliteD1
    kv: SqliteKV | None
    server: Http1Server
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    sock: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(self.server.stop(timeout), self.loop)
            done.result(timeout + 5)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        self.sock.close()
        if self.kv is not None:
            self.kv.close()
        if self.thread.is_alive():
            raise RuntimeError("worker host thread did not stop")


def serve_in_thread(
    config: WorkerConfig,
    db_path: str | Path,
    *,
    now: Clock = time.time,
    host: str = "127.0.0.1",
    port: int = 0,
    reply_delay_s: float = 0.0,
    kv_path: str | Path | None = None,
) -> HostedWorker:
    """Migrate `db_path`, then serve the core on a free (or given) port until `stop()`."""
    apply_for(db_path, config.auth_schema)
    kv = open_kv(config, kv_path, now=now)
    db = SqliteD1(db_path)
    deps = build_deps(config, db, now=now, kv=kv)
    server = build_server(deps, reply_delay_s=reply_delay_s)
    sock = bind(host, port)
    loop = uvloop.new_event_loop()
    started: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(check_schema(deps))
            loop.run_until_complete(server.start(sock))
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="worker-host", daemon=True)
    thread.start()
    try:
        started.result(10)
    except BaseException:
        sock.close()
        db.close()
        raise
    bound = sock.getsockname()[1]
    return HostedWorker(
        url=f"http://{host}:{bound}",
        port=bound,
        db=db,
        kv=kv,
        server=server,
        loop=loop,
        thread=thread,
        sock=sock,
    )


async def _serve(deps: Deps, sock: socket.socket, *, reply_delay_s: float = 0.0) -> None:
    """Serve until SIGINT/SIGTERM, then stop gracefully."""
    await check_schema(deps)
    server = build_server(deps, reply_delay_s=reply_delay_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start(sock)
    await stop.wait()
    await server.stop()


def configure_logging(environ: Mapping[str, str]) -> None:
    """`LOG_FORMAT=json`: the Worker's own JSON lines (as on Cloudflare), else text lines with
    the trace id. The line per request (`connect_worker.request`) only with
    `WORKER_REQUEST_LOG=1` (`make dev` sets it): the benchmarks measure the host without it."""
    handler = logging.StreamHandler()
    json_lines = environ.get("LOG_FORMAT", "text").strip().lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    per_request = environ.get("WORKER_REQUEST_LOG", "") == "1"
    logging.getLogger("connect_worker.request").setLevel(
        logging.INFO if per_request else logging.WARNING
    )


def main() -> int:
    configure_logging(os.environ)
    try:
        config = load_config(os.environ)
        kv = open_kv(config, os.environ.get("SESSIONS_KV_PATH"), now=time.time)
    except ConfigError as exc:
        print(f"worker host: configuration error: {exc}", file=sys.stderr)
        return 2
    db_path = Path(os.environ.get("D1_DATABASE_PATH", str(DEFAULT_DB_PATH)))
    applied = apply_for(db_path, config.auth_schema)
    if applied:
        log.info("applied migrations to %s: %s", db_path, ", ".join(applied))
    host = os.environ.get("WORKER_HOST", "127.0.0.1")
    port = int(os.environ.get("WORKER_PORT", "8787"))
    try:
        delay_s = float(os.environ.get("WORKER_REPLY_DELAY_MS") or "0") / 1000
        if not 0 <= delay_s < float("inf"):
            raise ValueError
    except ValueError:
        print("worker host: WORKER_REPLY_DELAY_MS must be a number of ms ≥ 0", file=sys.stderr)
        return 2
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"worker host: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    db = SqliteD1(db_path)
    log.info(
        "Worker core on http://%s:%d (D1 = %s, %g ms away)", host, port, db_path, delay_s * 1e3
    )
    try:
        uvloop.run(_serve(build_deps(config, db, kv=kv), sock, reply_delay_s=delay_s))
    finally:
        sock.close()
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
