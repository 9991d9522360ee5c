"""PaymentIntents with their charge, refunds, and transfers funded by a charge
(`source_transaction`) with Stripe's refusals — through the official SDK."""

from __future__ import annotations

import pytest
import stripe
from stripe.params import TransferCreateParams

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


async def _account(stripe_fake: StripeFake, client: stripe.StripeClient) -> str:
    account = await new_account(client)
    await stripe_fake.aio.complete_onboarding(account.id)
    return account.id


async def test_a_succeeded_payment_intent_has_a_charge_with_its_money_and_metadata(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        intent = await client.v1.payment_intents.create_async(
            {"amount": 4_200, "currency": "eur", "metadata": {"organization_id": "org_1"}}
        )
        assert (intent.status, intent.latest_charge) == ("requires_payment_method", None)
        done = await stripe_fake.aio.succeed_payment_intent(intent.id)
        charge = await client.v1.charges.retrieve_async(done["latest_charge"])
        platform = await client.v1.balance.retrieve_async()
    assert done["status"] == "succeeded"
    assert (charge.amount, charge.amount_refunded, charge.currency, charge.status) == (
        4_200,
        0,
        "eur",
        "succeeded",
    )
    assert (charge.payment_intent, charge.metadata["organization_id"]) == (intent.id, "org_1")
    assert {b.currency: b.amount for b in platform.available}["eur"] == 4_200
    with pytest.raises(Exception, match="409"):
        await stripe_fake.aio.succeed_payment_intent(intent.id)


async def test_refunds_reduce_the_charge_and_never_exceed_it(stripe_fake: StripeFake) -> None:
    charge_id = await stripe_fake.paid("org_1", 10_000)
    async with stripe_fake.client() as client:
        part = await client.v1.refunds.create_async({"charge": charge_id, "amount": 4_000})
        with pytest.raises(stripe.InvalidRequestError) as too_much:
            await client.v1.refunds.create_async({"charge": charge_id, "amount": 6_001})
        charge = await client.v1.charges.retrieve_async(charge_id)
        assert isinstance(charge.payment_intent, str)
        rest = await client.v1.refunds.create_async({"payment_intent": charge.payment_intent})
        with pytest.raises(stripe.InvalidRequestError) as again:
            await client.v1.refunds.create_async({"charge": charge_id})
        refunded = await client.v1.charges.retrieve_async(charge_id)
    assert (part.amount, part.status, part.charge) == (4_000, "succeeded", charge_id)
    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    assert charge.amount_refunded == 4_000
    assert charge.refunded is False
    assert rest.amount == 6_000
    assert again.value.code == "charge_already_refunded"
    assert (refunded.amount_refunded, refunded.refunded) == (10_000, True)
    types = [e["type"] for e in (await stripe_fake.aio.events())["events"]]
    assert types.count("charge.refunded") >= 2


async def test_a_transfer_funded_by_a_charge_takes_at_most_what_is_left_of_it(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 10_000)
    async with stripe_fake.client() as client:
        account = await _account(stripe_fake, client)
        base: TransferCreateParams = {
            "currency": "usd",
            "destination": account,
            "source_transaction": charge_id,
        }
        first = await client.v1.transfers.create_async({**base, "amount": 7_000})
        with pytest.raises(stripe.InvalidRequestError) as over:
            await client.v1.transfers.create_async({**base, "amount": 3_001})
        await client.v1.refunds.create_async({"charge": charge_id, "amount": 1_000})
        with pytest.raises(stripe.InvalidRequestError) as after_refund:
            await client.v1.transfers.create_async({**base, "amount": 2_001})
        last = await client.v1.transfers.create_async({**base, "amount": 2_000})
        connected = await client.v1.balance.retrieve_async(options={"stripe_account": account})
    assert first.source_transaction == charge_id
    assert over.value.param == "amount"
    assert "3000" in str(over.value.user_message)
    assert "2000" in str(after_refund.value.user_message)
    assert last.amount == 2_000
    assert {b.currency: b.amount for b in connected.available}["usd"] == 9_000


async def test_source_transaction_must_be_a_succeeded_charge_in_the_transfers_currency(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 10_000)
    async with stripe_fake.client() as client:
        account = await _account(stripe_fake, client)
        pending = await client.v1.payment_intents.create_async({"amount": 500, "currency": "usd"})
        base: TransferCreateParams = {"amount": 100, "currency": "usd", "destination": account}
        with pytest.raises(stripe.InvalidRequestError) as intent_id:
            await client.v1.transfers.create_async({**base, "source_transaction": pending.id})
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            await client.v1.transfers.create_async({**base, "source_transaction": "ch_nope"})
        with pytest.raises(stripe.InvalidRequestError) as currency:
            await client.v1.transfers.create_async(
                {**base, "currency": "eur", "source_transaction": charge_id}
            )
    # A PaymentIntent id is not a charge: Stripe wants the charge (`latest_charge`).
    assert (intent_id.value.code, intent_id.value.param) == (
        "resource_missing",
        "source_transaction",
    )
    assert unknown.value.code == "resource_missing"
    assert currency.value.param == "currency"


async def test_faults_can_target_one_path(stripe_fake: StripeFake) -> None:
    await stripe_fake.aio.set_faults("error_500", count=1, path="/v1/transfers")
    async with stripe_fake.client() as client:
        await client.v1.balance.retrieve_async()  # not under the path: unaffected
        with pytest.raises(stripe.APIError):
            await client.v1.transfers.list_async()
        await client.v1.transfers.list_async()  # the one fault is spent
