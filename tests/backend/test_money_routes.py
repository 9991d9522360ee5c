from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from tests.backend.conftest import eventually, onboard
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


def transfer_body(
    stack: BackendStack, source: object, amount: object = 10_000, **extra: object
) -> dict[str, object]:
    return {
        "organization_id": stack.org_id,
        "source_transaction": source,
        "amount": amount,
        "currency": "usd",
        **extra,
    }


async def post_transfer(
    client: httpx.AsyncClient,
    stack: BackendStack,
    key: str | None,
    source: object = "ch_unused",  # anything, to send what a client must not
    **body: object,
) -> httpx.Response:
    headers = stack.auth("admin")
    if key is not None:
        headers["Idempotency-Key"] = key
    payload = transfer_body(stack, source, **body)
    return await client.post("/api/connect/transfer", json=payload, headers=headers)


async def test_transfer_keeps_the_org_fee_and_sends_the_net_to_the_account(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_005)
    r = await post_transfer(
        client,
        backend_stack,
        "order-42",
        charge,
        amount=10_005,
        transfer_group="order-42",
        metadata={"order": "42"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["gross_amount"], body["fee_amount"], body["net_amount"]) == (10_005, 1_001, 9_004)
    assert body["status"] == "succeeded"
    assert body["idempotency_key"] == "order-42"
    async with backend_stack.stripe.client() as stripe:
        sent = await stripe.v1.transfers.retrieve_async(body["stripe_transfer_id"])
    assert (sent.amount, sent.currency, sent.destination) == (9_004, "usd", account_id)
    assert sent.metadata is not None
    assert sent.metadata["gross_amount"] == "10005"
    assert sent.metadata["fee_amount"] == "1001"
    assert sent.metadata["order"] == "42"
    row = backend_stack.worker.row(
        "SELECT status, net_amount, fee_amount, stripe_transfer_id FROM connect_transfer "
        "WHERE idempotency_key = ?",
        "order-42",
    )
    assert row == {
        "status": "succeeded",
        "net_amount": 9_004,
        "fee_amount": 1_001,
        "stripe_transfer_id": body["stripe_transfer_id"],
    }


async def test_repeated_transfer_returns_the_first_result_and_moves_money_once(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    first, *rest = await asyncio.gather(
        *(post_transfer(client, backend_stack, "same-key", charge) for _ in range(5))
    )
    replies = [first, *rest]
    assert {r.status_code for r in replies} == {201}, [r.text for r in replies]
    assert len({r.json()["stripe_transfer_id"] for r in replies}) == 1
    later = await post_transfer(client, backend_stack, "same-key", charge)
    assert later.status_code == 201
    assert later.headers["idempotent-replayed"] == "true"
    assert later.json() == first.json()
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"destination": account_id})
    assert len(listed.data) == 1


async def test_reusing_an_idempotency_key_for_another_request_is_409(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    assert (await post_transfer(client, backend_stack, "k1", charge)).status_code == 201
    r = await post_transfer(client, backend_stack, "k1", charge, amount=5_000)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "idempotency_key_reused")


async def test_transfer_requires_an_idempotency_key(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await post_transfer(client, backend_stack, None)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "idempotency_key_required")
    r = await post_transfer(client, backend_stack, "tab\tkey")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_idempotency_key")
    r = await post_transfer(client, backend_stack, "x" * 256)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_idempotency_key")


async def test_transfer_to_a_non_active_account_is_409(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await post_transfer(client, backend_stack, "k")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "account_not_ready")
    await onboard(client, backend_stack)  # pending, not active
    r = await post_transfer(client, backend_stack, "k")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "account_not_ready")


