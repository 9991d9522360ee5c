"""The Events API as a recovery job reads it: filters, scoping, pages, and `delivery_success`
that tells which events no endpoint has taken yet."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import stripe
from stripe import RequestOptions

from tests.fixtures.stripe import StripeFake, WebhookReceiver
from tests.stripe_fake.conftest import new_account


def _ids(listed: Any) -> list[str]:
    return [e.id for e in listed.data]


async def _platform_events(stripe_fake: StripeFake, client: stripe.StripeClient, n: int) -> str:
    """`n` platform `transfer.created` events (plus one connected account); returns the account."""
    account = await new_account(client)
    stripe_fake.complete_onboarding(account.id)
    stripe_fake.fund(None, 100 * n + 1_000, "usd")
    for _ in range(n):
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )
    return account.id


async def test_events_list_newest_first_with_pages(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        await _platform_events(stripe_fake, client, 5)
        first = await client.v1.events.list_async(params={"limit": 2})
        second = await client.v1.events.list_async(
            params={"limit": 2, "starting_after": first.data[-1].id}
        )
        rest = await client.v1.events.list_async(
            params={"limit": 10, "starting_after": second.data[-1].id}
        )
        back = await client.v1.events.list_async(
            params={"limit": 2, "ending_before": rest.data[0].id}
        )
        everything = await client.v1.events.list_async(params={"limit": 100})
    platform = [e["id"] for e in stripe_fake.events()["events"] if "account" not in e]
    assert _ids(everything) == list(reversed(platform))
    assert _ids(first) + _ids(second) + _ids(rest) == _ids(everything)
    assert (first.has_more, second.has_more, rest.has_more) == (True, True, False)
    assert _ids(back) == _ids(second)


async def test_type_types_and_created_filters(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        await _platform_events(stripe_fake, client, 2)
        await client.v1.payouts.create_async(params={"amount": 50, "currency": "usd"})
        transfers = await client.v1.events.list_async(params={"type": "transfer.created"})
        prefix = await client.v1.events.list_async(params={"type": "payout.*"})
        several = await client.v1.events.list_async(
            params={"types": ["payout.created", "transfer.created"]}
        )
        newest = transfers.data[0]
        exact = await client.v1.events.list_async(params={"created": newest.created})
        after = await client.v1.events.list_async(params={"created": {"gt": newest.created}})
        window = await client.v1.events.list_async(
            params={"created": {"gte": newest.created - 60, "lte": newest.created}}
        )
        with pytest.raises(stripe.InvalidRequestError) as both:
            await client.v1.events.list_async(
                params={"type": "payout.created", "types": ["transfer.created"]}
            )
    assert [e.type for e in transfers.data] == ["transfer.created"] * 2
    assert [e.type for e in prefix.data] == ["payout.created"]
    assert sorted(e.type for e in several.data) == ["payout.created"] + ["transfer.created"] * 2
    assert newest.id in _ids(exact)
    assert all(e.created == newest.created for e in exact.data)
    assert after.data == []
    assert len(window.data) == 4  # balance.available, 2 transfer.created, payout.created
    assert both.value.http_status == 400


async def test_connected_account_events_only_with_its_stripe_account(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await _platform_events(stripe_fake, client, 1)
        connected = await client.v1.events.list_async(options={"stripe_account": account})
        platform = await client.v1.events.list_async()
        one = connected.data[0]
        fetched = await client.v1.events.retrieve_async(one.id, options={"stripe_account": account})
        with pytest.raises(stripe.InvalidRequestError) as elsewhere:
            await client.v1.events.retrieve_async(one.id)
    assert {e.account for e in connected.data} == {account}
    assert {"account.updated", "capability.updated"} <= {e.type for e in connected.data}
    assert all("account" not in e for e in platform.data)
    assert fetched.id == one.id
    assert elsewhere.value.http_status == 404


async def test_delivery_success_tells_events_no_endpoint_took(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(webhook_receiver.url)
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.pause_webhooks()
        stripe_fake.complete_onboarding(account.id)
        on_acct: RequestOptions = {"stripe_account": account.id}
        await asyncio.sleep(0.1)  # time a (wrong) delivery would need
        missed = await client.v1.events.list_async(
            params={"delivery_success": False}, options=on_acct
        )
        stripe_fake.resume_webhooks()
        await client.v1.accounts.update_async(account.id, params={"metadata": {"n": "1"}})
        await webhook_receiver.await_for(1)
        stripe_fake.wait_for_deliveries(lambda found: any(d["ok"] for d in found))
        delivered = await client.v1.events.list_async(
            params={"delivery_success": True}, options=on_acct
        )
        still_missed = await client.v1.events.list_async(
            params={"delivery_success": False}, options=on_acct
        )
        stripe_fake.resend_event(missed.data[0].id)
        await webhook_receiver.await_for(2)
        stripe_fake.wait_for_deliveries(lambda found: len([d for d in found if d["ok"]]) == 2)
        after_resend = await client.v1.events.list_async(
            params={"delivery_success": False}, options=on_acct
        )
    assert {e.type for e in missed.data} == {"account.updated", "capability.updated"}
    assert all(e.pending_webhooks == 1 for e in missed.data)
    assert [e.type for e in delivered.data] == ["account.updated"]
    assert delivered.data[0].pending_webhooks == 0
    assert _ids(still_missed) == _ids(missed)
    assert _ids(after_resend) == _ids(missed)[1:]
    assert len(webhook_receiver.received) == 2


async def test_failed_deliveries_stay_pending_until_a_retry_succeeds(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [500, 500]
    stripe_fake.configure_webhooks(webhook_receiver.url, retry_base_seconds=0.2, max_attempts=3)
    async with stripe_fake.client() as client:
        account = await new_account(client)
        await client.v1.accounts.update_async(account.id, params={"metadata": {"n": "1"}})
        await webhook_receiver.await_for(1)
        pending = await client.v1.events.list_async(
            params={"delivery_success": False}, options={"stripe_account": account.id}
        )
        await webhook_receiver.await_for(3)
        stripe_fake.wait_for_deliveries(lambda found: any(d["ok"] for d in found))
        done = await client.v1.events.list_async(
            params={"delivery_success": True}, options={"stripe_account": account.id}
        )
    assert [e.type for e in pending.data] == ["account.updated"]
    assert _ids(done) == _ids(pending)


async def test_without_an_endpoint_nothing_is_pending(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        await _platform_events(stripe_fake, client, 1)
        missed = await client.v1.events.list_async(params={"delivery_success": False})
        listed = await client.v1.events.list_async(params={"delivery_success": True})
    assert missed.data == []
    assert {e.type for e in listed.data} == {"balance.available", "transfer.created"}
    assert {e.pending_webhooks for e in listed.data} == {0}
