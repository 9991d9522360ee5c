"""Serve an ASGI app with uvicorn on a background thread: how tests and benchmarks run our parts
in-process, on a port that is free for this run."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    """A uvicorn server on a daemon thread; `stop()` ends it and joins the thread."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("server thread did not stop")


def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
) -> RunningServer:
    """Bind first (port 0 = a free port), then serve; returns once the app has started.

    `uvicorn_options` go to `uvicorn.Config` (defaults: warnings only, no access log).
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", "access_log": False, **uvicorn_options}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(1)
            sock.close()
            raise RuntimeError(f"{type(app).__name__} did not start on {host}")
        time.sleep(0.005)
    return RunningServer(
        url=f"http://{host}:{bound_port}", port=bound_port, server=server, thread=thread, sock=sock
    )
