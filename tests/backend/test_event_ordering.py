"""Account events apply their own snapshot when it can be ordered against D1's watermark, and
read Stripe only when it cannot (docs/reliability.md, "Ordering account events"). Real Worker,
real Stripe fake; the gateway only counts its account reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.core.errors import Conflict
from backend.core.models import WebhookReply
from backend.core.settings import load_settings
from backend.edge.auth import Authenticator, UserContextCache
from backend.services import Services
from backend.stripe_side.stripe_events import parse_envelope
from backend.stripe_side.stripe_gateway import ConnectStripe
from backend.stripe_side.stripe_models import StripeAccount
from backend.webhooks.event_ordering import Order, order
from backend.webhooks.status_mapping import organization_fields
from backend.webhooks.webhook_processing import process_event
from backend.worker_side.worker_client import WorkerClient
from tests.fixtures.backend import backend_env
from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack


@pytest.mark.parametrize(
    ("watermark", "expected"),
    [
        (None, Order.UNKNOWN),
        (float("nan"), Order.UNKNOWN),
        (99.999, Order.NEWER),
        (100.0, Order.TIE),
        (100.999, Order.TIE),
        (101.0, Order.OLDER),
        (250.5, Order.OLDER),
    ],
)
def test_an_event_of_second_100_orders_against_the_watermark(
    watermark: float | None, expected: Order
) -> None:
    assert order(100, watermark) is expected


class CountingStripe(ConnectStripe):
    """The real gateway to the fake, counting account reads (the Stripe calls this rule saves)."""

    def __init__(self, stripe: StripeFake) -> None:
        super().__init__(stripe.api_key, api_base=stripe.url, max_network_retries=0)
        self.reads = 0

    async def retrieve_account(self, account_id: str) -> StripeAccount:
        self.reads += 1
        return await super().retrieve_account(account_id)


@pytest.fixture
async def svc(worker_stack: WorkerStack, stripe_fake: StripeFake) -> AsyncIterator[Services]:
    worker = WorkerClient(worker_stack.url, worker_stack.api_key, timeout_seconds=5)
    stripe = CountingStripe(stripe_fake)
    yield Services(
        settings=load_settings(backend_env(worker_stack, stripe_fake)),
        worker=worker,
        stripe=stripe,
        auth=Authenticator(worker, UserContextCache(ttl_seconds=0, max_entries=1)),
    )
    await stripe.close()
    await worker.close()


def reads(svc: Services) -> int:
    assert isinstance(svc.stripe, CountingStripe)
    return svc.stripe.reads


ACTIVE = {"charges_enabled": True, "payouts_enabled": True, "details_submitted": True}
PENDING = {"charges_enabled": False, "payouts_enabled": False, "details_submitted": False}


def snapshot(account_id: str, flags: dict[str, bool]) -> dict[str, Any]:
    return {"id": account_id, "object": "account", "requirements": {}, **flags}


def event(event_id: str, account_id: str, created: int, flags: dict[str, bool]) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "account.updated",
            "created": created,
            "account": account_id,
            "data": {"object": snapshot(account_id, flags)},
        }
    ).encode()


async def deliver(svc: Services, body: bytes) -> WebhookReply:
    return await process_event(svc, parse_envelope(body))


async def connected(svc: Services, worker_stack: WorkerStack, flags: dict[str, bool]) -> str:
    """An account on the fake whose org holds `flags` as of 100 s ago; returns the account id."""
    org_id = worker_stack.acme_org_id
    account = await svc.stripe.create_account(org_id, profile="express")
    await svc.worker.create_connect_account(org_id, account.id, profile="express")
    fields = organization_fields(snapshot(account.id, flags))
    await svc.worker.update_organization(org_id, fields, synced_at=time.time() - 100)
    return account.id


def stored_status(worker_stack: WorkerStack) -> str:
    row = worker_stack.row(
        'SELECT "stripe_connect_status" FROM "organization" WHERE "id" = ?',
        worker_stack.acme_org_id,
    )
    assert row is not None
    return str(row["stripe_connect_status"])


PROCESSED_ONCE = {"status": "processed", "attempts": 1}


def event_rows(worker_stack: WorkerStack, prefix: str) -> list[dict[str, Any]]:
    return worker_stack.rows(
        'SELECT "status", "attempts" FROM "connect_webhook_event" WHERE "event_id" LIKE ?',
        prefix + "%",
    )


async def test_reordered_and_duplicated_events_end_newest_without_reading_stripe(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account_id = await connected(svc, worker_stack, PENDING)
    base = int(time.time()) - 50
    bodies = [
        event(f"evt_ooo_{i}", account_id, base + i, ACTIVE if i % 2 else PENDING) for i in range(10)
    ]  # the newest (i = 9) is active
    delivered = [*reversed(bodies), *bodies]  # newest first, then every one again
    replies = [await deliver(svc, body) for body in delivered]
    assert [r.duplicate for r in replies] == [False] * 10 + [True] * 10
    assert stored_status(worker_stack) == "active"
    assert reads(svc) == 0
    assert event_rows(worker_stack, "evt_ooo_") == [PROCESSED_ONCE] * 10


async def test_in_order_events_each_apply_their_snapshot_without_reading_stripe(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account_id = await connected(svc, worker_stack, PENDING)
    base = int(time.time()) - 50
    await deliver(svc, event("evt_inorder_1", account_id, base, ACTIVE))
    assert stored_status(worker_stack) == "active"
    await deliver(svc, event("evt_inorder_2", account_id, base + 1, PENDING))
    assert stored_status(worker_stack) == "pending"
    assert reads(svc) == 0


async def test_a_same_second_burst_delivered_twice_and_reversed_ends_in_stripes_state(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    account_id = await connected(svc, worker_stack, PENDING)
    await stripe_fake.aio.complete_onboarding(account_id)  # Stripe's newest: active
    second = int(time.time()) - 10
    bodies = [
        event(f"evt_burst_{i}", account_id, second, PENDING if i % 2 else ACTIVE) for i in range(12)
    ]
    delivered = [*bodies, *reversed(bodies)]  # all at once, each twice, the second time reversed
    replies = await asyncio.gather(*(deliver(svc, b) for b in delivered), return_exceptions=True)
    busy = [body for body, r in zip(delivered, replies, strict=True) if isinstance(r, Conflict)]
    assert all(isinstance(r, WebhookReply | Conflict) for r in replies), replies
    for body in busy:  # Stripe's retry of a delivery that met the other copy's live claim
        assert (await deliver(svc, body)).duplicate
    applied = [r for r in replies if isinstance(r, WebhookReply) and not r.duplicate]
    assert len(applied) == 12
    assert all(r.handled for r in applied)
    assert stored_status(worker_stack) == "active"
    # Only the ties with another state read Stripe: never more than one read per event.
    assert 1 <= reads(svc) <= len(bodies)
    assert event_rows(worker_stack, "evt_burst_") == [PROCESSED_ONCE] * 12


async def test_a_tie_read_inside_the_events_second_waits_for_it_to_end_and_wins(
    svc: Services, worker_stack: WorkerStack
) -> None:
    """The first snapshot of second S is applied and stamped S + 0.999; a read started inside S
    could never beat that stamp, so the tie's read starts at S + 1 and Stripe's state wins."""
    account_id = await connected(svc, worker_stack, PENDING)  # Stripe's newest: pending
    await asyncio.sleep(1.02 - time.time() % 1)  # early in a second: it lasts while both land
    second = int(time.time())
    await deliver(svc, event("evt_tie_1", account_id, second, ACTIVE))
    assert stored_status(worker_stack) == "active"
    assert reads(svc) == 0
    await deliver(svc, event("evt_tie_2", account_id, second, PENDING))
    assert reads(svc) == 1
    assert time.time() >= second + 1
    assert stored_status(worker_stack) == "pending"


async def test_a_same_second_event_with_the_state_d1_holds_needs_no_read(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account_id = await connected(svc, worker_stack, PENDING)
    second = int(time.time()) - 10
    await deliver(svc, event("evt_same_1", account_id, second, ACTIVE))
    await deliver(svc, event("evt_same_2", account_id, second, ACTIVE))
    assert stored_status(worker_stack) == "active"
    assert reads(svc) == 0


async def test_no_watermark_or_no_full_account_reads_stripe(
    svc: Services, worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    org_id = worker_stack.acme_org_id
    account = await svc.stripe.create_account(org_id, profile="express")
    await svc.worker.create_connect_account(
        org_id, account.id, profile="express"
    )  # no watermark yet
    await stripe_fake.aio.complete_onboarding(account.id)
    await deliver(svc, event("evt_nowm_1", account.id, int(time.time()) - 5, PENDING))
    assert (reads(svc), stored_status(worker_stack)) == (1, "active")
    partial = json.loads(event("evt_nowm_2", account.id, int(time.time()), PENDING))
    partial["data"]["object"] = {"id": account.id, "object": "account"}  # no flags: no snapshot
    await deliver(svc, json.dumps(partial).encode())
    assert (reads(svc), stored_status(worker_stack)) == (2, "active")


async def test_a_snapshot_the_worker_refuses_is_claimed_plainly_and_recorded_rejected(
    svc: Services, worker_stack: WorkerStack
) -> None:
    account_id = await connected(svc, worker_stack, PENDING)
    body = json.loads(event("evt_refused_1", account_id, int(time.time()) - 5, ACTIVE))
    body["data"]["object"]["requirements"] = {"disabled_reason": "x" * 300}  # over the Worker's 256
    reply = await deliver(svc, json.dumps(body).encode())
    assert (reply.handled, reply.rejected) == (False, True)
    assert event_rows(worker_stack, "evt_refused_") == [{"status": "rejected", "attempts": 1}]
    assert stored_status(worker_stack) == "pending"
    assert reads(svc) == 0
