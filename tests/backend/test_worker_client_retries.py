"""WorkerClient retries only where repeating cannot double an effect, within its time budget.

The Worker here is an in-process aiohttp server on a loopback port whose behaviour per request is
scripted: answer, drop the connection before answering, or stall. The client is the real one; the
test watches its attempts through the client's `on_attempt` seam.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from backend.core.errors import WorkerUnavailable
from backend.worker_side.worker_client import WorkerClient
from devstack.ports import free_port

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
    closed_idle: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        action = self.actions.pop(0) if self.actions else ("answer", 200, {})
        if action[0] in ("close_idle", "drop"):
            if action[0] == "close_idle":
                # The keep-alive connection had been idle too long: closed before any answer, as
                # a server or proxy with an idle timeout does; to the client it never ran.
                self.closed_idle += 1
            else:
                self.received.append((request.method, request.path))
            assert request.transport is not None
            request.transport.abort()  # no answer ever will come on this connection
            raise asyncio.CancelledError  # aiohttp's way to abandon a request without replying
        self.received.append((request.method, request.path))
        if action[0] == "stall":
            await self.released.wait()
        return web.json_response(action[2], status=action[1])


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedWorker]:
    worker = ScriptedWorker()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", worker.handle)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    worker.url = str(server.make_url("")).rstrip("/")
    try:
        yield worker
    finally:
        worker.released.set()  # stalled handlers finish, so the server stops at once
        await server.close()


class CountingClient(WorkerClient):
    """The real client, with every attempt it starts counted through its `on_attempt` seam —
    including the refused ones the server never sees."""

    def __init__(self, url: str, api_key: str, *, timeout_seconds: float) -> None:
        self.attempts = 0
        super().__init__(url, api_key, timeout_seconds=timeout_seconds, on_attempt=self._count)

    def _count(self, method: str, path: str) -> None:
        self.attempts += 1


MakeClient = Callable[..., Awaitable[CountingClient]]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
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
    scripted: ScriptedWorker, make_client: MakeClient
) -> None:
    scripted.actions = [("drop",), ("answer", 200, ORG)]
    client = await make_client(scripted.url)
    org = await client.get_organization("org_1")
    assert org.id == "org_1"
    assert scripted.received == [("GET", "/api/internal/organization/org_1")] * 2


async def test_a_write_dropped_after_it_was_sent_is_not_retried(
    scripted: ScriptedWorker, make_client: MakeClient
) -> None:
    scripted.actions = [("drop",), ("answer", 200, UPDATED)]
    client = await make_client(scripted.url)
    with pytest.raises(WorkerUnavailable):
        await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
    assert scripted.received == [("POST", "/api/internal/update-organization")]


async def test_a_write_whose_connection_was_refused_is_retried_then_503() -> None:
    port = free_port()  # a port nobody listens on
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
    scripted: ScriptedWorker, make_client: MakeClient, method: str
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


async def test_a_500_is_503_without_a_retry(
    scripted: ScriptedWorker, make_client: MakeClient
) -> None:
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
    scripted: ScriptedWorker, make_client: MakeClient
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
    scripted: ScriptedWorker, make_client: MakeClient
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
    scripted: ScriptedWorker, make_client: MakeClient
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
    scripted: ScriptedWorker, make_client: MakeClient
) -> None:
    scripted.actions = [("close_idle",), ("answer", 200, UPDATED)]
    client = await make_client(scripted.url)
    with pytest.raises(WorkerUnavailable):
        await client.update_organization("org_1", {"charges_enabled": True}, synced_at=None)
