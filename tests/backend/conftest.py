"""Helpers for the backend's integration tests (the servers come from tests/fixtures/backend.py)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.backend import BackendStack


@pytest.fixture
async def client(backend_stack: BackendStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend_stack.url, timeout=20) as http:
        yield http


def answer(response: httpx.Response) -> Any:
    """The JSON reply with an error's `request_id` checked (a W3C trace id) and taken out: two
    requests' answers compare equal without it, as each names its own request."""
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = dict(body["error"])
        assert re.fullmatch(r"[0-9a-f]{32}", error.pop("request_id")), body
        body = {**body, "error": error}
    return body


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 8.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.03)


async def status_of(client: httpx.AsyncClient, stack: BackendStack) -> dict[str, Any]:
    r = await client.get(f"/api/connect/status/{stack.org_id}", headers=stack.auth("member"))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def onboard(client: httpx.AsyncClient, stack: BackendStack, who: str = "owner") -> str:
    r = await client.post(
        "/api/connect/onboard", json={"organization_id": stack.org_id}, headers=stack.auth(who)
    )
    assert r.status_code == 200, r.text
    account_id: str = r.json()["account_id"]
    return account_id


async def activate(client: httpx.AsyncClient, stack: BackendStack) -> str:
    """Onboard, let the fake finish onboarding, and wait for the signed webhook to land."""
    account_id = await onboard(client, stack)
    await stack.stripe.aio.complete_onboarding(account_id)

    async def active() -> bool:
        return bool((await status_of(client, stack))["stripe_connect_status"] == "active")

    await eventually(active, what="account.updated to make the org active")
    await settle_webhooks(stack)
    return account_id


async def settle_webhooks(stack: BackendStack) -> None:
    """Wait until every event the fake emitted was delivered successfully, so later steps (e.g.
    fault injection) do not race with late `capability.updated` re-reads."""

    async def settled() -> bool:
        deliveries = (await stack.stripe.aio.deliveries())["deliveries"]
        emitted = {e["id"] for e in (await stack.stripe.aio.events())["events"]}
        delivered = {d["event_id"] for d in deliveries if d["ok"]}
        return emitted <= delivered

    await eventually(settled, what="all webhook deliveries")


@pytest.fixture
def activated(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> Callable[[], Awaitable[str]]:
    return lambda: activate(client, backend_stack)
