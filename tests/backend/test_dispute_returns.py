"""Disputes move money back the way refunds do (DESIGN decision 6): the withdrawn share of a
payment's transfers is reversed, a won dispute transfers it again once, a lost one stays reversed;
a disputed payment cannot be transferred. Real backend, Worker core over SQLite, the Stripe fake's
disputes (amount + dispute fee withdrawn, amount reinstated on a win), signed webhooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.backend.conftest import eventually, settle_webhooks
from tests.backend.test_refund_reversals import _balances, _returns, _transfer
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


@pytest.fixture
def backend_stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend()


async def _settled_returns(
    client: httpx.AsyncClient, stack: BackendStack, n: int
) -> list[dict[str, Any]]:
    async def ready() -> bool:
        rows = await _returns(client, stack)
        return len(rows) >= n and all(r["status"] != "pending" for r in rows)

    await eventually(ready, what=f"{n} settled return(s)")
    await settle_webhooks(stack)
    return await _returns(client, stack)


async def _disputed_after_transfer(
    client: httpx.AsyncClient, stack: BackendStack
) -> tuple[str, str, str]:
    """100.00 paid and transferred (90.00 net), then disputed: (charge, transfer, dispute)."""
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    r = await _transfer(client, stack, "t-1", charge)
    assert r.status_code == 201, r.text
    await settle_webhooks(stack)
    dispute = await stack.stripe.aio.open_dispute(charge)
    await settle_webhooks(stack)
    return charge, r.json()["stripe_transfer_id"], dispute["id"]


async def test_a_won_dispute_reverses_then_transfers_again_once(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    before = await _balances(backend_stack, account)
    charge, transfer_id, dispute_id = await _disputed_after_transfer(client, backend_stack)
    [reversal] = await _settled_returns(client, backend_stack, 1)
    assert (reversal["kind"], reversal["cause"], reversal["amount"], reversal["status"]) == (
        "reversal",
        "dispute",
        9_000,
        "done",
    )
    refused = await _transfer(client, backend_stack, "t-2", charge)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "source_disputed")

    await backend_stack.stripe.aio.close_dispute(dispute_id, "won")
    rows = await _settled_returns(client, backend_stack, 2)
    again = [r for r in rows if r["kind"] == "reinstatement"]
    assert [(r["amount"], r["status"]) for r in again] == [(9_000, "done")]
    # Every dispute event delivered again: nothing moves a second time.
    events = (await backend_stack.stripe.aio.events())["events"]
    for event in events:
        if event["type"].startswith("charge.dispute."):
            await backend_stack.stripe.aio.resend_event(event["id"])
    await settle_webhooks(backend_stack)
    assert len(await _returns(client, backend_stack)) == 2
    async with backend_stack.stripe.client() as sdk:
        transfers = await sdk.v1.transfers.list_async({"destination": account})
    assert sorted(t.amount for t in transfers.data) == [9_000, 9_000]
    platform, theirs = await _balances(backend_stack, account)
    # The organization has its 90.00 again; the platform kept its fee and paid the dispute fee.
    assert theirs - before[1] == 9_000
    assert platform - before[0] == 1_000 - 1_500
    assert transfer_id in {t.id for t in transfers.data}


async def test_a_lost_dispute_stays_reversed(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    before = await _balances(backend_stack, account)
    _, _, dispute_id = await _disputed_after_transfer(client, backend_stack)
    await _settled_returns(client, backend_stack, 1)
    await backend_stack.stripe.aio.close_dispute(dispute_id, "lost")
    await settle_webhooks(backend_stack)
    rows = await _returns(client, backend_stack)
    assert [(r["kind"], r["amount"]) for r in rows] == [("reversal", 9_000)]
    platform, theirs = await _balances(backend_stack, account)
    assert theirs == before[1]
    # The customer got the 100.00 back through the bank: the platform is out only the fee.
    assert platform - before[0] == -1_500


async def test_a_disputed_payment_waits_and_is_transferable_again_once_won(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    dispute = await backend_stack.stripe.aio.open_dispute(charge, amount=4_000)
    await settle_webhooks(backend_stack)
    listed = await client.get(
        f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("owner")
    )
    [held] = listed.json()["payments"]  # listed, so owners see why it waits; nothing to claim
    assert (held["dispute_status"], held["amount_disputed"]) == ("needs_response", 4_000)
    assert (held["amount_remaining"], held["fee_amount"], held["net_amount"]) == (0, 0, 0)
    refused = await _transfer(client, backend_stack, "t-1", charge)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "source_disputed")
    assert await _returns(client, backend_stack) == []  # nothing was transferred
    await backend_stack.stripe.aio.close_dispute(dispute["id"], "won")
    await settle_webhooks(backend_stack)
    listed = await client.get(
        f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("owner")
    )
    [payment] = listed.json()["payments"]
    assert (payment["dispute_status"], payment["amount_remaining"]) == ("won", 10_000)
    assert (payment["fee_amount"], payment["net_amount"]) == (1_000, 9_000)
    r = await _transfer(client, backend_stack, "t-2", charge)
    assert (r.status_code, r.json()["net_amount"]) == (201, 9_000)


async def test_a_refund_after_a_won_dispute_reverses_the_money_transferred_again(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    before = await _balances(backend_stack, account)
    charge, _, dispute_id = await _disputed_after_transfer(client, backend_stack)
    await _settled_returns(client, backend_stack, 1)
    await backend_stack.stripe.aio.close_dispute(dispute_id, "won")
    rows = await _settled_returns(client, backend_stack, 2)
    again = next(r for r in rows if r["kind"] == "reinstatement")
    async with backend_stack.stripe.client() as sdk:
        await sdk.v1.refunds.create_async({"charge": charge})
    rows = await _settled_returns(client, backend_stack, 3)
    last = rows[0]
    assert (last["kind"], last["cause"], last["status"], last["amount"]) == (
        "reversal",
        "refund",
        "done",
        9_000,
    )
    assert last["stripe_transfer_id"] == again["stripe_object_id"]  # not a debt
    platform, theirs = await _balances(backend_stack, account)
    assert theirs == before[1]
    assert platform - before[0] == -1_500  # only the dispute fee
