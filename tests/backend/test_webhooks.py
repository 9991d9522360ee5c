from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from backend.core.settings import load_settings
from backend.edge.auth import Authenticator, UserContextCache
from backend.services import Services
from backend.stripe_side.stripe_gateway import ConnectStripe
from backend.stripe_side.stripe_models import StripeAccount
from backend.stripe_side.webhook_verification import sign_header
from backend.webhooks.status_mapping import organization_fields
from backend.webhooks.sync import sync_account
from backend.webhooks.webhook_handlers import HANDLERS, Event
from backend.worker_side.worker_client import WorkerClient
from devstack.ports import free_port
from tests.backend.conftest import eventually, onboard, settle_webhooks, status_of
from tests.fixtures.backend import BackendStack, backend_env
from tests.fixtures.stripe import StripeFake
from tests.fixtures.worker import WorkerStack

Activated = Callable[[], Awaitable[str]]


def signed(
    stack: BackendStack, event: dict[str, Any], *, secret: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    header = sign_header(body, secret=secret or stack.stripe.connect_webhook_secret)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def event_row(stack: BackendStack, event_id: str) -> dict[str, Any] | None:
    return stack.worker.row(
        "SELECT status, attempts FROM connect_webhook_event WHERE event_id = ?", event_id
    )


def account_event(account_id: str, *, created: int, event_id: str, **obj: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": "account.updated",
        "created": created,
        "account": account_id,
        "data": {"object": {"id": account_id, "object": "account", **obj}},
    }


async def test_bad_or_missing_signatures_are_refused_and_logged_without_secrets(
    client: httpx.AsyncClient, backend_stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    event = account_event("acct_x", created=int(time.time()), event_id="evt_bad1")
    body, headers = signed(backend_stack, event, secret="whsec_not_ours")
    caplog.set_level(logging.WARNING, logger="backend.webhooks")
    for h in (headers, {}, {"Stripe-Signature": "t=1,v1=00"}):
        r = await client.post("/api/connect/webhook", content=body, headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_signature")
    assert event_row(backend_stack, "evt_bad1") is None
    logged = caplog.text
    assert "type=account.updated" in logged
    assert "reason=no_matching_signature" in logged
    assert "whsec_" not in logged
    assert "acct_x" not in logged


async def test_every_configured_secret_is_accepted(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for n, secret in enumerate(backend_stack.settings.webhook_secrets):
        event = {
            "id": f"evt_unhandled{n}",
            "type": "customer.created",
            "created": 1,
            "data": {"object": {}},
        }
        body, headers = signed(backend_stack, event, secret=secret)
        r = await client.post("/api/connect/webhook", content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"received": True, "duplicate": False, "handled": False}


async def test_malformed_signed_events_are_recorded_as_rejected_and_acknowledged(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for raw in (b"not json", b"[]", b'{"id": "evt_1", "type": "account.updated"}'):
        header = sign_header(raw, secret=backend_stack.stripe.webhook_secret)
        r = await client.post(
            "/api/connect/webhook", content=raw, headers={"Stripe-Signature": header}
        )
        assert r.status_code == 200, raw
        assert r.json()["rejected"] is True
    rows = backend_stack.worker.rows(
        "SELECT event_id, status FROM connect_webhook_event ORDER BY received_at"
    )
    assert [r["status"] for r in rows] == ["rejected"] * 3
    assert rows[2]["event_id"] == "evt_1"  # a sane id is kept, so Stripe's redelivery dedupes


async def test_replayed_event_is_applied_once_and_answered_as_duplicate(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    account_id = await onboard(client, backend_stack)
    event = account_event(account_id, created=int(time.time()), event_id="evt_replay1")
    body, headers = signed(backend_stack, event)
    first = await client.post("/api/connect/webhook", content=body, headers=headers)
    assert first.json() == {"received": True, "duplicate": False, "handled": True}
    for _ in range(3):
        again = await client.post("/api/connect/webhook", content=body, headers=headers)
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
    assert event_row(backend_stack, "evt_replay1") == {"status": "processed", "attempts": 1}


async def test_late_stale_event_cannot_flip_an_active_account_back(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    stale = account_event(
        account_id,
        created=int(time.time()) - 120,
        event_id="evt_stale1",
        details_submitted=False,
        charges_enabled=False,
        payouts_enabled=False,
    )
    body, headers = signed(backend_stack, stale)
    r = await client.post("/api/connect/webhook", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert (await status_of(client, backend_stack))["stripe_connect_status"] == "active"


async def test_duplicated_and_reordered_deliveries_end_in_the_latest_state(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    stripe = backend_stack.stripe
    stripe.configure_webhooks(
        backend_stack.webhook_url,
        stripe.webhook_secret,
        stripe.connect_webhook_secret,
        out_of_order=True,
        duplicate=True,
    )
    account_id = await onboard(client, backend_stack)
    await stripe.aio.submit_details(account_id)
    await stripe.aio.complete_onboarding(account_id)

    await settle_webhooks(backend_stack)  # every emitted event answered 2xx at least once
    status = await status_of(client, backend_stack)
    assert (status["stripe_connect_status"], status["onboarding_step"]) == ("active", "complete")
    rows = backend_stack.worker.rows("SELECT status, attempts FROM connect_webhook_event")
    assert rows
    # A delivery that met a busy claim is retried by Stripe; what counts: all ended processed.
    assert all(r["status"] == "processed" for r in rows), rows


async def _burst_within_one_second(stack: BackendStack, account_id: str) -> list[dict[str, Any]]:
    """Six changes to the account as fast as the fake takes them, started at the top of a second:
    their events (whole accounts, different states) share one `created` second. Returns every
    event the burst emitted, oldest first."""
    stripe = stack.stripe.aio
    for _ in range(3):  # a loaded machine may straddle a second boundary; then go again
        before = {e["id"] for e in (await stripe.events())["events"]}
        await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)
        await stripe.submit_details(account_id)
        await stripe.complete_onboarding(account_id)
        await stripe.set_payout_schedule(account_id, interval="weekly", weekly_anchor="friday")
        await stripe.restrict(account_id)
        await stripe.complete_onboarding(account_id)
        await stripe.set_payout_schedule(account_id, interval="daily")
        burst = [e for e in (await stripe.events())["events"] if e["id"] not in before]
        seconds = Counter(e["created"] for e in burst if e["type"] == "account.updated")
        if max(seconds.values()) >= 4:
            return burst  # the fake lists its events oldest first
        await settle_webhooks(stack)
    raise AssertionError(f"no second held four of the burst's events: {seconds}")


# The fake holds the burst as one batch, which `out_of_order` reverses and `duplicate` doubles.
@pytest.mark.parametrize("fresh_stripe_fake", [{"batch_window_seconds": 1.5}], indirect=True)
async def test_a_same_second_burst_delivered_reversed_and_twice_ends_in_stripes_state(
    make_backend: Callable[..., BackendStack], fresh_stripe_fake: StripeFake
) -> None:
    """The fake's `out_of_order` and `duplicate` switches on a burst whose events share one
    second, so only Stripe can order them: every event is processed once and D1 ends exactly at
    the account as Stripe holds it."""
    stack = make_backend(stripe=fresh_stripe_fake)
    stripe = fresh_stripe_fake
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        account_id = await onboard(client, stack)
        await settle_webhooks(stack)
        stripe.configure_webhooks(
            stack.webhook_url,
            stripe.webhook_secret,
            stripe.connect_webhook_secret,
            out_of_order=True,
            duplicate=True,
        )
        burst = await _burst_within_one_second(stack, account_id)
        ids = [e["id"] for e in burst]
        delivered = await eventually_delivered(stack, ids)
    assert Counter(delivered) == dict.fromkeys(ids, 2)  # each twice
    first_seen = list(dict.fromkeys(delivered))
    assert first_seen == ids[::-1]  # one batch, newest first

    with stripe.sync_client() as stripe_client:
        account = stripe_client.v1.accounts.retrieve(account_id).to_dict()
    expected = organization_fields(account)
    org = stack.worker.row('SELECT * FROM "organization" WHERE "id" = ?', stack.org_id)
    assert org is not None
    stored = {name: org[name] for name in expected}
    for name in ("charges_enabled", "payouts_enabled", "details_submitted"):
        stored[name] = bool(stored[name])
    for name in ("requirements_currently_due", "requirements_past_due"):
        stored[name] = json.loads(stored[name])
    assert stored == expected
    assert (expected["stripe_connect_status"], expected["payout_schedule_interval"]) == (
        "active",
        "daily",
    )
    rows = stack.worker.rows("SELECT event_id, status, attempts FROM connect_webhook_event")
    mine = [r for r in rows if r["event_id"] in set(ids)]
    assert len(mine) == len(ids)
    assert all((r["status"], r["attempts"]) == ("processed", 1) for r in mine), mine


async def eventually_delivered(stack: BackendStack, event_ids: list[str]) -> list[str]:
    """The 2xx deliveries of `event_ids`, in delivery order, once each was delivered twice."""
    wanted = set(event_ids)

    async def ok_deliveries() -> list[str]:
        found = (await stack.stripe.aio.deliveries())["deliveries"]
        return [d["event_id"] for d in found if d["ok"] and d["event_id"] in wanted]

    async def done() -> bool:
        return Counter(await ok_deliveries()) == dict.fromkeys(wanted, 2)

    await eventually(done, within=20, what="every burst event delivered twice")
    return await ok_deliveries()


async def test_same_event_to_two_instances_at_once_is_applied_once(
    make_backend: Callable[..., BackendStack],
    backend_stack: BackendStack,
    client: httpx.AsyncClient,
) -> None:
    other = make_backend(webhooks=False)
    account_id = await onboard(client, backend_stack)
    results: list[int] = []
    async with httpx.AsyncClient(timeout=20) as http:
        for n in range(5):
            event = account_event(account_id, created=int(time.time()), event_id=f"evt_twin{n}")
            body, headers = signed(backend_stack, event)
            replies = await asyncio.gather(
                http.post(backend_stack.webhook_url, content=body, headers=headers),
                http.post(other.webhook_url, content=body, headers=headers),
            )
            results.extend(r.status_code for r in replies)
            handled = [r for r in replies if r.status_code == 200 and not r.json()["duplicate"]]
            assert len(handled) <= 1
            assert all(r.status_code in (200, 409) for r in replies), [r.text for r in replies]
            # Stripe retries whatever was not 2xx: the retry is a duplicate, not a second effect.
            retry = await http.post(other.webhook_url, content=body, headers=headers)
            assert retry.json()["duplicate"] is True
            assert event_row(backend_stack, f"evt_twin{n}") == {
                "status": "processed",
                "attempts": 1,
            }


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_worker_down_during_a_webhook_is_5xx_and_the_redelivery_completes(
    make_backend: Callable[..., BackendStack],
    backend_stack: BackendStack,
    client: httpx.AsyncClient,
) -> None:
    stripe = backend_stack.stripe
    account_id = await onboard(client, backend_stack)
    cut_off = make_backend(env={"WORKER_URL": _dead_url()})  # the fake now delivers here
    await stripe.aio.complete_onboarding(account_id)

    async def refused() -> bool:
        deliveries = stripe.deliveries()["deliveries"]
        return any(d["type"] == "account.updated" and d["status"] == 503 for d in deliveries)

    await eventually(refused, what="a 503 while the Worker is unreachable")
    assert cut_off.url != backend_stack.url
    assert (await status_of(client, backend_stack))["stripe_connect_status"] == "pending"

    event_id = next(
        d["event_id"]
        for d in stripe.deliveries()["deliveries"]
        if d["type"] == "account.updated" and d["status"] == 503
    )
    assert event_row(backend_stack, event_id) is None  # nothing was recorded while cut off

    # The Worker is reachable again (the healthy replica): Stripe's redelivery succeeds.
    stripe.configure_webhooks(
        backend_stack.webhook_url, stripe.webhook_secret, stripe.connect_webhook_secret
    )
    await stripe.aio.resend_event(event_id)

    async def processed() -> bool:
        return event_row(backend_stack, event_id) == {"status": "processed", "attempts": 1}

    await eventually(processed, what="redelivery to apply the update")
    assert (await status_of(client, backend_stack))["stripe_connect_status"] == "active"


async def test_deauthorization_disables_the_org_from_the_payload_alone(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.deauthorize(account_id)

    async def disabled() -> bool:
        return bool((await status_of(client, backend_stack))["stripe_connect_status"] == "disabled")

    await eventually(disabled, what="account.application.deauthorized")
    status = await status_of(client, backend_stack)
    assert status["onboarding_rejection_reason"] == "deauthorized"
    assert status["payouts_enabled"] is False


async def test_rejected_account_is_disabled_with_the_reason(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    account_id = await onboard(client, backend_stack)
    await backend_stack.stripe.aio.reject(account_id, "fraud")

    async def rejected() -> bool:
        return bool((await status_of(client, backend_stack))["onboarding_step"] == "rejected")

    await eventually(rejected, what="rejection to land")
    assert (await status_of(client, backend_stack))["onboarding_rejection_reason"] == (
        "rejected.fraud"
    )


async def test_an_event_held_by_another_replica_is_409_until_its_configured_lease_ends(
    make_backend: Callable[..., BackendStack],
) -> None:
    stack = make_backend(env={"WEBHOOK_CLAIM_LEASE_SECONDS": "7"}, webhooks=False)
    event = account_event("acct_held", created=int(time.time()), event_id="evt_held1")
    body, headers = signed(stack, event)
    async with httpx.AsyncClient(base_url=stack.worker.url, headers=stack.worker.headers) as w:
        held = await w.post(
            "/api/internal/webhook-events/claim",
            json={
                "event_id": "evt_held1",
                "event_type": "account.updated",
                "event_created": event["created"],
                "stripe_account_id": "acct_held",
                "lease_seconds": 7,
            },
        )
        assert held.json()["claimed"] is True
    async with httpx.AsyncClient(base_url=stack.url) as client:
        r = await client.post("/api/connect/webhook", content=body, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "event_in_progress")
        assert r.headers["Retry-After"] == "7"
        # The holder died: once its lease has passed, the redelivery is this replica's to apply.
        stack.worker.clock.advance(8)
        r = await client.post("/api/connect/webhook", content=body, headers=headers)
    assert r.status_code != 409
    row = event_row(stack, "evt_held1")
    assert row is not None
    assert row["attempts"] == 2


async def _early_in_a_second() -> None:
    """Wait until 0.05 s past a whole second, leaving most of it for what must share it."""
    await asyncio.sleep((1.05 - time.time() % 1) % 1)


class _HeldFirstRead(ConnectStripe):
    """The real gateway to the fake, except that the first account read's answer is held back
    until the test releases it: a slow Stripe response, which is all the race needs."""

    def __init__(self, stripe: StripeFake) -> None:
        super().__init__(stripe.api_key, api_base=stripe.url, max_network_retries=0)
        self.first_read_done = asyncio.Event()
        self.release_first = asyncio.Event()
        self._reads = 0

    async def retrieve_account(self, account_id: str) -> StripeAccount:
        self._reads += 1
        first = self._reads == 1
        account = await super().retrieve_account(account_id)
        if first:
            self.first_read_done.set()
            await self.release_first.wait()
        return account


async def test_an_older_read_that_lands_last_in_the_same_second_does_not_win(
    worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    # A burst of events (account.updated + capability.updated) re-reads one account several times
    # within a second. The read that started before onboarding finished sees "pending"; the one
    # that started after sees "active". Whichever write lands last, the stored state is "active".
    env = backend_env(worker_stack, stripe_fake)
    worker = WorkerClient(worker_stack.url, worker_stack.api_key, timeout_seconds=3)
    stripe = _HeldFirstRead(stripe_fake)
    svc = Services(
        settings=load_settings(env),
        worker=worker,
        stripe=stripe,
        auth=Authenticator(worker, UserContextCache(ttl_seconds=0, max_entries=1)),
    )
    org_id = worker_stack.acme_org_id
    try:
        account = await stripe.create_account(org_id, profile="express")
        await worker.create_connect_account(org_id, account.id, profile="express")
        await _early_in_a_second()  # both reads start within the same whole second
        older = asyncio.create_task(sync_account(svc, org_id, account.id))
        await asyncio.wait_for(stripe.first_read_done.wait(), 3)
        await stripe_fake.aio.complete_onboarding(account.id)
        newer = await sync_account(svc, org_id, account.id)
        assert newer.stripe_connect_status == "active"
        stripe.release_first.set()
        landed_last = await asyncio.wait_for(older, 3)
        assert landed_last.stripe_connect_status == "active"
        stored = await worker.get_organization(org_id)
        assert (stored.stripe_connect_status, stored.onboarding_step) == ("active", "complete")
    finally:
        stripe.release_first.set()
        await stripe.close()
        await worker.close()


async def test_a_read_started_just_before_a_deauthorization_does_not_undo_it(
    worker_stack: WorkerStack, stripe_fake: StripeFake
) -> None:
    # Stripe stamps the deauthorization event with its whole second; a re-read that started
    # earlier in that second (and saw the account active) must not win over it by landing last.
    env = backend_env(worker_stack, stripe_fake)
    worker = WorkerClient(worker_stack.url, worker_stack.api_key, timeout_seconds=3)
    stripe = _HeldFirstRead(stripe_fake)
    svc = Services(
        settings=load_settings(env),
        worker=worker,
        stripe=stripe,
        auth=Authenticator(worker, UserContextCache(ttl_seconds=0, max_entries=1)),
    )
    org_id = worker_stack.acme_org_id
    try:
        account = await stripe.create_account(org_id, profile="express")
        await worker.create_connect_account(org_id, account.id, profile="express")
        await stripe_fake.aio.complete_onboarding(account.id)
        await _early_in_a_second()  # the read and the event in the same whole second
        started = time.time()
        read_before = asyncio.create_task(sync_account(svc, org_id, account.id))
        await asyncio.wait_for(stripe.first_read_done.wait(), 3)
        claim = await worker.claim_event(
            "evt_deauth_same_second",
            event_type="account.application.deauthorized",
            event_created=int(started),
            stripe_account_id=account.id,
        )
        event = Event(
            id="evt_deauth_same_second",
            type="account.application.deauthorized",
            created=int(started),
            account=account.id,
            object={"id": "ca_app", "object": "application"},
            claim_id=claim.claim_id or "",
        )
        await HANDLERS[event.type](svc, event)
        stripe.release_first.set()
        await asyncio.wait_for(read_before, 3)
        stored = await worker.get_organization(org_id)
        assert (stored.stripe_connect_status, stored.onboarding_rejection_reason) == (
            "disabled",
            "deauthorized",
        )
    finally:
        stripe.release_first.set()
        await stripe.close()
        await worker.close()
