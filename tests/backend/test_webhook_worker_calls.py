"""How many Worker calls each webhook event type costs on its common path (issue 15: at most
two — the claim, which also returns the organization of the event's account, and one call that
writes the effect and completes the claim in the same D1 batch). Real Worker, real Stripe fake,
the real `WorkerClient`; its `on_attempt` seam records every call it starts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.core.models import WebhookReply
from backend.core.settings import load_settings
from backend.edge.auth import Authenticator, UserContextCache
from backend.services import Services
from backend.stripe_side.stripe_events import parse_envelope
from backend.stripe_side.stripe_gateway import ConnectStripe
from backend.webhooks.status_mapping import organization_fields
from backend.webhooks.webhook_processing import process_event
from backend.worker_side.worker_client import WorkerClient
from bench.soak_events import event, payout_event, transfer_event
from tests.fixtures.backend import backend_env
from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack

CLAIM = "webhook-events/claim"


class RecordingWorker(WorkerClient):
    def __init__(self, url: str, api_key: str) -> None:
        self.calls: list[str] = []
        super().__init__(url, api_key, timeout_seconds=5, on_attempt=self._record)

    def _record(self, method: str, path: str) -> None:
        self.calls.append(path.removeprefix("/api/internal/"))


@pytest.fixture
async def svc(worker_stack: WorkerStack, stripe_fake: StripeFake) -> AsyncIterator[Services]:
    worker = RecordingWorker(worker_stack.url, worker_stack.api_key)
    stripe = ConnectStripe(stripe_fake.api_key, api_base=stripe_fake.url, max_network_retries=0)
    yield Services(
        settings=load_settings(backend_env(worker_stack, stripe_fake)),
        worker=worker,
        stripe=stripe,
        auth=Authenticator(worker, UserContextCache(ttl_seconds=0, max_entries=1)),
    )
    await stripe.close()
    await worker.close()


async def calls_for(svc: Services, body: bytes) -> tuple[WebhookReply, list[str]]:
    """The reply to one event and the Worker routes it called, in order."""
    assert isinstance(svc.worker, RecordingWorker)
    svc.worker.calls.clear()
    reply = await process_event(svc, parse_envelope(body))
    return reply, list(svc.worker.calls)


def event_row(worker_stack: WorkerStack, event_id: str) -> dict[str, Any] | None:
    return worker_stack.row(
        'SELECT "status", "attempts" FROM "connect_webhook_event" WHERE "event_id" = ?', event_id
    )


PROCESSED_ONCE = {"status": "processed", "attempts": 1}
ACTIVE = {"charges_enabled": True, "payouts_enabled": True, "details_submitted": True}


async def connected(svc: Services, worker_stack: WorkerStack) -> str:
    """An account on the fake whose org (acme) holds an active state as of 100 s ago."""
    org_id = worker_stack.acme_org_id
    account = await svc.stripe.create_account(org_id, profile="express")
    await svc.worker.create_connect_account(org_id, account.id, profile="express")
    fields = organization_fields({"id": account.id, "requirements": {}, **ACTIVE})
    await svc.worker.update_organization(org_id, fields, synced_at=time.time() - 100)
    return account.id


async def test_an_account_update_with_its_snapshot_costs_one_call(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account = await connected(svc, worker_stack)
    snapshot = {"id": account, "object": "account", "requirements": {}, **ACTIVE}
    body = event(
        "evt_c_acct", "account.updated", snapshot, created=int(time.time()), account=account
    )
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM]
    assert event_row(worker_stack, "evt_c_acct") == PROCESSED_ONCE


async def test_a_payout_event_costs_two_calls(svc: Services, worker_stack: WorkerStack) -> None:
    account = await connected(svc, worker_stack)
    body = payout_event(
        "evt_c_po",
        "payout.paid",
        account_id=account,
        payout_id="po_calls",
        status="paid",
        amount=1_000,
        created=int(time.time()),
    )
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-payout"]
    assert event_row(worker_stack, "evt_c_po") == PROCESSED_ONCE


async def finished_transfer(svc: Services, worker_stack: WorkerStack, stripe_id: str) -> str:
    """A ledger row of acme, succeeded with `stripe_id`; returns its idempotency key."""
    key = f"key-{stripe_id}"
    await svc.worker.reserve_transfer(
        organization_id=worker_stack.acme_org_id,
        idempotency_key=key,
        request_hash="a" * 64,
        gross_amount=10_000,
        fee_amount=1_000,
        net_amount=9_000,
        currency="usd",
        stripe_account_id="acct_Calls1",
        reason="goodwill credit",
    )
    await svc.worker.complete_transfer(
        worker_stack.acme_org_id, key, status="succeeded", stripe_transfer_id=stripe_id
    )
    return key


def reversal(event_id: str, transfer_id: str, *, reversed_: int, **metadata: str) -> bytes:
    body = transfer_event(
        event_id,
        "transfer.reversed",
        transfer_id=transfer_id,
        destination="acct_Calls1",
        amount=9_000,
        amount_reversed=reversed_,
        created=int(time.time()),
    )
    if not metadata:
        return body
    payload = json.loads(body)
    payload["data"]["object"]["metadata"] = metadata
    return json.dumps(payload).encode()


def ledger_row(worker_stack: WorkerStack, key: str) -> dict[str, Any] | None:
    return worker_stack.row(
        'SELECT "status", "stripe_transfer_id", "amount_reversed" FROM "connect_transfer" '
        'WHERE "idempotency_key" = ?',
        key,
    )


async def test_a_transfer_event_costs_two_calls(svc: Services, worker_stack: WorkerStack) -> None:
    key = await finished_transfer(svc, worker_stack, "tr_calls1")
    reply, calls = await calls_for(svc, reversal("evt_c_tr", "tr_calls1", reversed_=9_000))
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-transfer"]
    assert event_row(worker_stack, "evt_c_tr") == PROCESSED_ONCE
    assert ledger_row(worker_stack, key) == {
        "status": "reversed",
        "stripe_transfer_id": "tr_calls1",
        "amount_reversed": 9_000,
    }


async def test_a_transfer_not_in_the_ledger_still_completes_in_two_calls(
    svc: Services, worker_stack: WorkerStack
) -> None:
    reply, calls = await calls_for(svc, reversal("evt_c_tr_x", "tr_elsewhere", reversed_=0))
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-transfer"]
    assert event_row(worker_stack, "evt_c_tr_x") == PROCESSED_ONCE


async def test_a_transfer_mismatch_is_logged_and_processed_in_two_calls_changing_nothing(
    svc: Services, worker_stack: WorkerStack, caplog: pytest.LogCaptureFixture
) -> None:
    key = await finished_transfer(svc, worker_stack, "tr_calls2")
    before = ledger_row(worker_stack, key)
    # Another Stripe transfer whose metadata names the finished row: money may have moved twice.
    tag = {"organization_id": worker_stack.acme_org_id, "idempotency_key": key}
    body = reversal("evt_c_tr_m", "tr_calls3", reversed_=0, **tag)
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-transfer"]
    assert event_row(worker_stack, "evt_c_tr_m") == PROCESSED_ONCE
    assert ledger_row(worker_stack, key) == before
    assert "names a ledger row that does not match it" in caplog.text


def deauthorized(event_id: str, account: str) -> bytes:
    application = {"id": "ca_calls", "object": "application", "name": "Platform"}
    return event(
        event_id,
        "account.application.deauthorized",
        application,
        created=int(time.time()),
        account=account,
    )


async def test_a_deauthorization_costs_two_calls_and_disables_the_org(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account = await connected(svc, worker_stack)
    reply, calls = await calls_for(svc, deauthorized("evt_c_de", account))
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/update-organization"]
    assert event_row(worker_stack, "evt_c_de") == PROCESSED_ONCE
    org = worker_stack.row(
        'SELECT "stripe_connect_status", "charges_enabled" FROM "organization" WHERE "id" = ?',
        worker_stack.acme_org_id,
    )
    assert org == {"stripe_connect_status": "disabled", "charges_enabled": 0}


async def test_an_event_of_an_account_no_organization_holds_costs_two_calls(
    svc: Services, worker_stack: WorkerStack
) -> None:
    reply, calls = await calls_for(svc, deauthorized("evt_c_de_x", "acct_NobodysCalls"))
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/complete"]
    assert event_row(worker_stack, "evt_c_de_x") == PROCESSED_ONCE


async def paid_event(
    svc: Services, stripe_fake: StripeFake, org_id: str, event_id: str, event_type: str
) -> bytes:
    charge = await stripe_fake.paid(org_id, 10_000)
    payment = await svc.stripe.retrieve_payment(charge)
    assert payment is not None
    if event_type == "charge.refunded":
        obj = {"id": charge, "object": "charge", "payment_intent": payment.payment_intent_id}
    else:
        obj = {"id": payment.payment_intent_id, "object": "payment_intent"}
    return event(event_id, event_type, obj, created=int(time.time()))


def payment_row(worker_stack: WorkerStack) -> list[dict[str, Any]]:
    return worker_stack.rows('SELECT "organization_id", "status" FROM "connect_payment"')


@pytest.mark.parametrize("event_type", ["payment_intent.succeeded", "charge.refunded"])
async def test_a_payment_event_costs_two_calls_when_no_automatic_transfer_follows(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake, event_type: str
) -> None:
    body = await paid_event(svc, stripe_fake, worker_stack.acme_org_id, "evt_c_pay", event_type)
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-payment"]
    assert event_row(worker_stack, "evt_c_pay") == PROCESSED_ONCE
    assert payment_row(worker_stack) == [
        {"organization_id": worker_stack.acme_org_id, "status": "succeeded"}
    ]


async def test_an_automatic_transfer_completes_the_claim_after_the_transfer(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    account = await connected(svc, worker_stack)
    await stripe_fake.aio.complete_onboarding(account)
    await svc.worker.set_auto_transfer(worker_stack.acme_org_id, enabled=True)
    body = await paid_event(
        svc, stripe_fake, worker_stack.acme_org_id, "evt_c_auto", "payment_intent.succeeded"
    )
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    # The record holds the claim (the organization transfers automatically, as the same batch
    # read it: no separate organization lookup), the transfer flow runs as an owner's claim
    # does (replay lookup, record, reserve, complete), and the claim completes after it.
    replay_lookup = f"transfers/{worker_stack.acme_org_id}/auto%3Api_"
    assert calls[:2] == [CLAIM, "webhook-events/apply-payment"]
    assert calls[2].startswith(replay_lookup)
    assert calls[3:] == [
        "payments/record",
        "transfers/reserve",
        "transfers/complete",
        "webhook-events/complete",
    ]
    assert event_row(worker_stack, "evt_c_auto") == PROCESSED_ONCE
    transfers = worker_stack.rows('SELECT "status", "initiated_by" FROM "connect_transfer"')
    assert transfers == [{"status": "succeeded", "initiated_by": "automatic"}]


async def test_a_payment_for_an_organization_gone_is_logged_and_processed_in_two_calls(
    svc: Services,
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = await paid_event(
        svc, stripe_fake, "org_gone_calls", "evt_c_pay_gone", "payment_intent.succeeded"
    )
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-payment"]
    assert event_row(worker_stack, "evt_c_pay_gone") == PROCESSED_ONCE
    assert payment_row(worker_stack) == []
    assert "not recorded (organization_not_found)" in caplog.text


async def test_a_dispute_of_a_payment_never_transferred_costs_two_calls(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    org_id = worker_stack.acme_org_id
    charge = await stripe_fake.paid(org_id, 10_000)
    payment = await svc.stripe.retrieve_payment(charge)
    assert payment is not None
    await svc.worker.record_payment(payment.record(org_id))
    dispute = {
        "id": "du_calls",
        "object": "dispute",
        "charge": charge,
        "amount": 10_000,
        "currency": "usd",
        "status": "needs_response",
        "balance_transactions": [{"amount": -10_000, "currency": "usd", "fee": 1_500}],
    }
    body = event("evt_c_du", "charge.dispute.funds_withdrawn", dispute, created=int(time.time()))
    reply, calls = await calls_for(svc, body)
    assert reply == WebhookReply()
    assert calls == [CLAIM, "webhook-events/apply-dispute"]
    assert event_row(worker_stack, "evt_c_du") == PROCESSED_ONCE


async def test_a_refund_of_a_transferred_payment_adds_the_calls_its_reversal_needs(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    """The common path stays two calls; a refund that reverses a transfer holds its claim and
    adds: the payment's state, the reservation, Stripe's answer (one Stripe reversal between
    them), and the claim's completion."""
    from backend.core.models import TransferRequest
    from backend.ledger.transfer_flow import transfer

    account = await connected(svc, worker_stack)
    await stripe_fake.aio.complete_onboarding(account)
    org = await svc.worker.get_organization(worker_stack.acme_org_id)
    charge = await stripe_fake.paid(org.id, 10_000)
    body = TransferRequest(organization_id=org.id, source_transaction=charge)
    await transfer(svc, org, key="calls-1", body=body, initiated_by="member")
    async with stripe_fake.client() as sdk:
        await sdk.v1.refunds.create_async({"charge": charge})
    refunded = await paid_refund_event(svc, charge, "evt_c_ref")
    reply, calls = await calls_for(svc, refunded)
    assert reply == WebhookReply()
    assert calls == [
        CLAIM,
        "webhook-events/apply-payment",
        f"returns/{charge}",
        "returns/reserve",
        "returns/complete",
        "webhook-events/complete",
    ]
    assert event_row(worker_stack, "evt_c_ref") == PROCESSED_ONCE


async def paid_refund_event(svc: Services, charge: str, event_id: str) -> bytes:
    payment = await svc.stripe.retrieve_payment(charge)
    assert payment is not None
    obj = {"id": charge, "object": "charge", "payment_intent": payment.payment_intent_id}
    return event(event_id, "charge.refunded", obj, created=int(time.time()))
