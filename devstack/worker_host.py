"""Host the Worker's core on CPython: a raw ASGI app under uvicorn, SQLite standing in for D1.

    python -m devstack.worker_host   (make worker)

Environment: `WORKER_PORT` (8787), `WORKER_HOST` (127.0.0.1), `D1_DATABASE_PATH`
(`.devstack/d1.sqlite3`), and the Worker's own settings exactly as in `wrangler.toml` / secrets
(`INTERNAL_API_KEYS`, `BETTER_AUTH_SECRET`, …). Missing migrations are applied on start.

No framework on purpose: this sits on the backend's hot path, so each request is one header scan,
one body read, one call into the core and two `send`s.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from connect_worker.app import handle
from connect_worker.clock import Clock
from connect_worker.config import ConfigError, WorkerConfig, load_config
from connect_worker.deps import Deps
from connect_worker.http import MAX_BODY_BYTES, Request

from devstack.ed25519 import CryptographyEd25519Verifier
from devstack.migrate import DEFAULT_DB_PATH, apply_migrations
from devstack.serving import RunningServer
from devstack.serving import serve_in_thread as serve_threaded
from devstack.sqlite_d1 import SqliteD1

__all__ = ["HostedWorker", "build_asgi_app", "build_deps", "main", "serve_in_thread"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("devstack.worker_host")

# The only request headers the core reads; everything else is never decoded.
_WANTED_HEADERS = {b"x-api-key": "x-api-key", b"authorization": "authorization"}
_JSON = (b"content-type", b"application/json")


def build_deps(config: WorkerConfig, db: SqliteD1, *, now: Clock = time.time) -> Deps:
    return Deps(config=config, db=db, verifier=CryptographyEd25519Verifier(), now=now)


def build_asgi_app(deps: Deps) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            wanted = _WANTED_HEADERS.get(name)
            if wanted is not None:
                headers[wanted] = value.decode("latin-1")
        body = await _read_body(receive)
        # The encoded path, as on Workers: the core splits on "/" before decoding (keys hold "%2F").
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        response = await handle(
            Request(method=scope["method"], path=path, headers=headers, body=body), deps=deps
        )
        payload = response.body()
        raw_headers = [_JSON, (b"content-length", str(len(payload)).encode())]
        raw_headers.extend((k.encode(), v.encode()) for k, v in response.headers.items())
        await send(
            {"type": "http.response.start", "status": response.status, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": payload})

    return app


async def _read_body(receive: Receive) -> bytes:
    """The body, or its first MAX_BODY_BYTES + 1 bytes: enough for the core to answer 413."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES or not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


_SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "ws": "none",
    "lifespan": "off",
    "access_log": False,
    "log_level": "warning",
    # Nothing proxies to this host, and no caller reads `server`/`date`: each costs per request.
    "proxy_headers": False,
    "server_header": False,
    "date_header": False,
}


@dataclass
class HostedWorker:
    """A host running in a background thread (tests, benchmarks); `stop()` ends it."""

    url: str
    port: int
    db: SqliteD1
    running: RunningServer

    def stop(self, timeout: float = 10.0) -> None:
        self.running.stop(timeout)


def serve_in_thread(
    config: WorkerConfig,
    db_path: str | Path,
    *,
    now: Clock = time.time,
    host: str = "127.0.0.1",
    port: int = 0,
) -> HostedWorker:
    """Migrate `db_path`, then serve the core on a free (or given) port until `stop()`."""
    apply_migrations(db_path)
    db = SqliteD1(db_path)
    app = build_asgi_app(build_deps(config, db, now=now))
    try:
        running = serve_threaded(app, host=host, port=port, **_SERVER_OPTIONS)
    except RuntimeError:
        db.close()
        raise
    return HostedWorker(url=running.url, port=running.port, db=db, running=running)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"worker host: configuration error: {exc}", file=sys.stderr)
        return 2
    db_path = Path(os.environ.get("D1_DATABASE_PATH", str(DEFAULT_DB_PATH)))
    applied = apply_migrations(db_path)
    if applied:
        log.info("applied migrations to %s: %s", db_path, ", ".join(applied))
    host = os.environ.get("WORKER_HOST", "127.0.0.1")
    port = int(os.environ.get("WORKER_PORT", "8787"))
    db = SqliteD1(db_path)
    log.info("Worker core on http://%s:%d (D1 = %s)", host, port, db_path)
    app = build_asgi_app(build_deps(config, db))
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **_SERVER_OPTIONS)).run()
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
