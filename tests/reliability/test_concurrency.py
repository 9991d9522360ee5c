"""Concurrency at the volume and process level: onboarding clicks spread over two replica
processes, one webhook hitting two processes at once, and 100 distinct events delivered shuffled,
duplicated and out of order. (One backend with 20 clicks is in tests/backend/.)"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable
from typing import Any

import httpx

from bench.soak_events import account_updated, event, payout_event, transfer_event
from tests.fixtures.backend import BackendStack
from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack
from tests.reliability.conftest import deliver, eventually, org_row, stop_webhooks
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.replica import BackendProcess

UPDATE = "/api/internal/update-organization"
RESERVE = "/api/internal/transfers/reserve"


async def test_twenty_clicks_over_two_replica_processes_make_one_connect_account(
    make_replica: Callable[..., BackendProcess],
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
) -> None:
    replicas = [make_replica(), make_replica()]
    headers = {"Authorization": f"Bearer {worker_stack.owner.token}"}
    body = {"organization_id": worker_stack.acme_org_id}
    async with httpx.AsyncClient(timeout=30) as client:
        replies = await asyncio.gather(
            *(
                client.post(
                    f"{replicas[i % 2].url}/api/connect/onboard", json=body, headers=headers
                )
                for i in range(20)
            )
        )
    assert [r.status_code for r in replies] == [200] * 20, [r.text for r in replies]
    account_ids = {r.json()["account_id"] for r in replies}
    assert len(account_ids) == 1
    assert len({r.json()["url"] for r in replies}) == 20  # a fresh link per click
    with stripe_fake.sync_client() as stripe_client:
        accounts = stripe_client.v1.accounts.list({"limit": 100}).data
    assert [a.id for a in accounts] == list(account_ids)
    row = worker_stack.row(
        'SELECT "stripe_connect_account_id" FROM "organization" WHERE "id" = ?',
        worker_stack.acme_org_id,
    )
    assert row == {"stripe_connect_account_id": accounts[0].id}


async def test_one_webhook_delivered_to_two_processes_at_once_has_one_effect(
    make_replica: Callable[..., BackendProcess],
    worker_proxy: FaultProxy,
    worker_stack: WorkerStack,
    stripe_fake: StripeFake,
) -> None:
    a, b = make_replica(), make_replica()
    stop_webhooks(stripe_fake)
    secret = stripe_fake.connect_webhook_secret
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(
            f"{a.url}/api/connect/onboard",
            json={"organization_id": worker_stack.acme_org_id},
            headers={"Authorization": f"Bearer {worker_stack.owner.token}"},
        )
        account_id = r.json()["account_id"]
        transitions = [stripe_fake.submit_details, stripe_fake.complete_onboarding]
        transitions += [stripe_fake.restrict, stripe_fake.complete_onboarding] * 4
        created = 1_800_000_000
        for round_no, transition in enumerate(transitions):
            transition(account_id)
            event_id = f"evt_rel_twice_{round_no}"
            payload = account_updated(event_id, account_id, created=created + round_no)
            writes_before = worker_proxy.count(UPDATE)
            first, second = await asyncio.gather(
                deliver(client, a.webhook_url, payload, secret),
                deliver(client, b.webhook_url, payload, secret),
            )
            statuses = sorted([first.status_code, second.status_code])
            assert statuses in ([200, 200], [200, 409]), (first.text, second.text)
            # Stripe retries whichever was refused; by now that is a recorded duplicate.
            again = await deliver(client, b.webhook_url, payload, secret)
            assert again.json() == {"received": True, "duplicate": True, "handled": True}
            assert worker_proxy.count(UPDATE) - writes_before == 1
            [row] = worker_stack.rows(
                'SELECT * FROM "connect_webhook_event" WHERE "event_id" = ?', event_id
            )
            assert (row["status"], row["attempts"]) == ("processed", 1)

    with stripe_fake.sync_client() as stripe_client:
        account = stripe_client.v1.accounts.retrieve(account_id)
    org = worker_stack.row('SELECT * FROM "organization" WHERE "id" = ?', worker_stack.acme_org_id)
    assert org is not None
    assert org["stripe_connect_status"] == "active"
    assert bool(org["charges_enabled"]) is account.charges_enabled is True


def _schedule(
    rng: random.Random, order: list[str], *, at_once: list[str], later: list[str]
) -> list[list[str]]:
    """Stripe's at-least-once delivery of `order`: each of `at_once` twice at the same moment,
    each of `later` again at a random later point."""
    deliveries = [[event_id] for event_id in order]
    for event_id in at_once:
        deliveries[order.index(event_id)].append(event_id)
    for event_id in later:
        deliveries.insert(rng.randrange(order.index(event_id) + 1, len(deliveries) + 1), [event_id])
    return deliveries


async def _deliver_all(
    client: httpx.AsyncClient,
    url: str,
    events: dict[str, tuple[bytes, str]],
    deliveries: list[list[str]],
) -> list[str]:
    """Each batch at once, 8 batches at a time: every delivery is 200, or 409 while another
    holds the claim — Stripe retries that one later, and then it is a recorded duplicate.
    Returns the event ids of the refused (and retried) deliveries."""
    semaphore = asyncio.Semaphore(8)
    refused: list[str] = []

    async def send(batch: list[str]) -> None:
        async with semaphore:
            replies = await asyncio.gather(*(deliver(client, url, *events[e]) for e in batch))
        for event_id, reply in zip(batch, replies, strict=True):
            assert reply.status_code in (200, 409), (event_id, reply.status_code, reply.text)
            if reply.status_code == 409:
                refused.append(event_id)

    await asyncio.gather(*(send(batch) for batch in deliveries))
    for event_id in refused:
        assert (await deliver(client, url, *events[event_id])).json()["duplicate"] is True
    return refused


async def _activate(client: httpx.AsyncClient, stack: BackendStack, who: str, org_id: str) -> str:
    r = await client.post(
        f"{stack.url}/api/connect/onboard",
        json={"organization_id": org_id},
        headers=stack.auth(who),
    )
    assert r.status_code == 200, r.text
    account_id: str = r.json()["account_id"]
    stack.stripe.complete_onboarding(account_id)
    await eventually(
        lambda: org_row(stack, org_id)["stripe_connect_status"] == "active", what="active"
    )
    return account_id


async def test_hundred_events_shuffled_duplicated_and_out_of_order_end_at_the_newest_state(
    proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """20 `account.updated` (two accounts), 40 `payout.*` (8 payouts × 5 states), 40
    `transfer.updated` (4 transfers × 10 growing reversals): each with a distinct `created`,
    delivered in random order, 30 of them twice (10 of those at the same moment)."""
    stack = proxied_backend
    rng = random.Random(20261127)
    acme = await _activate(client, stack, "owner", stack.org_id)
    globex = await _activate(client, stack, "outsider", stack.other_org_id)
    transfers: list[dict[str, Any]] = []
    for n in range(4):
        charge = await stack.stripe.paid(stack.org_id, 10_000)
        r = await client.post(
            f"{stack.url}/api/connect/transfer",
            json={"organization_id": stack.org_id, "source_transaction": charge},
            headers=stack.auth("owner", Idempotency_Key=f"rel-order-{n}"),
        )
        assert r.status_code == 201, r.text
        transfers.append(r.json())
    stop_webhooks(stack.stripe)
    # The accounts' newest states, which every account.updated re-reads whatever its payload.
    stack.stripe.restrict(acme)
    stack.stripe.submit_details(globex)

    base = 1_800_000_000
    events: dict[str, tuple[bytes, str]] = {}  # id → (payload, secret)
    connect, platform = stack.stripe.connect_webhook_secret, stack.stripe.webhook_secret
    for n in range(20):
        account = (acme, globex)[n % 2]
        events[f"evt_rel_acct_{n}"] = (
            account_updated(f"evt_rel_acct_{n}", account, created=base + n),
            connect,
        )
    newest_payout: dict[str, str] = {}
    lifecycle = [
        ("payout.created", "pending"),
        ("payout.updated", "in_transit"),
        ("payout.updated", "in_transit"),
        ("payout.paid", "paid"),
        ("payout.failed", "failed"),
    ]
    for p in range(8):
        steps = lifecycle if p % 2 == 0 else [*lifecycle[:3], lifecycle[4], lifecycle[3]]
        for s, (event_type, status) in enumerate(steps):
            event_id = f"evt_rel_po_{p}_{s}"
            events[event_id] = (
                payout_event(
                    event_id,
                    event_type,
                    account_id=acme,
                    payout_id=f"po_rel_{p}",
                    status=status,
                    amount=1_000 + p,
                    created=base + 100 + p * 10 + s,
                ),
                connect,
            )
            newest_payout[f"po_rel_{p}"] = status
    for t, tr in enumerate(transfers):
        for s in range(10):
            event_id = f"evt_rel_tr_{t}_{s}"
            events[event_id] = (
                transfer_event(
                    event_id,
                    "transfer.updated",
                    transfer_id=tr["stripe_transfer_id"],
                    destination=acme,
                    amount=tr["net_amount"],
                    amount_reversed=100 * s,
                    created=base + 200 + t * 10 + s,
                ),
                platform,
            )
    assert len(events) == 100

    order = list(events)
    rng.shuffle(order)
    duplicates = rng.sample(order, 30)
    deliveries = _schedule(rng, order, at_once=duplicates[:10], later=duplicates[10:])
    writes_before = {p: worker_proxy.count(p) for p in _EFFECT_PATHS}
    await _deliver_all(client, stack.webhook_url, events, deliveries)

    ledger = stack.worker.rows(
        'SELECT * FROM "connect_webhook_event" WHERE "event_id" LIKE ?', "evt_rel_%"
    )
    assert sorted(r["event_id"] for r in ledger) == sorted(events)
    assert {(r["status"], r["attempts"]) for r in ledger} == {("processed", 1)}
    effects = {p: worker_proxy.count(p) - writes_before[p] for p in _EFFECT_PATHS}
    assert effects == {
        UPDATE: 20,
        "/api/internal/webhook-events/apply-payout": 40,
        "/api/internal/webhook-events/apply-transfer": 40,
    }
    # A payout or transfer event: the claim, then one call that writes it and completes the claim.
    for prefix in ("evt_rel_po_", "evt_rel_tr_"):
        assert _claims_of(worker_proxy, prefix, COMPLETE) == 0

    with stack.stripe.sync_client() as stripe_client:
        for account_id, org_id in ((acme, stack.org_id), (globex, stack.other_org_id)):
            stripe_account = stripe_client.v1.accounts.retrieve(account_id)
            org = org_row(stack, org_id)
            assert bool(org["charges_enabled"]) is stripe_account.charges_enabled
            assert bool(org["payouts_enabled"]) is stripe_account.payouts_enabled
            assert bool(org["details_submitted"]) is stripe_account.details_submitted
            past_due = stripe_account["requirements"]["past_due"]
            assert json.loads(org["requirements_past_due"]) == list(past_due)
    assert org_row(stack)["stripe_connect_status"] != "active"  # restricted won
    payouts = {
        r["stripe_payout_id"]: r["status"]
        for r in stack.worker.rows('SELECT * FROM "connect_payout"')
    }
    assert payouts == newest_payout
    reversed_amounts = {
        r["stripe_transfer_id"]: r["amount_reversed"]
        for r in stack.worker.rows('SELECT * FROM "connect_transfer"')
    }
    assert reversed_amounts == {tr["stripe_transfer_id"]: 900 for tr in transfers}


_EFFECT_PATHS = (
    UPDATE,
    "/api/internal/webhook-events/apply-payout",
    "/api/internal/webhook-events/apply-transfer",
)


async def test_one_payment_claimed_with_ten_keys_over_two_replica_processes_moves_once(
    make_replica: Callable[..., BackendProcess],
    proxied_backend: BackendStack,
    worker_proxy: FaultProxy,
    client: httpx.AsyncClient,
) -> None:
    """Every request reads the whole payment as left; their reservations are then held at the
    proxy until all ten have arrived and released together into the Worker. Only the ledger's
    conditional write decides, and it lets exactly one take the payment."""
    stack = proxied_backend
    await _activate(client, stack, "owner", stack.org_id)
    charge = await stack.stripe.paid(stack.org_id, 30_000)
    replicas = [make_replica(), make_replica()]
    worker_proxy.set("hold", paths=[RESERVE], count=10)
    calls = [
        client.post(
            f"{replicas[i % 2].url}/api/connect/transfer",
            json={"organization_id": stack.org_id, "source_transaction": charge},
            headers=stack.auth("owner", Idempotency_Key=f"race-{i}"),
        )
        for i in range(10)
    ]
    pending = asyncio.gather(*calls)
    await asyncio.to_thread(worker_proxy.wait_held, 10, timeout=20)
    worker_proxy.release()
    replies = await pending
    outcomes = sorted((r.status_code, r.json().get("error", {}).get("code")) for r in replies)
    assert outcomes == [(201, None)] + [(409, "source_exhausted")] * 9, outcomes
    assert worker_proxy.count(RESERVE) == 10
    async with stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"limit": 100})
    assert [t.amount for t in listed.data if t.source_transaction == charge] == [27_000]
    rows = stack.worker.rows("SELECT gross_amount, source_seq FROM connect_transfer")
    assert rows == [{"gross_amount": 30_000, "source_seq": 1}]


CLAIM = "/api/internal/webhook-events/claim"
APPLY_ORG = "/api/internal/webhook-events/apply-organization"
APPLY_PAYOUT = "/api/internal/webhook-events/apply-payout"
COMPLETE = "/api/internal/webhook-events/complete"


def _claims_of(proxy: FaultProxy, prefix: str, path: str) -> int:
    """Worker calls to `path` whose body names an event id starting with `prefix`."""
    return sum(
        1
        for s in list(proxy.seen)
        if s.path == path
        and s.outcome == "forwarded"
        and json.loads(s.body or b"{}").get("event_id", "").startswith(prefix)
    )


async def test_a_same_second_burst_shuffled_and_duplicated_ends_at_stripes_state_in_two_calls(
    make_backend: Callable[..., BackendStack],
    worker_proxy: FaultProxy,
    stripe_fake: StripeFake,
    client: httpx.AsyncClient,
) -> None:
    """Twelve `account.updated` carrying whole accounts and twelve `payout.*`, all stamped with
    one `created` second, delivered in random order with half of them twice (some at the same
    moment). Time cannot order them: the account ends in Stripe's state (ties with another state
    read Stripe, never more than once per event), each payout at the state furthest along, every
    event is applied once, and a payout event costs the claim plus one write that completes it."""
    host, port = stripe_fake.url.removeprefix("http://").split(":")
    stripe_proxy = FaultProxy(host, int(port)).start()
    try:
        stack = make_backend(
            env={"WORKER_URL": worker_proxy.url, "STRIPE_API_BASE": stripe_proxy.url}
        )
        acme = await _activate(client, stack, "owner", stack.org_id)
        stop_webhooks(stack.stripe)
        auth = {"Authorization": f"Bearer {stripe_fake.api_key}"}
        account_url = f"{stripe_fake.url}/v1/accounts/{acme}"
        active = (await client.get(account_url, headers=auth)).json()
        stack.stripe.restrict(acme)  # Stripe's newest state: restricted
        restricted = (await client.get(account_url, headers=auth)).json()
        assert active["charges_enabled"] != restricted["charges_enabled"]
        # The second after D1's watermark: the snapshots are newer than D1, tied with each other.
        second = math.floor(org_row(stack)["stripe_synced_at"]) + 1
        connect = stack.stripe.connect_webhook_secret
        events: dict[str, bytes] = {}
        for n in range(12):
            snapshot = (active, restricted)[n % 2]
            events[f"evt_ss_acct_{n}"] = event(
                f"evt_ss_acct_{n}", "account.updated", snapshot, created=second, account=acme
            )
        newest_payout = {}
        for p in range(4):
            lifecycle = [("payout.created", "pending"), ("payout.updated", "in_transit")]
            lifecycle.append(("payout.paid", "paid") if p % 2 else ("payout.failed", "failed"))
            for s, (event_type, status) in enumerate(lifecycle):
                event_id = f"evt_ss_po_{p}_{s}"
                events[event_id] = payout_event(
                    event_id,
                    event_type,
                    account_id=acme,
                    payout_id=f"po_ss_{p}",
                    status=status,
                    amount=2_000 + p,
                    created=second,
                )
            newest_payout[f"po_ss_{p}"] = lifecycle[-1][1]

        rng = random.Random(20261130)
        order = list(events)
        rng.shuffle(order)
        twice = rng.sample(order, len(order) // 2)
        deliveries = _schedule(
            rng, order, at_once=twice[0::3], later=[e for n, e in enumerate(twice) if n % 3]
        )
        stripe_proxy.seen.clear()
        signed = {event_id: (body, connect) for event_id, body in events.items()}
        refused = await _deliver_all(client, stack.webhook_url, signed, deliveries)
    finally:
        stripe_proxy.stop()

    ledger = stack.worker.rows(
        'SELECT * FROM "connect_webhook_event" WHERE "event_id" LIKE ?', "evt_ss_%"
    )
    assert sorted(r["event_id"] for r in ledger) == sorted(events)
    assert {(r["status"], r["attempts"]) for r in ledger} == {("processed", 1)}
    org = org_row(stack)
    assert bool(org["charges_enabled"]) is restricted["charges_enabled"]
    assert bool(org["payouts_enabled"]) is restricted["payouts_enabled"]
    assert json.loads(org["requirements_past_due"]) == restricted["requirements"]["past_due"]
    assert org["stripe_connect_status"] != "active"
    reads = [s for s in stripe_proxy.seen if s.path.startswith(f"/v1/accounts/{acme}")]
    assert 1 <= len(reads) <= 12
    payouts = {
        r["stripe_payout_id"]: r["status"]
        for r in stack.worker.rows('SELECT * FROM "connect_payout"')
    }
    assert payouts == newest_payout
    # Each payout event: the claim, then one call that writes the payout and completes the claim.
    assert _claims_of(worker_proxy, "evt_ss_po_", APPLY_PAYOUT) == 12
    assert _claims_of(worker_proxy, "evt_ss_po_", COMPLETE) == 0
    payout_deliveries = sum(1 for batch in deliveries for e in batch if e.startswith("evt_ss_po_"))
    payout_retries = sum(1 for e in refused if e.startswith("evt_ss_po_"))
    assert _claims_of(worker_proxy, "evt_ss_po_", CLAIM) == payout_deliveries + payout_retries
