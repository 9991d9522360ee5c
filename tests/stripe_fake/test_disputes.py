"""Disputes: opened by the control API on a charge, read and answered through the official SDK,
closed won or lost; the balance moves as Stripe's does (amount + fee out, amount back on a win)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from stripe import RequestOptions

from stripe_fake.config import DISPUTE_FEE
from tests.fixtures.stripe import StripeFake, WebhookReceiver
from tests.stripe_fake.conftest import new_account


def _available(balance: stripe.Balance, currency: str = "usd") -> int:
    return {b.currency: b.amount for b in balance.available}[currency]


def _types(events: dict[str, Any], since: int = 0) -> list[str]:
    return [e["type"] for e in events["events"][since:]]


def test_dispute_fee_is_stripes_15_usd_in_minor_units() -> None:
    assert DISPUTE_FEE == 1_500


async def test_an_opened_dispute_withdraws_the_amount_and_the_fee_and_marks_the_charge(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 10_000)
    before = len((await stripe_fake.aio.events())["events"])
    opened = await stripe_fake.aio.open_dispute(charge_id, reason="product_not_received")
    async with stripe_fake.client() as client:
        dispute = await client.v1.disputes.retrieve_async(opened["id"])
        charge = await client.v1.charges.retrieve_async(charge_id)
        platform = await client.v1.balance.retrieve_async()
    assert dispute.id.startswith("du_")
    assert (dispute.amount, dispute.currency, dispute.reason, dispute.status) == (
        10_000,
        "usd",
        "product_not_received",
        "needs_response",
    )
    assert (dispute.charge, dispute.payment_intent) == (charge_id, charge.payment_intent)
    assert dispute.is_charge_refundable is False
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-10_000, 1_500, -11_500)
    assert withdrawal.reporting_category == "dispute"
    assert [(f.type, f.amount) for f in withdrawal.fee_details] == [("stripe_fee", 1_500)]
    assert charge.disputed is True
    assert _available(platform) == 10_000 - 10_000 - 1_500
    events = await stripe_fake.aio.events()
    assert _types(events, before) == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert all("account" not in e for e in events["events"][before:])


async def test_a_won_dispute_reinstates_the_amount_but_not_the_fee(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 8_000)
    opened = await stripe_fake.aio.open_dispute(charge_id, amount=3_000)
    before = len((await stripe_fake.aio.events())["events"])
    closed = await stripe_fake.aio.close_dispute(opened["id"], "won")
    async with stripe_fake.client() as client:
        platform = await client.v1.balance.retrieve_async()
    assert closed["status"] == "won"
    assert [(t["amount"], t["fee"]) for t in closed["balance_transactions"]] == [
        (-3_000, 1_500),
        (3_000, 0),
    ]
    assert closed["balance_transactions"][1]["reporting_category"] == "dispute_reversal"
    assert _available(platform) == 8_000 - 1_500
    events = await stripe_fake.aio.events()
    assert _types(events, before) == ["charge.dispute.closed", "charge.dispute.funds_reinstated"]
    assert events["events"][before]["data"]["previous_attributes"]["status"] == "needs_response"
    with pytest.raises(Exception, match="409"):
        await stripe_fake.aio.close_dispute(opened["id"], "lost")


async def test_a_lost_dispute_keeps_the_funds_withdrawn(stripe_fake: StripeFake) -> None:
    charge_id = await stripe_fake.paid("org_1", 8_000)
    opened = await stripe_fake.aio.open_dispute(charge_id)
    before = len((await stripe_fake.aio.events())["events"])
    closed = await stripe_fake.aio.close_dispute(opened["id"], "lost")
    async with stripe_fake.client() as client:
        platform = await client.v1.balance.retrieve_async()
    assert closed["status"] == "lost"
    assert len(closed["balance_transactions"]) == 1
    assert _available(platform) == -1_500
    assert _types(await stripe_fake.aio.events(), before) == ["charge.dispute.closed"]


async def test_evidence_submitted_through_the_sdk_puts_the_dispute_under_review(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 5_000)
    opened = await stripe_fake.aio.open_dispute(charge_id)
    before = len((await stripe_fake.aio.events())["events"])
    async with stripe_fake.client() as client:
        updated = await client.v1.disputes.update_async(
            opened["id"],
            {"evidence": {"uncategorized_text": "delivered"}, "metadata": {"case": "7"}},
        )
        closed = await client.v1.disputes.close_async(opened["id"])
        with pytest.raises(stripe.InvalidRequestError, match="already closed"):
            await client.v1.disputes.close_async(opened["id"])
    assert updated.status == "under_review"
    assert updated.evidence.uncategorized_text == "delivered"
    assert updated.evidence_details.has_evidence is True
    assert updated.evidence_details.submission_count == 1
    assert updated.metadata.to_dict() == {"case": "7"}
    assert closed.status == "lost"
    events = await stripe_fake.aio.events()
    assert _types(events, before) == ["charge.dispute.updated", "charge.dispute.closed"]
    assert events["events"][before]["data"]["previous_attributes"]["status"] == "needs_response"


async def test_disputes_are_listed_by_charge_and_payment_intent(stripe_fake: StripeFake) -> None:
    first = await stripe_fake.paid("org_1", 1_000)
    second = await stripe_fake.paid("org_1", 2_000)
    one = await stripe_fake.aio.open_dispute(first)
    two = await stripe_fake.aio.open_dispute(second)
    async with stripe_fake.client() as client:
        every = await client.v1.disputes.list_async()
        by_charge = await client.v1.disputes.list_async({"charge": first})
        by_intent = await client.v1.disputes.list_async({"payment_intent": two["payment_intent"]})
        unknown_filter: Any = {"status": "lost"}  # Stripe has no status filter on disputes
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            await client.v1.disputes.list_async(unknown_filter)
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await client.v1.disputes.retrieve_async("du_missing")
    assert [d.id for d in every.data] == [two["id"], one["id"]]
    assert [d.id for d in by_charge.data] == [one["id"]]
    assert [d.id for d in by_intent.data] == [two["id"]]
    assert unknown.value.code == "parameter_unknown"
    assert (missing.value.code, missing.value.http_status) == ("resource_missing", 404)


async def test_a_disputed_charge_cannot_be_refunded_or_disputed_again(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 4_000)
    opened = await stripe_fake.aio.open_dispute(charge_id)
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.refunds.create_async({"charge": charge_id})
    assert refused.value.code == "charge_disputed"
    with pytest.raises(Exception, match="409"):
        await stripe_fake.aio.open_dispute(charge_id)
    await stripe_fake.aio.close_dispute(opened["id"], "won")
    async with stripe_fake.client() as client:
        refund = await client.v1.refunds.create_async({"charge": charge_id, "amount": 1_000})
    assert refund.status == "succeeded"


async def test_the_control_refuses_bad_dispute_requests_with_clear_errors(
    stripe_fake: StripeFake,
) -> None:
    charge_id = await stripe_fake.paid("org_1", 4_000)
    async with stripe_fake.client() as client:
        await client.v1.refunds.create_async({"charge": charge_id, "amount": 1_000})
    cases = [
        (f"/_fake/charges/{charge_id}/dispute", {"amount": 3_001}, 400, "invalid_amount"),
        (f"/_fake/charges/{charge_id}/dispute", {"amount": "10"}, 400, "invalid_amount"),
        (f"/_fake/charges/{charge_id}/dispute", {"reason": "bored"}, 400, "invalid_reason"),
        ("/_fake/charges/ch_missing/dispute", {}, 404, "not_found"),
        ("/_fake/disputes/du_missing/close", {"status": "won"}, 404, "not_found"),
    ]

    async with httpx.AsyncClient(base_url=stripe_fake.url) as http:
        for path, body, status, code in cases:
            answer = await http.post(path, json=body)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
        opened = (await http.post(f"/_fake/charges/{charge_id}/dispute", json={})).json()
        assert opened["amount"] == 3_000
        bad = await http.post(f"/_fake/disputes/{opened['id']}/close", json={"status": "maybe"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_status")
    async with stripe_fake.client() as client:
        full = await stripe_fake.paid("org_1", 500)
        await client.v1.refunds.create_async({"charge": full})
    with pytest.raises(Exception, match="409"):
        await stripe_fake.aio.open_dispute(full)


async def test_dispute_events_are_delivered_signed_with_the_platform_secret(
    stripe_fake: StripeFake, webhook_receiver: WebhookReceiver
) -> None:
    await stripe_fake.aio.configure_webhooks(webhook_receiver.url, stripe_fake.webhook_secret)
    charge_id = await stripe_fake.paid("org_1", 2_500)
    opened = await stripe_fake.aio.open_dispute(charge_id)
    await stripe_fake.aio.close_dispute(opened["id"], "won")
    received = await webhook_receiver.await_for(7)  # 3 for the payment, 4 for the dispute
    types = []
    for hook in received:
        assert hook.signature is not None
        event = stripe.Webhook.construct_event(
            hook.body.decode(), hook.signature, stripe_fake.webhook_secret
        )
        types.append(event.type)
    assert [t for t in types if t.startswith("charge.dispute.")] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]


async def test_a_dispute_on_a_direct_charge_debits_the_connected_account_and_is_its_own(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        await stripe_fake.aio.complete_onboarding(account.id)
        on_account: RequestOptions = {"stripe_account": account.id}
        intent = await client.v1.payment_intents.create_async(
            {"amount": 6_000, "currency": "usd", "payment_method": "pm_card_bypassPending",
             "confirm": True},
            on_account,
        )  # fmt: skip
        assert isinstance(intent.latest_charge, str)
        opened = await stripe_fake.aio.open_dispute(intent.latest_charge)
        theirs = await client.v1.disputes.retrieve_async(opened["id"], options=on_account)
        with pytest.raises(stripe.InvalidRequestError) as not_platforms:
            await client.v1.disputes.retrieve_async(opened["id"])
        balance = await client.v1.balance.retrieve_async(options=on_account)
    assert theirs.id == opened["id"]
    assert not_platforms.value.code == "resource_missing"
    assert _available(balance) == 6_000 - 6_000 - 1_500
    disputes = [e for e in (await stripe_fake.aio.events())["events"] if "dispute" in e["type"]]
    assert [(e["type"], e.get("account")) for e in disputes] == [
        ("charge.dispute.created", account.id),
        ("charge.dispute.funds_withdrawn", account.id),
    ]
