"""One HTTP/1.1 exchange over a raw socket: for requests an HTTP client would not send (non-ASCII
bytes in the target, a header without its body) and for timing the server's own answer."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(url: str, request: bytes, *, timeout: float = 10.0) -> RawAnswer:
    """Sends `request` and reads one answer (its Content-Length), however long the server takes
    within `timeout`; the connection is left for the server to clean up."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before an answer: {data[:200]!r}")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return RawAnswer(int(lines[0].split()[1]), headers, body, time.monotonic() - started)


def request(method: str, target: bytes | str, *headers: str, body: bytes = b"") -> bytes:
    line = target.encode() if isinstance(target, str) else target
    head = [method.encode() + b" " + line + b" HTTP/1.1", b"Host: test"]
    head += [h.encode("latin-1") for h in headers]
    return b"\r\n".join([*head, b"", b""]) + body
