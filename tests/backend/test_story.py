from __future__ import annotations

import httpx

from tests.backend.conftest import eventually, onboard, status_of
from tests.fixtures.backend import BackendStack


async def test_onboard_complete_activate_transfer_and_see_the_balance(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    stripe = backend_stack.stripe
    account_id = await onboard(client, backend_stack)
    assert (await status_of(client, backend_stack))["stripe_connect_status"] == "pending"

    await stripe.aio.complete_onboarding(account_id)  # emits a signed account.updated

    async def active() -> bool:
        return bool((await status_of(client, backend_stack))["stripe_connect_status"] == "active")

    await eventually(active, what="the signed account.updated")
    charge = await stripe.paid(backend_stack.org_id, 20_000)  # a customer paid the org
    sent = await client.post(
        "/api/connect/transfer",
        json={"organization_id": backend_stack.org_id, "source_transaction": charge},
        headers=backend_stack.auth("owner", Idempotency_Key="story-1"),
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["fee_amount"], sent.json()["net_amount"]) == (2_000, 18_000)

    balance = await client.get(
        f"/api/connect/balance/{backend_stack.org_id}", headers=backend_stack.auth("member")
    )
    assert balance.status_code == 200, balance.text
    assert {"amount": 18_000, "currency": "usd"} in balance.json()["available"]
