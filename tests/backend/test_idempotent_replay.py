"""Replays beyond Stripe's 24-hour window: the D1 ledgers answer, whatever the account's state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.backend.conftest import answer, eventually, settle_webhooks, status_of
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


async def _disable(client: httpx.AsyncClient, stack: BackendStack, account_id: str) -> None:
    """Stripe rejects the account; the delivered `account.updated` makes the org disabled."""
    await stack.stripe.aio.reject(account_id)

    async def disabled() -> bool:
        return bool((await status_of(client, stack))["stripe_connect_status"] == "disabled")

    await eventually(disabled, what="account.updated to disable the org")
    await settle_webhooks(stack)


async def _restrict(client: httpx.AsyncClient, stack: BackendStack, account_id: str) -> None:
    await stack.stripe.aio.restrict(account_id)

    async def not_ready() -> bool:
        org = await status_of(client, stack)
        return org["stripe_connect_status"] != "active" or not org["payouts_enabled"]

    await eventually(not_ready, what="account.updated to restrict the org")
    await settle_webhooks(stack)


async def _transfer(
    client: httpx.AsyncClient, stack: BackendStack, key: str, charge: str, amount: int = 10_000
) -> httpx.Response:
    return await client.post(
        "/api/connect/transfer",
        json={"organization_id": stack.org_id, "source_transaction": charge, "amount": amount},
        headers=stack.auth("admin", Idempotency_Key=key),
    )


async def test_finished_transfer_is_replayed_after_the_account_is_disabled(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 20_000)
    first = await _transfer(client, backend_stack, "order-7/a", charge)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    await _disable(client, backend_stack, account_id)

    replay = await _transfer(client, backend_stack, "order-7/a", charge)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert answer(replay) == answer(first)

    other_body = await _transfer(client, backend_stack, "order-7/a", charge, amount=5_000)
    assert (other_body.status_code, other_body.json()["error"]["code"]) == (
        409,
        "idempotency_key_reused",
    )
    fresh = await _transfer(client, backend_stack, "order-8", charge)
    assert (fresh.status_code, fresh.json()["error"]["code"]) == (409, "account_not_ready")
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"destination": account_id})
    assert len(listed.data) == 1
    assert backend_stack.worker.row("SELECT COUNT(*) AS n FROM connect_transfer") == {"n": 1}


async def test_refused_transfer_is_replayed_after_the_account_is_restricted(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    async with backend_stack.stripe.client() as stripe:  # a Dashboard transfer from the charge
        await stripe.v1.transfers.create_async(
            {
                "amount": 2_000,
                "currency": "usd",
                "destination": account_id,
                "source_transaction": charge,
            }
        )
    first = await _transfer(client, backend_stack, "broke", charge)
    assert (first.status_code, first.json()["error"]["code"]) == (400, "transfer_failed")
    await _restrict(client, backend_stack, account_id)
    replay = await _transfer(client, backend_stack, "broke", charge)
    assert replay.status_code == 400
    assert replay.headers["idempotent-replayed"] == "true"
    assert answer(replay) == answer(first)


async def test_pending_transfer_is_not_sent_to_an_account_that_is_no_longer_ready(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    await backend_stack.stripe.aio.set_faults("error_500", count=1, path="/v1/transfers")
    left_pending = await _transfer(client, backend_stack, "flaky", charge)
    assert left_pending.status_code == 502, left_pending.text
    await backend_stack.stripe.aio.clear_faults()
    await _disable(client, backend_stack, account_id)
    retry = await _transfer(client, backend_stack, "flaky", charge)
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "account_not_ready")
    row = backend_stack.worker.row("SELECT status FROM connect_transfer")
    assert row == {"status": "pending"}
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"destination": account_id})
    assert listed.data == []


async def _payout(
    client: httpx.AsyncClient, stack: BackendStack, key: str, **body: object
) -> httpx.Response:
    return await client.post(
        "/api/connect/payout",
        json={"organization_id": stack.org_id, "currency": "usd", **body},
        headers=stack.auth("owner", Idempotency_Key=key),
    )


async def test_payout_of_the_balance_is_replayed_from_d1_with_the_first_amount(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 5_000, "usd")
    first = await _payout(client, backend_stack, "payout/1")
    assert first.status_code == 201, first.text
    assert first.json()["amount"] == 5_000
    row = backend_stack.worker.row(
        "SELECT idempotency_key, amount, status, stripe_payout_id FROM connect_payout"
    )
    assert row == {
        "idempotency_key": "payout/1",
        "amount": 5_000,
        "status": "pending",
        "stripe_payout_id": first.json()["payout_id"],
    }
    await backend_stack.stripe.aio.fund(account_id, 2_000, "usd")
    # Stripe unreachable: the answer can only come from the ledger (as after Stripe's 24 hours).
    await backend_stack.stripe.aio.set_faults("down")
    try:
        replay = await _payout(client, backend_stack, "payout/1")
    finally:
        await backend_stack.stripe.aio.clear_faults()
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert answer(replay) == answer(first)

    explicit = await _payout(client, backend_stack, "payout/1", amount=5_000)
    assert (explicit.status_code, explicit.json()["error"]["code"]) == (
        409,
        "idempotency_key_reused",
    )
    other_currency = await _payout(client, backend_stack, "payout/1", currency="eur")
    assert other_currency.status_code == 409
    async with backend_stack.stripe.client(stripe_account=account_id) as stripe:
        listed = await stripe.v1.payouts.list_async()
    assert len(listed.data) == 1


async def test_payout_with_an_amount_is_replayed_after_the_account_is_restricted(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 5_000, "usd")
    first = await _payout(client, backend_stack, "p-1", amount=1_200)
    assert first.status_code == 201, first.text
    await _restrict(client, backend_stack, account_id)
    replay = await _payout(client, backend_stack, "p-1", amount=1_200)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert answer(replay) == answer(first)
    fresh = await _payout(client, backend_stack, "p-2", amount=1_200)
    assert (fresh.status_code, fresh.json()["error"]["code"]) == (409, "account_not_ready")


async def test_payout_refused_by_stripe_is_recorded_and_replayed(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 100, "usd")
    first = await _payout(client, backend_stack, "too-much", amount=9_999)
    assert (first.status_code, first.json()["error"]["code"]) == (400, "payout_failed")
    row = backend_stack.worker.row("SELECT status, stripe_payout_id FROM connect_payout")
    assert row == {"status": "refused", "stripe_payout_id": None}
    await backend_stack.stripe.aio.fund(account_id, 20_000, "usd")
    replay = await _payout(client, backend_stack, "too-much", amount=9_999)
    assert replay.status_code == 400
    assert replay.headers["idempotent-replayed"] == "true"
    assert answer(replay) == answer(first)


async def test_payout_left_reserved_by_a_stripe_outage_is_finished_by_the_retry(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 3_000, "usd")
    await backend_stack.stripe.aio.set_faults("error_500", count=1)
    failed = await _payout(client, backend_stack, "flaky-payout", amount=3_000)
    assert failed.status_code == 502, failed.text
    assert backend_stack.worker.row("SELECT status, amount FROM connect_payout") == {
        "status": "reserved",
        "amount": 3_000,
    }
    await backend_stack.stripe.aio.clear_faults()
    retry = await _payout(client, backend_stack, "flaky-payout", amount=3_000)
    assert retry.status_code == 201, retry.text
    assert retry.json()["amount"] == 3_000
    payout_id = retry.json()["payout_id"]
    await settle_webhooks(backend_stack)
    rows = backend_stack.worker.rows("SELECT stripe_payout_id, idempotency_key FROM connect_payout")
    assert rows == [{"stripe_payout_id": payout_id, "idempotency_key": "flaky-payout"}]


async def test_pending_transfer_is_not_resent_once_stripes_idempotency_window_has_passed(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    # The first attempt's outcome is unknown (it may have reached Stripe and lost its answer).
    # Within 24 h the retry carries the same Idempotency-Key and Stripe answers with the first
    # result; after that Stripe may have forgotten the key, and re-sending can pay twice.
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    await backend_stack.stripe.aio.set_faults("error_500", count=1, path="/v1/transfers")
    left_pending = await _transfer(client, backend_stack, "lost-answer", charge)
    assert left_pending.status_code == 502, left_pending.text
    await backend_stack.stripe.aio.clear_faults()
    backend_stack.worker.execute(
        "UPDATE connect_transfer SET created_at = '2020-01-01T00:00:00.000Z', "
        "updated_at = '2020-01-01T00:00:00.000Z'"
    )
    retry = await _transfer(client, backend_stack, "lost-answer", charge)
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "transfer_outcome_unknown")
    assert backend_stack.worker.row("SELECT status FROM connect_transfer") == {"status": "pending"}
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"destination": account_id})
    assert listed.data == []


async def test_reserved_payout_is_not_resent_once_stripes_idempotency_window_has_passed(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 50_000, "usd")
    await backend_stack.stripe.aio.set_faults("error_500", count=1)
    left_reserved = await _payout(client, backend_stack, "lost-payout", amount=5_000)
    assert left_reserved.status_code == 502, left_reserved.text
    await backend_stack.stripe.aio.clear_faults()
    backend_stack.worker.execute(
        "UPDATE connect_payout SET updated_at = '2020-01-01T00:00:00.000Z'"
    )
    retry = await _payout(client, backend_stack, "lost-payout", amount=5_000)
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "payout_outcome_unknown")
    assert backend_stack.worker.row("SELECT status FROM connect_payout") == {"status": "reserved"}
    async with backend_stack.stripe.client(stripe_account=account_id) as stripe:
        listed = await stripe.v1.payouts.list_async()
    assert listed.data == []
