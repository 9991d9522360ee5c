"""Refunds after they are made (pending, succeeded, failed, canceled: the money returns) and
transfer reversals refused when the connected account cannot cover them — through the SDK."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


def _available(balance: stripe.Balance, currency: str = "usd") -> int:
    return {b.currency: b.amount for b in balance.available}.get(currency, 0)


def _since(events: dict[str, Any], count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = events["events"][count:]
    return found


async def _event_count(stripe_fake: StripeFake) -> int:
    return len((await stripe_fake.aio.events())["events"])


async def test_a_refund_that_fails_returns_its_money_and_emits_refund_failed(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 10_000)
    async with stripe_fake.client() as client:
        refund = await client.v1.refunds.create_async({"charge": charge_id, "amount": 9_000})
        before = await _event_count(stripe_fake)
        failed = await stripe_fake.aio.fail_refund(refund.id, "lost_or_stolen_card")
        charge = await client.v1.charges.retrieve_async(charge_id)
        platform = await client.v1.balance.retrieve_async()
        again = await client.v1.refunds.create_async({"charge": charge_id})
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert failed["failure_balance_transaction"].startswith("txn_")
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert _available(platform) == 10_000
    assert again.amount == 10_000
    events = _since(await stripe_fake.aio.events(), before)
    assert [e["type"] for e in events[:3]] == [
        "refund.updated",
        "charge.refund.updated",
        "refund.failed",
    ]
    assert events[0]["data"]["previous_attributes"]["status"] == "succeeded"
    assert all(e["data"]["object"]["id"] == refund.id for e in events[:3])


async def test_a_pending_refund_succeeds_or_is_canceled_with_its_money_back(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 6_000)
    await stripe_fake.aio.pending_refunds(charge_id)
    async with stripe_fake.client() as client:
        first = await client.v1.refunds.create_async({"charge": charge_id, "amount": 1_000})
        second = await client.v1.refunds.create_async({"charge": charge_id, "amount": 2_000})
        assert (first.status, second.status) == ("pending", "pending")
        assert _available(await client.v1.balance.retrieve_async()) == 3_000
        before = await _event_count(stripe_fake)
        done = await stripe_fake.aio.succeed_refund(first.id)
        canceled = await stripe_fake.aio.cancel_refund(second.id)
        charge = await client.v1.charges.retrieve_async(charge_id)
        platform = await client.v1.balance.retrieve_async()
        listed = await client.v1.refunds.list_async({"charge": charge_id})
    assert (done["status"], canceled["status"]) == ("succeeded", "canceled")
    assert charge.amount_refunded == 1_000
    assert _available(platform) == 5_000
    assert {r.id: r.status for r in listed.data} == {first.id: "succeeded", second.id: "canceled"}
    types = [e["type"] for e in _since(await stripe_fake.aio.events(), before)]
    assert types == ["refund.updated", "charge.refund.updated"] * 2
    with pytest.raises(Exception, match="409"):
        await stripe_fake.aio.cancel_refund(first.id)


async def test_refund_controls_refuse_unknown_refunds_and_reasons(stripe_fake: StripeFake) -> None:
    charge_id = await stripe_fake.paid("org_1", 1_000)
    async with stripe_fake.client() as client:
        refund = await client.v1.refunds.create_async({"charge": charge_id})
    async with httpx.AsyncClient(base_url=stripe_fake.url) as http:
        missing = await http.post("/_fake/refunds/re_missing/fail", json={})
        bad = await http.post(f"/_fake/refunds/{refund.id}/fail", json={"failure_reason": "x"})
        flag = await http.post(f"/_fake/charges/{charge_id}/pending-refunds", json={"pending": 1})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_failure_reason")
    assert (flag.status_code, flag.json()["error"]["code"]) == (400, "invalid_flag")


async def _funded_transfer(
    stripe_fake: StripeFake, client: stripe.StripeClient, amount: int
) -> tuple[str, stripe.Transfer]:
    account = await new_account(client)
    await stripe_fake.aio.complete_onboarding(account.id)
    charge_id = await stripe_fake.paid("org_1", amount)
    transfer = await client.v1.transfers.create_async(
        {
            "amount": amount - amount // 10,
            "currency": "usd",
            "destination": account.id,
            "source_transaction": charge_id,
        }
    )
    return account.id, transfer


async def test_a_reversal_the_connected_account_cannot_cover_is_refused_and_moves_nothing(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account, transfer = await _funded_transfer(stripe_fake, client, 10_000)
        payout = await client.v1.payouts.create_async(
            {"amount": 8_000, "currency": "usd"}, {"stripe_account": account}
        )
        before = await _event_count(stripe_fake)
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.transfers.reversals.create_async(transfer.id, {"amount": 2_000})
        kept = await client.v1.transfers.retrieve_async(transfer.id)
        partial = await client.v1.transfers.reversals.create_async(transfer.id, {"amount": 1_000})
        connected = await client.v1.balance.retrieve_async({}, {"stripe_account": account})
        platform = await client.v1.balance.retrieve_async()
    assert payout.amount == 8_000
    assert (refused.value.code, refused.value.http_status) == ("balance_insufficient", 400)
    assert "1000" in str(refused.value.user_message)
    assert (kept.amount_reversed, kept.reversed) == (0, False)
    assert partial.amount == 1_000
    assert _available(connected) == 0
    assert _available(platform) == 1_000 + 1_000
    types = [e["type"] for e in _since(await stripe_fake.aio.events(), before)]
    assert types == ["transfer.reversed"]


async def test_a_full_reversal_marks_the_transfer_reversed_and_lists_it(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        _, transfer = await _funded_transfer(stripe_fake, client, 5_000)
        reversal = await client.v1.transfers.reversals.create_async(
            transfer.id, {"metadata": {"refund": "re_1"}}, {"idempotency_key": "rev-1"}
        )
        replay = await client.v1.transfers.reversals.create_async(
            transfer.id, {"metadata": {"refund": "re_1"}}, {"idempotency_key": "rev-1"}
        )
        after = await client.v1.transfers.retrieve_async(transfer.id)
        listed = await client.v1.transfers.reversals.list_async(transfer.id)
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.transfers.reversals.create_async(transfer.id, {"amount": 1})
    assert reversal.id == replay.id
    assert (reversal.amount, reversal.metadata and reversal.metadata["refund"]) == (4_500, "re_1")
    assert (after.amount_reversed, after.reversed) == (4_500, True)
    assert [r.id for r in listed.data] == [reversal.id]
