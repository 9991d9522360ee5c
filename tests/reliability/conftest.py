"""Reliability fixtures: a fault proxy in front of the Worker, a backend wired through it, and
Stripe-like webhook redelivery slow enough for a test to clear a fault between attempts.

The servers themselves come from the shared plugins in `tests/fixtures/`; nothing here replaces
them. `FaultProxy` (a real TCP/HTTP component) is the only part added between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.soak_events import sign
from tests.fixtures.backend import BackendStack, backend_env
from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.replica import BackendProcess

# The backend gives the Worker this long per call; "slow" faults hold a call past it.
WORKER_TIMEOUT = 1.0
STRIPE_TIMEOUT = 1.0
SLOW = 1.6


# Stripe's retry schedule, compressed: 0.2 s, 0.4 s, 0.8 s, … between 9 attempts (~51 s in all).
# A test that clears a fault after the second failed delivery still has attempts left even when
# a loaded machine makes it late by seconds; the shared fixture's 0.05 s × 4 (~0.35 s) has none.
RETRY_BASE_SECONDS = 0.2
MAX_ATTEMPTS = 9


@pytest.fixture
def stripe_fake(stripe_fake_server: StripeFake) -> StripeFake:
    """The shared fake, reset, redelivering on the Stripe-like schedule above (the reset at the
    next test's start restores the fast one)."""
    stripe_fake_server.reset()
    stripe_fake_server.configure_webhooks(
        None,
        stripe_fake_server.webhook_secret,
        stripe_fake_server.connect_webhook_secret,
        retry_base_seconds=RETRY_BASE_SECONDS,
        max_attempts=MAX_ATTEMPTS,
    )
    return stripe_fake_server


@pytest.fixture
def worker_proxy(worker_stack: WorkerStack) -> Iterator[FaultProxy]:
    host, port = worker_stack.url.removeprefix("http://").split(":")
    proxy = FaultProxy(host, int(port)).start()
    try:
        yield proxy
    finally:
        proxy.stop()


FAST_TIMEOUTS = {
    "WORKER_TIMEOUT_SECONDS": str(WORKER_TIMEOUT),
    "STRIPE_TIMEOUT_SECONDS": str(STRIPE_TIMEOUT),
}


@pytest.fixture
def proxied_backend(
    make_backend: Callable[..., BackendStack], worker_proxy: FaultProxy
) -> BackendStack:
    """A backend whose every Worker call crosses `worker_proxy`; the fake delivers to it."""
    return make_backend(env={"WORKER_URL": worker_proxy.url, **FAST_TIMEOUTS})


@pytest.fixture
def make_replica(
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
    worker_proxy: FaultProxy,
    tmp_path: Path,
) -> Iterator[Callable[..., BackendProcess]]:
    """Backend replicas as OS processes (SIGKILL-able), all through `worker_proxy`."""
    started: list[BackendProcess] = []

    def make(*, max_open_files: int | None = None, **env: str) -> BackendProcess:
        full = backend_env(
            worker_stack,
            stripe_fake,
            WORKER_URL=worker_proxy.url,
            LOG_LEVEL="info",
            **FAST_TIMEOUTS,
            **env,
        )
        log_path = tmp_path / f"replica-{len(started)}.log"
        replica = BackendProcess(full, log_path=log_path, max_open_files=max_open_files)
        started.append(replica)
        return replica.start()

    yield make
    for replica in reversed(started):
        replica.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    within: float = 30.0,
    what: str = "condition",
) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def assert_json_error(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A clear error: one of `statuses`, JSON `{"error": {"code", "message"}}`, no internals."""
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "request_id"}, body
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]
    for leak in ("Traceback", 'File "', "Exception", "aiohttp", "sqlite", "stripe._"):
        assert leak not in response.text, response.text
    error: dict[str, Any] = body["error"]
    return error


async def onboard(client: httpx.AsyncClient, stack: BackendStack) -> str:
    r = await client.post(
        f"{stack.url}/api/connect/onboard",
        json={"organization_id": stack.org_id},
        headers=stack.auth("owner"),
    )
    assert r.status_code == 200, r.text
    account_id: str = r.json()["account_id"]
    return account_id


def org_row(stack: BackendStack, org_id: str | None = None) -> dict[str, Any]:
    row = stack.worker.row('SELECT * FROM "organization" WHERE "id" = ?', org_id or stack.org_id)
    assert row is not None
    return row


def event_rows(stack: BackendStack, event_type: str | None = None) -> list[dict[str, Any]]:
    if event_type is None:
        return stack.worker.rows('SELECT * FROM "connect_webhook_event"')
    return stack.worker.rows(
        'SELECT * FROM "connect_webhook_event" WHERE "event_type" = ?', event_type
    )


def deliveries_for(stack: BackendStack, event_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.stripe.deliveries()["deliveries"]
    return [d for d in found if d["event_id"] == event_id]


def account_updated_ids(stack: BackendStack, account_id: str) -> list[str]:
    events: list[dict[str, Any]] = stack.stripe.events()["events"]
    return [
        e["id"] for e in events if e["type"] == "account.updated" and e.get("account") == account_id
    ]


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    payload: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST one webhook as Stripe would: raw JSON body, `Stripe-Signature` over exactly it."""
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(payload, secret, timestamp=timestamp),
    }
    return await client.post(url, content=payload, headers=headers)


def stop_webhooks(stripe: StripeFake) -> None:
    """The test delivers its own events from here on; the fake sends none."""
    stripe.configure_webhooks(None)
