"""Refunds reverse what was transferred (DESIGN decision 6), through the real backend, the
Worker core over SQLite and the Stripe fake, with webhooks signed and delivered as Stripe does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.backend.conftest import eventually, settle_webhooks
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]
PLATFORM_KEY = "platform-key-for-tests-0123456789abcdef"
OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"


@pytest.fixture
def backend_stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env={"PLATFORM_API_KEY": PLATFORM_KEY, "OPERATOR_API_KEY": OPERATOR_KEY})


async def _transfer(
    client: httpx.AsyncClient, stack: BackendStack, key: str, charge: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/connect/transfer",
        json={"organization_id": stack.org_id, "source_transaction": charge, **body},
        headers={**stack.auth("owner"), "Idempotency-Key": key},
    )


async def _refund(stack: BackendStack, charge: str, amount: int | None = None) -> None:
    async with stack.stripe.client() as sdk:
        params: dict[str, Any] = {"charge": charge}
        if amount is not None:
            params["amount"] = amount
        await sdk.v1.refunds.create_async(params)  # type: ignore[arg-type]
    await settle_webhooks(stack)


async def _balances(stack: BackendStack, account: str) -> tuple[int, int]:
    """(platform, connected account): available + pending in usd."""
    async with stack.stripe.client() as sdk:
        platform = await sdk.v1.balance.retrieve_async()
        theirs = await sdk.v1.balance.retrieve_async(options={"stripe_account": account})

    def total(balance: Any) -> int:
        return sum(b.amount for b in [*balance.available, *balance.pending] if b.currency == "usd")

    return total(platform), total(theirs)


async def _returns(client: httpx.AsyncClient, stack: BackendStack) -> list[dict[str, Any]]:
    r = await client.get(f"/api/connect/returns/{stack.org_id}", headers=stack.auth("member"))
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["returns"]
    return rows


async def _debts(client: httpx.AsyncClient, stack: BackendStack) -> dict[str, Any]:
    r = await client.get(f"/api/connect/debts/{stack.org_id}", headers=stack.auth("member"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_full_refund_reverses_the_transfer_and_the_platform_is_back_where_it_was(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    before = await _balances(backend_stack, account)
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    r = await _transfer(client, backend_stack, "t-1", charge)
    assert r.status_code == 201, r.text
    transfer_id = r.json()["stripe_transfer_id"]
    await settle_webhooks(backend_stack)

    await _refund(backend_stack, charge)

    async def reversed_() -> bool:
        async with backend_stack.stripe.client() as sdk:
            transfer = await sdk.v1.transfers.retrieve_async(transfer_id)
        return bool(transfer.amount_reversed == 9_000)

    await eventually(reversed_, what="the transfer reversed")
    await settle_webhooks(backend_stack)
    # The fake charges no Stripe fees: the platform is exactly where it was before the sale.
    assert await _balances(backend_stack, account) == before
    [row] = await _returns(client, backend_stack)
    assert (row["kind"], row["cause"], row["amount"], row["status"]) == (
        "reversal",
        "refund",
        9_000,
        "done",
    )
    assert row["stripe_object_id"].startswith("trr_")
    history = await client.get(
        f"/api/connect/transfers/{backend_stack.org_id}", headers=backend_stack.auth("member")
    )
    assert history.json()["transfers"][0]["amount_reversed"] == 9_000
    # "Pay out now" has nothing to pay: the reversed money is gone from the account.
    payout = await client.post(
        "/api/connect/payout",
        json={"organization_id": backend_stack.org_id, "currency": "usd"},
        headers={**backend_stack.auth("owner"), "Idempotency-Key": "po-1"},
    )
    assert payout.status_code >= 400, payout.text
    # And the payment cannot be transferred again.
    again = await _transfer(client, backend_stack, "t-2", charge)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "source_refunded")


async def test_a_partial_refund_takes_first_from_the_untransferred_part(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    before = await _balances(backend_stack, account)
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    r = await _transfer(client, backend_stack, "t-1", charge, amount=5_000)
    assert r.status_code == 201, r.text
    assert r.json()["net_amount"] == 4_500
    await settle_webhooks(backend_stack)

    await _refund(backend_stack, charge, 8_000)
    await eventually(
        lambda: _has_returns(client, backend_stack, 1), what="the partial refund's reversal"
    )
    [row] = await _returns(client, backend_stack)
    assert (row["amount"], row["status"]) == (2_700, "done")
    platform, theirs = await _balances(backend_stack, account)
    # The organization keeps 18.00 = 90% of the 20.00 left; the platform its 2.00 fee.
    assert theirs - before[1] == 1_800
    assert platform - before[0] == 10_000 - 8_000 - 1_800
    assert (await _debts(client, backend_stack))["owed"] == []
    # The second refund (the rest) reverses the rest, once.
    await _refund(backend_stack, charge)
    await eventually(lambda: _has_returns(client, backend_stack, 2), what="the second reversal")
    assert await _balances(backend_stack, account) == before


async def _has_returns(client: httpx.AsyncClient, stack: BackendStack, n: int) -> bool:
    rows = await _returns(client, stack)
    return len(rows) >= n and all(r["status"] != "pending" for r in rows)


async def test_a_refund_of_money_already_paid_out_is_a_debt_shown_to_owners_and_the_operator(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    assert (await _transfer(client, backend_stack, "t-1", charge)).status_code == 201
    async with backend_stack.stripe.client() as sdk:
        await sdk.v1.payouts.create_async(
            {"amount": 9_000, "currency": "usd"}, {"stripe_account": account}
        )
    await settle_webhooks(backend_stack)

    await _refund(backend_stack, charge)
    await eventually(lambda: _has_returns(client, backend_stack, 1), what="the debt")
    debts = await _debts(client, backend_stack)
    assert debts["owed"] == [{"amount": 9_000, "currency": "usd"}]
    [debt] = debts["debts"]
    assert (debt["status"], debt["amount_owed"]) == ("owed", 9_000)
    assert "balance" in debt["failure_message"]  # Stripe's refusal, as it said it
    r = await client.get("/api/operator/debts", headers={"X-Operator-Key": OPERATOR_KEY})
    assert r.status_code == 200, r.text
    assert [d["organization_id"] for d in r.json()["debts"]] == [backend_stack.org_id]
    refused = await client.get("/api/operator/debts", headers=backend_stack.auth("owner"))
    assert refused.status_code == 401


async def test_a_redelivered_refund_event_reverses_nothing_twice(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    r = await _transfer(client, backend_stack, "t-1", charge)
    transfer_id = r.json()["stripe_transfer_id"]
    await settle_webhooks(backend_stack)
    await _refund(backend_stack, charge, 3_000)
    await eventually(lambda: _has_returns(client, backend_stack, 1), what="the reversal")
    events = (await backend_stack.stripe.aio.events())["events"]
    refunded = [e["id"] for e in events if e["type"] == "charge.refunded"]
    for event_id in refunded * 2:
        await backend_stack.stripe.aio.resend_event(event_id)
    await settle_webhooks(backend_stack)
    async with backend_stack.stripe.client() as sdk:
        reversals = await sdk.v1.transfers.reversals.list_async(transfer_id)
    assert [x.amount for x in reversals.data] == [2_700]
    assert len(await _returns(client, backend_stack)) == 1


async def test_a_member_sees_the_history_but_not_another_organizations(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    mine = await client.get(
        f"/api/connect/returns/{backend_stack.org_id}", headers=backend_stack.auth("member")
    )
    assert (mine.status_code, mine.json()["returns"]) == (200, [])
    for path in ("returns", "debts"):
        theirs = await client.get(
            f"/api/connect/{path}/{backend_stack.other_org_id}",
            headers=backend_stack.auth("member"),
        )
        assert theirs.status_code == 403


async def _paid_out_then_refunded(
    client: httpx.AsyncClient, stack: BackendStack, account: str
) -> None:
    """100.00 paid, transferred (90.00 net), paid out, then refunded in full: 90.00 owed."""
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    assert (await _transfer(client, stack, "t-1", charge)).status_code == 201
    async with stack.stripe.client() as sdk:
        await sdk.v1.payouts.create_async(
            {"amount": 9_000, "currency": "usd"}, {"stripe_account": account}
        )
    await _refund(stack, charge)
    await eventually(lambda: _has_returns(client, stack, 1), what="the debt")
    assert (await _debts(client, stack))["owed"] == [{"amount": 9_000, "currency": "usd"}]


async def test_a_debt_is_paid_first_out_of_the_next_transfers_with_a_line_per_part(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    await _paid_out_then_refunded(client, backend_stack, account)
    _, before = await _balances(backend_stack, account)
    # The next sale: 50.00 → 45.00 net, all of it taken for the debt; then 100.00 → 90.00 net,
    # 45.00 of it for the rest.
    for key, amount in (("t-2", 5_000), ("t-3", 10_000)):
        charge = await backend_stack.stripe.paid(backend_stack.org_id, amount)
        r = await _transfer(client, backend_stack, key, charge)
        assert r.status_code == 201, r.text
    debts = await _debts(client, backend_stack)
    assert debts["owed"] == []
    assert debts["debts"] == []
    assert sorted(line["amount"] for line in debts["lines"]) == [4_500, 4_500]
    assert {line["kind"] for line in debts["lines"]} == {"recovered"}
    _, after = await _balances(backend_stack, account)
    assert after - before == 13_500 - 9_000  # it received 135.00; 90.00 of it paid the debt


async def test_reconciliation_retries_a_debt_once_the_account_holds_money_again(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account = await activated()
    await _paid_out_then_refunded(client, backend_stack, account)
    operator = {"X-Operator-Key": OPERATOR_KEY}
    first = await client.post("/api/operator/reconcile", headers=operator)
    assert first.status_code == 200, first.text
    assert first.json()["debts_owed"] == 1  # still nothing to take it from
    await backend_stack.stripe.aio.fund(account, 9_000, "usd")
    second = await client.post("/api/operator/reconcile", headers=operator)
    assert second.json()["debts_owed"] == 0
    debts = await _debts(client, backend_stack)
    assert debts["owed"] == []
    assert [(line["kind"], line["amount"]) for line in debts["lines"]] == [("reversed", 9_000)]
    third = await client.post("/api/operator/reconcile", headers=operator)
    assert (third.json()["debts_owed"], third.json()["debts_recovered"]) == (0, 0)


async def test_a_payment_whose_transfer_rows_were_pruned_is_not_planned(
    client: httpx.AsyncClient,
    backend_stack: BackendStack,
    activated: Activated,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retention may prune a final transfer row; its payment keeps what was transferred. Planning
    from the rows left would count the payment's returns against too little (and could transfer
    money again), so the refund is acknowledged and left to an operator."""
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    for key in ("t-1", "t-2"):
        r = await _transfer(client, backend_stack, key, charge, amount=5_000)
        assert r.status_code == 201, r.text
    await settle_webhooks(backend_stack)
    backend_stack.worker.execute(
        'DELETE FROM "connect_transfer" WHERE "idempotency_key" = ?', "t-1"
    )
    await _refund(backend_stack, charge)
    assert await _returns(client, backend_stack) == []
    assert "its transfer rows were pruned" in caplog.text
