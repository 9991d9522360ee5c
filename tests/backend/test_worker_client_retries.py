"""WorkerClient retries only where repeating cannot double an effect, within its time budget.

The Worker here is a tiny real HTTP/1.1 server on a loopback port whose behaviour per request is
scripted: answer, drop the connection before answering, or stall.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from backend.errors import WorkerUnavailable
from backend.worker_client import WorkerClient

API_KEY = "k" * 40
ORG = {"organization": {"id": "org_1", "name": "Acme"}}
UPDATED = {"updated": True, "organization": {"id": "org_1"}}


@dataclass
class ScriptedWorker:
    """Each request takes the next action: ("answer", status, body) | ("drop",) | ("stall",) |
    ("close_idle",)."""

    url: str = ""
    actions: list[tuple[Any, ...]] = field(default_factory=list)
    received: list[tuple[str, str]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closed_idle: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)  # type: ignore[arg-type]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                action = self.actions.pop(0) if self.actions else ("answer", 200, {})
                if action[0] == "close_idle":
                    # The keep-alive connection had been idle too long: closed (FIN) before the
                    # request was looked at, as a server or proxy with an idle timeout does.
                    self.closed_idle += 1
                    return
                self.received.append((method, path))
                if action[0] == "drop":
                    writer.transport.abort()  # the request arrived; no answer ever will
                    return
                if action[0] == "stall":
                    await asyncio.sleep(30)
                    return
                payload = json.dumps(action[2]).encode()
                writer.write(
                    f"HTTP/1.1 {action[1]} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedWorker]:
    worker = ScriptedWorker()
    server = await asyncio.start_server(worker.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    worker.url = f"http://127.0.0.1:{port}"
    try:
        yield worker
    finally:
        server.close()
        for task in worker.tasks:  # stalled handlers too
            task.cancel()
        await asyncio.gather(*worker.tasks, return_exceptions=True)
        await server.wait_closed()


class CountingClient(WorkerClient):
    """The real client, counting attempts — for failures the server never sees (refused)."""

    attempts = 0

    async def _send(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        self.attempts += 1
        return await super()._send(*args, **kwargs)


@pytest.fixture
async def make_client() -> AsyncIterator[Any]:
    clients: list[WorkerClient] = []

    async def make(url: str, *, budget: float = 3.0) -> CountingClient:
        client = CountingClient(url, API_KEY, timeout_seconds=budget)
        await client.open()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_a_read_dropped_before_the_answer_is_retried(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    scripted.actions = [("drop",), ("answer", 200, ORG)]
    client = await make_client(scripted.url)
    org = await client.get_organization("org_1")
    assert org.id == "org_1"
    assert scripted.received == [("GET", "/api/internal/organization/org_1")] * 2


async def test_a_write_dropped_after_it_was_sent_is_not_retried(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    scripted.actions = [("drop",), ("answer", 200, UPDATED)]
    client = await make_client(scripted.url)
    with pytest.raises(WorkerUnavailable):
        await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    assert scripted.received == [("POST", "/api/internal/update-organization")]


async def test_a_write_whose_connection_was_refused_is_retried_then_503() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = CountingClient(f"http://127.0.0.1:{port}", API_KEY, timeout_seconds=3)
    await client.open()
    try:
        with pytest.raises(WorkerUnavailable) as caught:
            await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    finally:
        await client.close()
    assert (caught.value.status, caught.value.code) == (503, "worker_unavailable")
    assert client.attempts == 2  # nothing reached the Worker, so a second try was safe


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_stalled_worker_is_503_within_the_timeout_budget(
    scripted: ScriptedWorker, make_client: Any, method: str
) -> None:
    scripted.actions = [("stall",)] * 3
    client = await make_client(scripted.url, budget=0.4)
    call = (
        client.get_organization("org_1")
        if method == "GET"
        else client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    )
    started = time.monotonic()
    with pytest.raises(WorkerUnavailable):
        await call
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed < 0.4 + 0.3, elapsed  # the budget covers every attempt
    assert len(scripted.received) == 1


async def test_a_500_is_503_without_a_retry(scripted: ScriptedWorker, make_client: Any) -> None:
    error = {"error": {"code": "internal_error", "message": "Internal error."}}
    scripted.actions = [("answer", 500, error)] * 5
    client = await make_client(scripted.url)
    for call in (
        client.get_organization("org_1"),
        client.update_organization("org_1", {"charges_enabled": True}, synced_at=None),
    ):
        with pytest.raises(WorkerUnavailable) as caught:
            await call
        assert caught.value.status == 503
    assert [m for m, _ in scripted.received] == ["GET", "POST"]


async def test_a_503_is_retried_for_reads_only_and_boundedly(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    busy = {"error": {"code": "d1_unavailable", "message": "The database is unavailable."}}
    scripted.actions = [("answer", 503, busy)] * 10
    client = await make_client(scripted.url)
    with pytest.raises(WorkerUnavailable):
        await client.get_organization("org_1")
    assert len(scripted.received) == 3
    with pytest.raises(WorkerUnavailable):
        await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    assert len(scripted.received) == 4
    scripted.actions = [("answer", 503, busy), ("answer", 200, ORG)]
    assert (await client.get_organization("org_1")).id == "org_1"


async def test_a_write_on_a_pooled_connection_the_worker_closed_is_retried_on_a_fresh_one(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    """Every Worker call is a read or idempotent by its key, and a reused connection that the
    server closed before answering never ran the request: one retry, on a new connection."""
    scripted.actions = [("answer", 200, UPDATED), ("close_idle",), ("answer", 200, UPDATED)]
    client = await make_client(scripted.url)
    await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    result = await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    assert result.updated is True
    assert scripted.closed_idle == 1
    assert scripted.received == [("POST", "/api/internal/update-organization")] * 2


async def test_every_write_survives_the_worker_closing_all_idle_connections(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    """Several pooled connections, all closed by the Worker at once (a restart, an idle timeout):
    the retry takes a fresh connection, never another stale one from the pool."""
    client = await make_client(scripted.url)
    scripted.actions = [("answer", 200, UPDATED)] * 4
    await asyncio.gather(
        *(
            client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
            for _ in range(4)
        )
    )  # four connections now idle in the pool
    scripted.received.clear()
    scripted.actions = [("close_idle",)] * 4 + [("answer", 200, UPDATED)] * 4
    results = await asyncio.gather(
        *(
            client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
            for _ in range(4)
        )
    )
    assert all(r.updated for r in results)
    assert scripted.closed_idle == 4
    assert len(scripted.received) == 4


async def test_a_write_dropped_on_a_fresh_connection_is_still_not_retried(
    scripted: ScriptedWorker, make_client: Any
) -> None:
    scripted.actions = [("close_idle",), ("answer", 200, UPDATED)]
    client = await make_client(scripted.url)
    with pytest.raises(WorkerUnavailable):
        await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
