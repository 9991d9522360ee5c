"""Transfers and payouts listed with Stripe's own filters (what reconciliation searches by)."""

from __future__ import annotations

import pytest
import stripe
from stripe import RequestOptions

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


async def _onboarded(stripe_fake: StripeFake, client: stripe.StripeClient) -> str:
    account = await new_account(client)
    stripe_fake.complete_onboarding(account.id)
    return account.id


async def test_transfers_by_group_destination_created_and_pages(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        one = await _onboarded(stripe_fake, client)
        two = await _onboarded(stripe_fake, client)
        stripe_fake.fund(None, 10_000, "usd")
        made = []
        for destination, group in ((one, "g1"), (two, "g1"), (one, "g2")):
            made.append(
                await client.v1.transfers.create_async(
                    params={
                        "amount": 100,
                        "currency": "usd",
                        "destination": destination,
                        "transfer_group": group,
                    }
                )
            )
        by_group = await client.v1.transfers.list_async(params={"transfer_group": "g1"})
        by_destination = await client.v1.transfers.list_async(params={"destination": one})
        both = await client.v1.transfers.list_async(
            params={"destination": one, "transfer_group": "g1"}
        )
        created = made[0].created
        in_window = await client.v1.transfers.list_async(
            params={"created": {"gte": created, "lt": created + 3600}}
        )
        later = await client.v1.transfers.list_async(params={"created": {"gt": created + 3600}})
        page = await client.v1.transfers.list_async(params={"limit": 1})
        next_page = await client.v1.transfers.list_async(
            params={"limit": 5, "starting_after": page.data[0].id}
        )
        with pytest.raises(stripe.InvalidRequestError) as by_metadata:
            await client.v1.transfers.list_async(params={"metadata": {"k": "v"}})  # type: ignore[arg-type]
    assert [t.id for t in by_group.data] == [made[1].id, made[0].id]
    assert [t.id for t in by_destination.data] == [made[2].id, made[0].id]
    assert [t.id for t in both.data] == [made[0].id]
    assert len(in_window.data) == 3
    assert later.data == []
    assert (page.has_more, len(next_page.data), next_page.has_more) == (True, 2, False)
    assert by_metadata.value.code == "parameter_unknown"


async def test_connected_account_payouts_by_status_created_and_arrival(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _onboarded(stripe_fake, client)
        stripe_fake.fund(account, 3_000, "usd")
        on_acct: RequestOptions = {"stripe_account": account}
        made = [
            await client.v1.payouts.create_async(
                params={"amount": 1_000, "currency": "usd"}, options=on_acct
            )
            for _ in range(3)
        ]
        stripe_fake.pay_payout(made[0].id)
        stripe_fake.fail_payout(made[1].id)
        paid = await client.v1.payouts.list_async(params={"status": "paid"}, options=on_acct)
        pending = await client.v1.payouts.list_async(params={"status": "pending"}, options=on_acct)
        arrival = made[2].arrival_date
        arriving = await client.v1.payouts.list_async(
            params={"arrival_date": {"gte": arrival}}, options=on_acct
        )
        created = await client.v1.payouts.list_async(
            params={"created": made[2].created}, options=on_acct
        )
        first = await client.v1.payouts.list_async(params={"limit": 2}, options=on_acct)
        platform = await client.v1.payouts.list_async()
    assert [p.id for p in paid.data] == [made[0].id]
    assert [p.id for p in pending.data] == [made[2].id]
    # A paid payout's arrival_date becomes the time it arrived (now), before the others'.
    assert made[0].id not in [p.id for p in arriving.data]
    assert made[2].id in [p.id for p in arriving.data]
    assert made[2].id in [p.id for p in created.data]
    assert {p.created for p in created.data} == {made[2].created}
    assert ([p.id for p in first.data], first.has_more) == ([made[2].id, made[1].id], True)
    assert platform.data == []
