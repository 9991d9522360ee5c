"""A Stripe 403 is not a deauthorization. Only `account.application.deauthorized`, or a confirmed
loss of access — Stripe's 403 with code `account_invalid` on the re-read — disables an org; a
restricted key missing one permission (403 without that code) leaves every org as it is and the
event is retried until the key is fixed."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

import httpx

from backend.stripe_side.webhook_verification import sign_header
from tests.backend.conftest import eventually, settle_webhooks, status_of
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


async def _account_updated(
    client: httpx.AsyncClient, stack: BackendStack, account_id: str, event_id: str
) -> httpx.Response:
    event = {
        "id": event_id,
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "account": account_id,
        "data": {"object": {"id": account_id, "object": "account"}},
    }
    raw = json.dumps(event).encode()
    header = sign_header(raw, secret=stack.stripe.connect_webhook_secret)
    return await client.post(
        "/api/connect/webhook",
        content=raw,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def test_a_key_missing_a_permission_never_disables_the_org(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.set_faults("permission_denied")
    try:
        r = await _account_updated(client, backend_stack, account_id, "evt_403_perm_1")
        assert r.status_code == 503, r.text  # Stripe retries; a fixed key then applies it
        refresh = await client.get(
            f"/api/connect/status/{backend_stack.org_id}?refresh=true",
            headers=backend_stack.auth("member"),
        )
        assert (refresh.status_code, refresh.json()["error"]["code"]) == (
            502,
            "stripe_permission_denied",
        )
    finally:
        await backend_stack.stripe.aio.clear_faults()
    status = await status_of(client, backend_stack)
    assert (status["stripe_connect_status"], status["onboarding_rejection_reason"]) == (
        "active",
        None,
    )
    retried = await _account_updated(client, backend_stack, account_id, "evt_403_perm_1")
    assert retried.status_code == 200, retried.text
    assert (await status_of(client, backend_stack))["stripe_connect_status"] == "active"


async def test_a_confirmed_loss_of_access_on_the_re_read_disables_the_org(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.deauthorize(account_id)

    async def disabled() -> bool:
        return bool((await status_of(client, backend_stack))["stripe_connect_status"] == "disabled")

    await eventually(disabled, what="account.application.deauthorized")
    await settle_webhooks(backend_stack)
    # Pretend the deauthorization event was lost: only the re-read can tell now.
    backend_stack.worker.execute(
        'UPDATE "organization" SET "stripe_connect_status" = \'active\', '
        '"onboarding_rejection_reason" = NULL, "stripe_synced_at" = NULL WHERE "id" = ?',
        backend_stack.org_id,
    )
    r = await _account_updated(client, backend_stack, account_id, "evt_403_lost_1")
    assert r.status_code == 200, r.text
    status = await status_of(client, backend_stack)
    assert (status["stripe_connect_status"], status["onboarding_rejection_reason"]) == (
        "disabled",
        "deauthorized",
    )
