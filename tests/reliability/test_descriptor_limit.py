"""The backend as a real process with its descriptor limit lowered to 256: each way of holding a
connection, ten times over the cap and twice over the limit, leaves real requests answered within
a second and the process's descriptors bounded (backend/edge/http_guard.py) — the issue's own
check."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.worker import WorkerStack
from tests.reliability.replica import BackendProcess

FD_LIMIT = 256
MAX_PENDING = 50
STALLS = 500
GUARD = {
    "HTTP_HEADER_TIMEOUT_SECONDS": "20",
    "HTTP_BODY_TIMEOUT_SECONDS": "20",
    "HTTP_WRITE_TIMEOUT_SECONDS": "20",
    "HTTP_MAX_PENDING_CONNECTIONS": str(MAX_PENDING),
}


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _stall(port: int, kind: str) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if kind == "body":
        writer.write(
            b"POST /api/connect/webhook HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
    elif kind == "blank_lines":
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"}")
        writer.write(b"\r\n")
    elif kind == "header_drip":
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000)
    return writer


# Slow readers are in test_connection_bounds.py: each first costs the server ~3 MB of answers
# rendered into its socket buffers, more CPU than this shared machine can give 500 of them.
@pytest.mark.parametrize("kind", ["body", "blank_lines", "header_drip"])
async def test_stalled_clients_past_the_descriptor_limit_leave_real_requests_answered(
    make_replica: Callable[..., BackendProcess], worker_stack: WorkerStack, kind: str
) -> None:
    replica = make_replica(max_open_files=FD_LIMIT, **GUARD)
    held = []
    for _ in range(0, STALLS, 50):
        held += await asyncio.gather(*(_stall(replica.port, kind) for _ in range(50)))
    await asyncio.sleep(0.5)
    fds = _open_fds(replica.pid)
    token = worker_stack.member.token
    latencies = []
    async with httpx.AsyncClient(base_url=replica.url, timeout=5) as http:
        for _ in range(5):
            started = time.monotonic()
            health = await http.get("/healthz")
            status = await http.get(
                f"/api/connect/status/{worker_stack.acme_org_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            latencies.append(time.monotonic() - started)
            assert (health.status_code, status.status_code) == (200, 200)
    for stalled in held:
        stalled.transport.abort()
    assert fds < FD_LIMIT - 50, fds
    assert max(latencies) < 1.0, latencies
    assert "Traceback" not in replica.log()
