"""A backend replica SIGKILLed in the middle of a webhook or a transfer (its Worker call held in the
fault proxy at the moment of death). Another replica picks the work up — after the dead one's claim
lease for webhooks, at once for transfers — and D1 ends right, with each effect once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack
from tests.reliability.conftest import eventually
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.replica import BackendProcess

UPDATE = "/api/internal/update-organization"
APPLY = "/api/internal/webhook-events/apply-organization"
COMPLETE_TRANSFER = "/api/internal/transfers/complete"


def _deliver_to(stripe: StripeFake, replica: BackendProcess) -> None:
    """Point Stripe at `replica`; automatic retries far off, so the test redelivers by hand."""
    stripe.configure_webhooks(
        replica.webhook_url,
        stripe.webhook_secret,
        stripe.connect_webhook_secret,
        retry_base_seconds=600,
    )


def _deliveries(stripe: StripeFake, event_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stripe.deliveries()["deliveries"]
    return [d for d in found if d["event_id"] == event_id]


def _auth(worker: WorkerStack, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {worker.owner.token}", **extra}


@pytest.mark.parametrize("held_write", ["dropped", "landed"])
async def test_replica_killed_mid_webhook_is_finished_by_another_after_the_lease(
    held_write: str,
    make_replica: Callable[..., BackendProcess],
    worker_proxy: FaultProxy,
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
) -> None:
    """`dropped`: the dying replica's D1 write never arrived. `landed`: it arrived after the
    replica died (the request was already on the wire). Either way one replica finishes it."""
    a, b = make_replica(), make_replica()
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{a.url}/api/connect/onboard",
            json={"organization_id": worker_stack.acme_org_id},
            headers=_auth(worker_stack),
        )
        assert r.status_code == 200, r.text
    account_id = r.json()["account_id"]

    _deliver_to(stripe_fake, a)
    worker_proxy.set("hold", paths=[UPDATE], count=1)
    stripe_fake.complete_onboarding(account_id)
    event_id = _account_updated_ids(stripe_fake, account_id)[-1]
    worker_proxy.wait_held(1)
    a.kill()
    worker_proxy.release(drop=held_write == "dropped")
    await eventually(lambda: len(_deliveries(stripe_fake, event_id)) == 1, what="the cut delivery")
    assert not _deliveries(stripe_fake, event_id)[0]["ok"]
    [claim] = worker_stack.rows(
        'SELECT * FROM "connect_webhook_event" WHERE "event_id" = ?', event_id
    )
    assert claim["status"] == "processing"  # the dead replica's claim, lease still live

    _deliver_to(stripe_fake, b)
    stripe_fake.resend_event(event_id)
    await eventually(lambda: len(_deliveries(stripe_fake, event_id)) == 2, what="resend to B")
    assert _deliveries(stripe_fake, event_id)[-1]["status"] == 409

    worker_stack.clock.advance(121)
    stripe_fake.resend_event(event_id)
    await eventually(lambda: len(_deliveries(stripe_fake, event_id)) == 3, what="resend to B")
    assert _deliveries(stripe_fake, event_id)[-1]["status"] == 200

    org = worker_stack.row('SELECT * FROM "organization" WHERE "id" = ?', worker_stack.acme_org_id)
    assert org is not None
    assert (org["stripe_connect_status"], org["onboarding_step"]) == ("active", "complete")
    [claim] = worker_stack.rows(
        'SELECT * FROM "connect_webhook_event" WHERE "event_id" = ?', event_id
    )
    assert (claim["status"], claim["attempts"]) == ("processed", 2)
    # The org write reached D1 once: from B when A's was dropped; from A alone when A's landed —
    # its read started after the event was created, so B finds the event's own state already
    # stored at a watermark the event cannot beat, and writes nothing (no Stripe read either).
    writes = worker_proxy.count(UPDATE) + worker_proxy.count(APPLY)
    assert writes == 1


def _account_updated_ids(stripe: StripeFake, account_id: str) -> list[str]:
    events: list[dict[str, Any]] = stripe.events()["events"]
    return [
        e["id"] for e in events if e["type"] == "account.updated" and e.get("account") == account_id
    ]


async def test_replica_killed_after_stripe_moved_money_is_finished_once_by_another(
    make_replica: Callable[..., BackendProcess],
    worker_proxy: FaultProxy,
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
) -> None:
    """The transfer left Stripe, then the replica died before the ledger said so. The client's
    retry (same Idempotency-Key) on another replica finds the pending row, repeats the Stripe
    call with the same Stripe idempotency key, and records the one transfer."""
    a, b = make_replica(), make_replica()
    _deliver_to(stripe_fake, a)
    org_id = worker_stack.acme_org_id
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{a.url}/api/connect/onboard",
            json={"organization_id": org_id},
            headers=_auth(worker_stack),
        )
        account_id = r.json()["account_id"]
        stripe_fake.complete_onboarding(account_id)

        def active() -> bool:
            row = worker_stack.row('SELECT * FROM "organization" WHERE "id" = ?', org_id)
            return row is not None and row["stripe_connect_status"] == "active"

        await eventually(active, what="active")
        charge = await asyncio.to_thread(stripe_fake.paid_sync, org_id, 12_345)

        request = {"organization_id": org_id, "source_transaction": charge}
        headers = _auth(worker_stack, **{"Idempotency-Key": "order-kill-1"})
        worker_proxy.set("hold", paths=[COMPLETE_TRANSFER], count=1)
        pending = client.post(f"{a.url}/api/connect/transfer", json=request, headers=headers)
        task = asyncio.ensure_future(pending)
        await asyncio.to_thread(worker_proxy.wait_held, 1)
        a.kill()
        worker_proxy.release(drop=True)
        with pytest.raises(httpx.TransportError):
            await task

        [row] = worker_stack.rows('SELECT * FROM "connect_transfer"')
        assert row["status"] == "pending"
        retry = await client.post(f"{b.url}/api/connect/transfer", json=request, headers=headers)
        assert retry.status_code == 201, retry.text

    with stripe_fake.sync_client() as stripe_client:
        transfers = stripe_client.v1.transfers.list({"limit": 100}).data
    assert len(transfers) == 1
    assert transfers[0].amount == retry.json()["net_amount"] == 12_345 - 1_235
    [row] = worker_stack.rows('SELECT * FROM "connect_transfer"')
    assert (row["status"], row["stripe_transfer_id"]) == ("succeeded", transfers[0].id)
