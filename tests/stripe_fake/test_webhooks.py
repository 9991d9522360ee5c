from __future__ import annotations

import json
import time

import pytest
import stripe

from tests.fixtures.stripe import StripeFake, WebhookReceiver
from tests.stripe_fake.conftest import EXPRESS_ACCOUNT, new_account


async def test_webhook_signature_verifies_with_construct_event(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(
        webhook_receiver.url, stripe_fake.webhook_secret, stripe_fake.connect_webhook_secret
    )
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.complete_onboarding(account.id)
        stripe_fake.fund(None, 1_000, "usd")
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )
    received = await webhook_receiver.await_for(5)
    by_type: dict[str, stripe.Event] = {}
    for hook in received:
        payload = hook.body.decode()
        is_connect = "account" in json.loads(payload)
        secret = stripe_fake.connect_webhook_secret if is_connect else stripe_fake.webhook_secret
        other = stripe_fake.webhook_secret if is_connect else stripe_fake.connect_webhook_secret
        event = stripe.Webhook.construct_event(payload, hook.signature, secret)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, hook.signature, other)
        by_type[event.type] = event
    assert by_type["account.updated"].account == account.id
    assert by_type["account.updated"].data.object.charges_enabled is True
    assert by_type["capability.updated"].account == account.id
    assert "account" not in by_type["transfer.created"]
    assert hook.signature is not None
    assert hook.signature.startswith("t=")


async def test_events_are_delivered_in_creation_order_by_default(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(webhook_receiver.url)
    async with stripe_fake.client() as client:
        account = await new_account(client)
        for n in range(4):
            await client.v1.accounts.update_async(account.id, params={"metadata": {"n": str(n)}})
    received = await webhook_receiver.await_for(4)
    ns = [json.loads(h.body)["data"]["object"]["metadata"]["n"] for h in received]
    assert ns == ["0", "1", "2", "3"]


def test_out_of_order_switch_delivers_a_batch_reversed(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(webhook_receiver.url, out_of_order=True)
    with stripe_fake.sync_client() as client:
        account = client.v1.accounts.create(params=EXPRESS_ACCOUNT)
    stripe_fake.complete_onboarding(account.id)  # account.updated, then a capability event each
    received = webhook_receiver.wait_for(3)
    created = [json.loads(h.body)["id"] for h in received]
    ordered = [e["id"] for e in stripe_fake.events()["events"] if e["id"] in created]
    assert created != ordered


def test_duplicate_switch_delivers_each_event_twice(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(webhook_receiver.url, duplicate=True)
    stripe_fake.fund(None, 100, "usd")
    received = webhook_receiver.wait_for(2)
    ids = [json.loads(h.body)["id"] for h in received]
    assert len(ids) == 2
    assert ids[0] == ids[1]


def test_failed_delivery_is_retried_with_backoff(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [500, 503]
    stripe_fake.configure_webhooks(webhook_receiver.url, retry_base_seconds=0.1, max_attempts=5)
    stripe_fake.fund(None, 100, "usd")
    webhook_receiver.wait_for(3)
    deliveries = stripe_fake.wait_for_deliveries(lambda d: len(d) >= 3)
    assert [(d["attempt"], d["status"], d["ok"]) for d in deliveries] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    first_gap = deliveries[1]["delivered_at"] - deliveries[0]["delivered_at"]
    second_gap = deliveries[2]["delivered_at"] - deliveries[1]["delivered_at"]
    assert first_gap >= 0.1
    assert second_gap >= 0.2
    assert len({d["event_id"] for d in deliveries}) == 1


def test_unreachable_endpoint_is_retried_until_max_attempts(stripe_fake: StripeFake) -> None:
    stripe_fake.configure_webhooks(
        "http://127.0.0.1:9/unreachable", retry_base_seconds=0.01, max_attempts=3
    )
    stripe_fake.fund(None, 100, "usd")
    deliveries = stripe_fake.wait_for_deliveries(lambda d: len(d) >= 3)
    time.sleep(0.1)
    deliveries = stripe_fake.deliveries()["deliveries"]
    assert [d["attempt"] for d in deliveries] == [1, 2, 3]
    assert all(d["status"] is None for d in deliveries)
    assert all(d["error"] for d in deliveries)


def test_resend_redelivers_an_event(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    stripe_fake.configure_webhooks(webhook_receiver.url)
    stripe_fake.fund(None, 100, "usd")
    (first,) = webhook_receiver.wait_for(1)
    event_id = json.loads(first.body)["id"]
    stripe_fake.resend_event(event_id)
    received = webhook_receiver.wait_for(2)
    assert json.loads(received[1].body)["id"] == event_id


async def test_api_responses_do_not_wait_for_webhook_delivery(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.delay_seconds = 1.0
    stripe_fake.configure_webhooks(webhook_receiver.url)
    async with stripe_fake.client() as client:
        account = await new_account(client)
        started = time.monotonic()
        for n in range(3):
            await client.v1.accounts.update_async(account.id, params={"metadata": {"n": str(n)}})
        elapsed = time.monotonic() - started
    assert elapsed < 0.5
