from __future__ import annotations

from collections.abc import Sequence

import pytest
import stripe

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


async def _active_account(stripe_fake: StripeFake, client: stripe.StripeClient) -> str:
    account = await new_account(client)
    await stripe_fake.aio.complete_onboarding(account.id)
    return account.id


def _amounts(entries: Sequence[stripe.StripeObject]) -> dict[str, int]:
    return {e["currency"]: e["amount"] for e in entries}


async def test_transfer_moves_platform_funds_to_connected_account(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        await stripe_fake.aio.fund(None, 10_000, "usd")
        transfer = await client.v1.transfers.create_async(
            params={
                "amount": 9_000,
                "currency": "usd",
                "destination": account,
                "transfer_group": "order_42",
                "metadata": {"organization_id": "org_1"},
                "description": "platform fee transfer",
            },
            options={"idempotency_key": "transfer-1"},
        )
        platform = await client.v1.balance.retrieve_async()
        connected = await client.v1.balance.retrieve_async(options={"stripe_account": account})
        fetched = await client.v1.transfers.retrieve_async(transfer.id)
        listed = await client.v1.transfers.list_async(params={"transfer_group": "order_42"})
    assert transfer.id.startswith("tr_")
    assert (transfer.object, transfer.amount, transfer.destination) == ("transfer", 9_000, account)
    assert transfer.transfer_group == "order_42"
    assert transfer.metadata.to_dict() == {"organization_id": "org_1"}
    assert fetched.to_dict() == transfer.to_dict()
    assert [t.id for t in listed.data] == [transfer.id]
    assert _amounts(platform.available) == {"usd": 1_000}
    assert _amounts(connected.available) == {"usd": 9_000}


async def test_transfer_beyond_available_balance_is_balance_insufficient(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(None, 500, "usd", pending=True)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(
                params={"amount": 100, "currency": "usd", "destination": account}
            )
    assert caught.value.http_status == 400
    assert caught.value.code == "balance_insufficient"


async def test_transfer_to_account_without_active_transfers_is_refused(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.fund(None, 500, "usd")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(
                params={"amount": 100, "currency": "usd", "destination": account.id}
            )
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await client.v1.transfers.create_async(
                params={"amount": 100, "currency": "usd", "destination": "acct_1Nobody"}
            )
    assert caught.value.code == "insufficient_capabilities_for_transfer"
    assert caught.value.param == "destination"
    assert missing.value.code == "resource_missing"


async def test_transfer_reversal_returns_funds_and_emits_transfer_reversed(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(None, 1_000, "usd")
        transfer = await client.v1.transfers.create_async(
            params={"amount": 1_000, "currency": "usd", "destination": account}
        )
        reversal = await client.v1.transfers.reversals.create_async(
            transfer.id, params={"amount": 400}
        )
        after = await client.v1.transfers.retrieve_async(transfer.id)
        platform = await client.v1.balance.retrieve_async()
        events = await client.v1.events.list_async(params={"type": "transfer.*"})
    assert reversal.object == "transfer_reversal"
    assert after.amount_reversed == 400
    assert after.reversed is False
    assert _amounts(platform.available) == {"usd": 400}
    assert [e.type for e in events.data] == ["transfer.reversed", "transfer.created"]


async def test_a_reversal_the_accounts_balance_cannot_cover_is_refused_and_moves_nothing(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(None, 1_000, "usd")
        transfer = await client.v1.transfers.create_async(
            params={"amount": 1_000, "currency": "usd", "destination": account}
        )
        # The account paid 700 of it out: only 300 is left to take back.
        await client.v1.payouts.create_async(
            params={"amount": 700, "currency": "usd"}, options={"stripe_account": account}
        )
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.reversals.create_async(transfer.id, params={"amount": 400})
        kept = await client.v1.transfers.retrieve_async(transfer.id)
        await client.v1.transfers.reversals.create_async(transfer.id, params={"amount": 300})
        balance = await client.v1.balance.retrieve_async(options={"stripe_account": account})
        platform = await client.v1.balance.retrieve_async()
    assert (caught.value.http_status, caught.value.code) == (400, "balance_insufficient")
    assert kept.amount_reversed == 0
    assert _amounts(balance.available) == {"usd": 0}
    assert _amounts(platform.available) == {"usd": 300}


async def test_connected_account_sees_only_its_own_balance(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        one = await _active_account(stripe_fake, client)
        two = await _active_account(stripe_fake, client)
        stripe_fake.fund(one, 700, "usd")
        stripe_fake.fund(two, 300, "eur")
        stripe_fake.fund(None, 5_000, "usd")
        b1 = await client.v1.balance.retrieve_async(options={"stripe_account": one})
        b2 = await client.v1.balance.retrieve_async(options={"stripe_account": two})
        platform = await client.v1.balance.retrieve_async()
    assert _amounts(b1.available) == {"usd": 700}
    assert _amounts(b2.available) == {"eur": 300}
    assert _amounts(platform.available) == {"usd": 5_000}


async def test_connected_account_cannot_see_platform_or_other_objects(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        one = await _active_account(stripe_fake, client)
        two = await _active_account(stripe_fake, client)
        stripe_fake.fund(None, 1_000, "usd")
        stripe_fake.fund(one, 1_000, "usd")
        transfer = await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": one}
        )
        payout = await client.v1.payouts.create_async(
            params={"amount": 100, "currency": "usd"}, options={"stripe_account": one}
        )
        with pytest.raises(stripe.InvalidRequestError) as hidden_transfer:
            await client.v1.transfers.retrieve_async(transfer.id, options={"stripe_account": one})
        with pytest.raises(stripe.InvalidRequestError) as hidden_payout:
            await client.v1.payouts.retrieve_async(payout.id, options={"stripe_account": two})
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.payouts.retrieve_async(payout.id)
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.accounts.retrieve_async(two, options={"stripe_account": one})
        two_payouts = await client.v1.payouts.list_async(options={"stripe_account": two})
    assert hidden_transfer.value.code == "resource_missing"
    assert hidden_payout.value.http_status == 404
    assert two_payouts.data == []


async def test_payout_on_connected_account_settles_with_payout_paid(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(account, 2_000, "usd")
        payout = await client.v1.payouts.create_async(
            params={"amount": 1_500, "currency": "usd"}, options={"stripe_account": account}
        )
        assert (payout.object, payout.status, payout.amount) == ("payout", "pending", 1_500)
        balance = await client.v1.balance.retrieve_async(options={"stripe_account": account})
        assert _amounts(balance.available) == {"usd": 500}
        stripe_fake.pay_payout(payout.id)
        paid = await client.v1.payouts.retrieve_async(
            payout.id, options={"stripe_account": account}
        )
        events = await client.v1.events.list_async(
            params={"type": "payout.paid"}, options={"stripe_account": account}
        )
    assert paid.status == "paid"
    (event,) = events.data
    assert event.account == account
    assert event.data.object.id == payout.id


async def test_failed_payout_returns_funds_and_emits_payout_failed(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(account, 2_000, "usd")
        payout = await client.v1.payouts.create_async(
            params={"amount": 2_000, "currency": "usd"}, options={"stripe_account": account}
        )
        stripe_fake.fail_payout(payout.id)
        balance = await client.v1.balance.retrieve_async(options={"stripe_account": account})
        failed = await client.v1.payouts.retrieve_async(
            payout.id, options={"stripe_account": account}
        )
        events = await client.v1.events.list_async(
            params={"type": "payout.failed"}, options={"stripe_account": account}
        )
    assert failed.status == "failed"
    assert failed.failure_code == "account_closed"
    assert _amounts(balance.available) == {"usd": 2_000}
    assert len(events.data) == 1


async def test_payout_beyond_available_is_balance_insufficient(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        stripe_fake.fund(account, 100, "usd")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payouts.create_async(
                params={"amount": 101, "currency": "usd"}, options={"stripe_account": account}
            )
    assert caught.value.code == "balance_insufficient"


async def test_destination_payment_intent_splits_amount_and_application_fee(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _active_account(stripe_fake, client)
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 10_000,
                "currency": "usd",
                "application_fee_amount": 1_000,
                "transfer_data": {"destination": account},
                "confirm": True,
                "payment_method": "pm_card_visa",
            }
        )
        platform = await client.v1.balance.retrieve_async()
        connected = await client.v1.balance.retrieve_async(options={"stripe_account": account})
        fetched = await client.v1.payment_intents.retrieve_async(intent.id)
        transfers = await client.v1.transfers.list_async(params={"destination": account})
    assert intent.id.startswith("pi_")
    assert intent.status == "succeeded"
    assert intent.latest_charge is not None
    assert isinstance(intent.latest_charge, str)
    assert intent.latest_charge.startswith("ch_")
    assert fetched.amount_received == 10_000
    assert _amounts(platform.pending) == {"usd": 1_000}
    assert _amounts(connected.pending) == {"usd": 9_000}
    assert [t.amount for t in transfers.data] == [9_000]
    assert transfers.data[0].source_transaction == intent.latest_charge


async def test_application_fee_without_destination_is_refused(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.create_async(
                params={"amount": 1_000, "currency": "usd", "application_fee_amount": 10}
            )
    assert caught.value.param == "application_fee_amount"


async def test_settled_funds_become_available(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        stripe_fake.fund(None, 300, "usd", pending=True)
        stripe_fake.settle_balance(None)
        platform = await client.v1.balance.retrieve_async()
    assert _amounts(platform.available) == {"usd": 300}
    assert _amounts(platform.pending) == {"usd": 0}
