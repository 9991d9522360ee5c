"""A refund that fails after its reversal became a debt (DESIGN decision 6): the money comes back
to the platform, so the organization is owed its share again. What of the debt is still unpaid is
forgiven (no money moves); what was already paid out of a later transfer of another payment sits
in the platform's balance and is transferred back from there — the payment's own charge cannot
fund it, its transfer was never reversed. Through the real backend, the Worker core over SQLite
and the Stripe fake, webhooks signed and delivered as Stripe does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.backend.conftest import eventually, settle_webhooks
from tests.backend.test_refund_reversals import _balances, _debts, _returns, _transfer
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]
PLATFORM_KEY = "platform-key-for-tests-0123456789abcdef"
OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"


@pytest.fixture
def backend_stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env={"PLATFORM_API_KEY": PLATFORM_KEY, "OPERATOR_API_KEY": OPERATOR_KEY})


async def _debt_of_a_payout(
    client: httpx.AsyncClient, stack: BackendStack, account: str, *, pending: bool = False
) -> str:
    """100.00 paid, transferred (90.00 net), paid out, refunded in full (a refund left `pending`
    when asked): 90.00 owed. Returns the refund's id."""
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    assert (await _transfer(client, stack, "t-1", charge)).status_code == 201
    if pending:
        await stack.stripe.aio.pending_refunds(charge)
    async with stack.stripe.client() as sdk:
        await sdk.v1.payouts.create_async(
            {"amount": 9_000, "currency": "usd"}, {"stripe_account": account}
        )
        refund = await sdk.v1.refunds.create_async({"charge": charge})
    await settle_webhooks(stack)
    await eventually(lambda: _settled(client, stack, 1), what="the debt")
    assert (await _debts(client, stack))["owed"] == [{"amount": 9_000, "currency": "usd"}]
    return refund.id


async def _settled(client: httpx.AsyncClient, stack: BackendStack, n: int) -> bool:
    rows = await _returns(client, stack)
    return len(rows) >= n and all(r["status"] != "pending" for r in rows)


async def _next_sale(client: httpx.AsyncClient, stack: BackendStack, amount: int) -> None:
    charge = await stack.stripe.paid(stack.org_id, amount)
    r = await _transfer(client, stack, f"t-next-{amount}", charge)
    assert r.status_code == 201, r.text
    await settle_webhooks(stack)


async def _fail(
    stack: BackendStack, refund_id: str, *, cancel: bool = False, redeliver: int = 2
) -> None:
    """The refund fails at the card network (or, pending, is canceled); its events are
    delivered `redeliver` more times."""
    before = len((await stack.stripe.aio.events())["events"])
    if cancel:
        await stack.stripe.aio.cancel_refund(refund_id)
    else:
        await stack.stripe.aio.fail_refund(refund_id)
    await settle_webhooks(stack)
    events = (await stack.stripe.aio.events())["events"][before:]
    for _ in range(redeliver):
        for event in events:
            await stack.stripe.aio.resend_event(event["id"])
    await settle_webhooks(stack)


async def _transfers_to(stack: BackendStack, account: str) -> list[Any]:
    async with stack.stripe.client() as sdk:
        found = await sdk.v1.transfers.list_async({"destination": account, "limit": 100})
    return list(found.data)


@pytest.mark.parametrize("cancel", [False, True], ids=["failed", "canceled"])
async def test_a_failed_refund_gives_back_a_debt_paid_from_a_later_transfer_from_the_balance(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated, cancel: bool
) -> None:
    account = await activated()
    refund_id = await _debt_of_a_payout(client, backend_stack, account, pending=cancel)
    await _next_sale(client, backend_stack, 10_000)  # 90.00 net, all of it pays the debt
    assert (await _debts(client, backend_stack))["owed"] == []
    platform_before, theirs_before = await _balances(backend_stack, account)

    await _fail(backend_stack, refund_id, cancel=cancel)
    await eventually(lambda: _settled(client, backend_stack, 2), what="the reinstatement")

    rows = await _returns(client, backend_stack)
    [again] = [r for r in rows if r["kind"] == "reinstatement"]
    assert (again["status"], again["amount"], again["cause"]) == ("done", 9_000, "refund")
    [made] = [
        t for t in await _transfers_to(backend_stack, account) if t.id == again["stripe_object_id"]
    ]
    # Not funded by the refunded charge (its 90.00 transfer was never reversed): the platform's
    # balance holds the 90.00 the later transfer paid for the debt.
    assert made.source_transaction is None
    assert made.amount == 9_000
    assert made.metadata["return_cause"] == "refund"
    assert made.metadata["return_cause_id"].startswith("evt_")  # the event of the failure
    assert made.metadata["return_key"].startswith("reinstatement-held:evt_")
    assert made.metadata["return_funding"] == "platform_balance"
    platform_after, theirs_after = await _balances(backend_stack, account)
    # The refund's 100.00 came back to the platform; 90.00 of it went to the organization.
    assert (platform_after - platform_before, theirs_after - theirs_before) == (1_000, 9_000)
    assert (await _debts(client, backend_stack))["owed"] == []


async def test_a_failed_refund_forgives_the_unpaid_part_and_gives_back_the_paid_part(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    refund_id = await _debt_of_a_payout(client, backend_stack, account)
    await _next_sale(client, backend_stack, 5_000)  # 45.00 net pays half the debt
    assert (await _debts(client, backend_stack))["owed"] == [{"amount": 4_500, "currency": "usd"}]
    platform_before, theirs_before = await _balances(backend_stack, account)

    await _fail(backend_stack, refund_id)
    await eventually(lambda: _settled(client, backend_stack, 2), what="the reinstatement")

    debts = await _debts(client, backend_stack)
    assert debts["owed"] == []
    assert sorted((line["kind"], line["amount"]) for line in debts["lines"]) == [
        ("forgiven", 4_500),
        ("recovered", 4_500),
    ]
    [again] = [r for r in await _returns(client, backend_stack) if r["kind"] == "reinstatement"]
    assert (again["status"], again["amount"]) == ("done", 4_500)
    platform_after, theirs_after = await _balances(backend_stack, account)
    # 100.00 back to the platform: 45.00 to the organization (what it paid), 45.00 it no longer
    # owes, 10.00 the platform's fee.
    assert (platform_after - platform_before, theirs_after - theirs_before) == (5_500, 4_500)
    transfers = await _transfers_to(backend_stack, account)
    assert sum(1 for t in transfers if t.id == again["stripe_object_id"]) == 1


async def test_a_failed_refund_of_a_debt_paid_back_by_its_own_transfer_is_funded_by_its_charge(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    refund_id = await _debt_of_a_payout(client, backend_stack, account)
    await backend_stack.stripe.aio.fund(account, 9_000, "usd")
    reconciled = await client.post(
        "/api/operator/reconcile", headers={"X-Operator-Key": OPERATOR_KEY}
    )
    assert reconciled.json()["debts_owed"] == 0  # reversed from its own transfer

    await _fail(backend_stack, refund_id)
    await eventually(lambda: _settled(client, backend_stack, 2), what="the reinstatement")

    [again] = [r for r in await _returns(client, backend_stack) if r["kind"] == "reinstatement"]
    assert (again["status"], again["amount"]) == ("done", 9_000)
    [made] = [
        t for t in await _transfers_to(backend_stack, account) if t.id == again["stripe_object_id"]
    ]
    assert made.source_transaction is not None  # the charge's transfer was reversed: it has room
    assert made.metadata["return_funding"] == "charge"