async def test_transfer_amounts_must_be_positive_json_integers(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    for amount in (0, -5, 10.0, "1000", 100_000_000, True):
        r = await post_transfer(client, backend_stack, "k", amount=amount)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_request"), amount
    for source in ("", "tr_123", "ch_with space", 42):
        r = await post_transfer(client, backend_stack, "k", source=source)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_request"), source
    r = await post_transfer(client, backend_stack, "k", unexpected="x")
    assert r.status_code == 400
    assert "unexpected" in r.json()["error"]["message"]


async def test_transfer_stripe_refusal_is_recorded_replayed_and_gives_the_payment_back(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    # Someone transferred most of the charge outside this service (e.g. in the Dashboard): the
    # ledger still sees it whole, Stripe refuses more than the charge has left.
    async with backend_stack.stripe.client() as stripe:
        await stripe.v1.transfers.create_async(
            {
                "amount": 6_000,
                "currency": "usd",
                "destination": account_id,
                "source_transaction": charge,
            }
        )
    r = await post_transfer(client, backend_stack, "too-much", charge)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "transfer_failed")
    again = await post_transfer(client, backend_stack, "too-much", charge)
    assert again.status_code == 400
    assert again.headers["idempotent-replayed"] == "true"
    rest = await post_transfer(client, backend_stack, "the-rest", charge, amount=4_000)
    assert rest.status_code == 201, rest.text


async def test_transfer_left_pending_by_a_stripe_outage_is_finished_by_the_retry(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    await backend_stack.stripe.aio.set_faults("error_500", count=1, path="/v1/transfers")
    r = await post_transfer(client, backend_stack, "flaky", charge)
    assert r.status_code == 502, r.text
    assert backend_stack.worker.row("SELECT status FROM connect_transfer") == {"status": "pending"}
    await backend_stack.stripe.aio.clear_faults()
    retry = await post_transfer(client, backend_stack, "flaky", charge)
    assert retry.status_code == 201, retry.text
    assert retry.json()["status"] == "succeeded"


async def test_stripe_rate_limit_is_503_with_retry_after(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    await backend_stack.stripe.aio.set_faults("rate_limit", count=1)
    r = await client.get(
        f"/api/connect/balance/{backend_stack.org_id}", headers=backend_stack.auth()
    )
    assert (r.status_code, r.json()["error"]["code"]) == (503, "stripe_rate_limited")
    assert r.headers["retry-after"].isdigit()


async def test_stripe_unreachable_is_502(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    await backend_stack.stripe.aio.set_faults("down", count=3)  # aiohttp retries a GET once
    r = await client.get(
        f"/api/connect/balance/{backend_stack.org_id}", headers=backend_stack.auth()
    )
    assert r.status_code == 502, r.text


async def test_balance_is_scoped_to_the_connected_account(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 4_200, "usd")
    await backend_stack.stripe.aio.fund(account_id, 700, "usd", pending=True)
    await backend_stack.stripe.aio.fund(None, 999_999, "usd")  # the platform's, not shown
    r = await client.get(
        f"/api/connect/balance/{backend_stack.org_id}", headers=backend_stack.auth("member")
    )
    assert r.status_code == 200, r.text
    assert r.json()["available"] == [{"amount": 4_200, "currency": "usd"}]
    assert r.json()["pending"] == [{"amount": 700, "currency": "usd"}]


async def test_balance_without_an_account_is_409(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.get(
        f"/api/connect/balance/{backend_stack.org_id}", headers=backend_stack.auth()
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "no_connect_account")


async def test_manual_payout_of_the_available_balance_is_recorded(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 5_000, "usd")
    r = await client.post(
        "/api/connect/payout",
        json={"organization_id": backend_stack.org_id, "currency": "usd"},
        headers=backend_stack.auth("owner", Idempotency_Key="payout-1"),
    )
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["status"]) == (5_000, "pending")
    payout_id = r.json()["payout_id"]
    await backend_stack.stripe.aio.pay_payout(payout_id)

    async def paid() -> bool:
        row = backend_stack.worker.row(
            "SELECT status FROM connect_payout WHERE stripe_payout_id = ?", payout_id
        )
        return row is not None and row["status"] == "paid"

    await eventually(paid, what="payout.paid webhook in the payout ledger")
    empty = await client.post(
        "/api/connect/payout",
        json={"organization_id": backend_stack.org_id, "currency": "usd"},
        headers=backend_stack.auth("owner", Idempotency_Key="payout-2"),
    )
    assert (empty.status_code, empty.json()["error"]["code"]) == (409, "insufficient_balance")


async def test_login_link_opens_the_express_dashboard_for_managers(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    r = await client.post(
        "/api/connect/login-link",
        json={"organization_id": backend_stack.org_id},
        headers=backend_stack.auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith("http")
