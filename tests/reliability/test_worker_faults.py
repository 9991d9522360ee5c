"""The Worker down, slow, answering 500 or dropping the connection — seen from the user and from
Stripe's webhook deliveries. Every fault must give a quick, clear 5xx JSON error; once the Worker
is back the same request (or Stripe's redelivery) succeeds, and D1 holds each effect once."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fixtures.backend import BackendStack
from tests.reliability.conftest import (
    SLOW,
    WORKER_TIMEOUT,
    account_updated_ids,
    assert_json_error,
    deliveries_for,
    event_rows,
    eventually,
    onboard,
    org_row,
)
from tests.reliability.fault_proxy import FaultProxy

FAULTS = ["refuse", "reset", "slow", "error_500"]
VERIFY = "/api/internal/verify-user-context"
UPDATE = "/api/internal/update-organization"
CLAIM = "/api/internal/webhook-events/claim"

# Reads retry up to 3 times; a "slow" read can therefore take 3 timeouts plus backoff.
USER_DEADLINE = 3 * WORKER_TIMEOUT + 1.5


async def _activate(client: httpx.AsyncClient, stack: BackendStack) -> str:
    account_id = await onboard(client, stack)
    stack.stripe.complete_onboarding(account_id)
    await eventually(
        lambda: org_row(stack)["stripe_connect_status"] == "active", what="org to become active"
    )
    return account_id


@pytest.mark.parametrize("fault", FAULTS)
async def test_status_read_during_a_worker_fault_is_a_quick_503_then_works(
    fault: str, proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    stack = proxied_backend
    worker_proxy.set(fault, delay=SLOW)
    started = time.monotonic()
    r = await client.get(f"{stack.url}/api/connect/status/{stack.org_id}", headers=stack.auth())
    elapsed = time.monotonic() - started
    error = assert_json_error(r, 503)
    assert error["code"] == "worker_unavailable"
    assert elapsed < USER_DEADLINE, elapsed

    worker_proxy.clear()
    r = await client.get(f"{stack.url}/api/connect/status/{stack.org_id}", headers=stack.auth())
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("fault", FAULTS)
async def test_onboarding_when_the_worker_fails_to_store_the_account_makes_one_account(
    fault: str, proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """Stripe made the account but the Worker never stored it: the retry reuses the same account
    (Stripe idempotency key per organization), so one click or ten, one Connect account."""
    stack = proxied_backend
    paths = None if fault == "refuse" else ["/api/internal/create-connect-account"]
    worker_proxy.set(fault, paths=paths, delay=SLOW)
    r = await client.post(
        f"{stack.url}/api/connect/onboard",
        json={"organization_id": stack.org_id},
        headers=stack.auth("owner"),
    )
    assert_json_error(r, 503)

    worker_proxy.clear()
    account_id = await onboard(client, stack)
    assert await onboard(client, stack) == account_id
    with stack.stripe.sync_client() as stripe_client:
        accounts = stripe_client.v1.accounts.list({"limit": 100}).data
    assert [a.id for a in accounts] == [account_id]
    assert org_row(stack)["stripe_connect_account_id"] == account_id


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    "path", ["/api/internal/transfers/reserve", "/api/internal/transfers/complete"]
)
async def test_transfer_during_a_worker_fault_moves_money_once_after_the_retry(
    fault: str,
    path: str,
    proxied_backend: BackendStack,
    worker_proxy: FaultProxy,
    client: httpx.AsyncClient,
) -> None:
    """`complete` failing is the dangerous one: Stripe has moved the money but the ledger still
    says pending. The retry with the same Idempotency-Key must finish it, not pay twice."""
    stack = proxied_backend
    await _activate(client, stack)
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    request = {"organization_id": stack.org_id, "source_transaction": charge}
    headers = stack.auth("owner", Idempotency_Key="order-77")

    worker_proxy.set(fault, paths=None if fault == "refuse" else [path], delay=SLOW)
    r = await client.post(f"{stack.url}/api/connect/transfer", json=request, headers=headers)
    assert_json_error(r, 503)

    worker_proxy.clear()
    first = await client.post(f"{stack.url}/api/connect/transfer", json=request, headers=headers)
    again = await client.post(f"{stack.url}/api/connect/transfer", json=request, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json()["stripe_transfer_id"] == again.json()["stripe_transfer_id"]
    assert first.json()["net_amount"] == 9_000

    with stack.stripe.sync_client() as stripe_client:
        transfers = stripe_client.v1.transfers.list({"limit": 100}).data
    assert [t.id for t in transfers] == [first.json()["stripe_transfer_id"]]
    rows = stack.worker.rows('SELECT * FROM "connect_transfer"')
    assert len(rows) == 1
    assert rows[0]["status"] == "succeeded"
    assert rows[0]["stripe_transfer_id"] == first.json()["stripe_transfer_id"]


def _last_account_updated(stack: BackendStack, account_id: str) -> str:
    ids = account_updated_ids(stack, account_id)
    assert ids, "the fake emitted no account.updated"
    return ids[-1]


@pytest.mark.parametrize("fault", ["reset", "error_500"])
async def test_webhook_redelivery_succeeds_after_the_worker_failed_mid_event(
    fault: str, proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """The claim is granted, the org write fails: the backend answers 5xx, releases the claim,
    and Stripe's next attempt applies the event once."""
    stack = proxied_backend
    account_id = await onboard(client, stack)
    worker_proxy.set(fault, paths=[UPDATE])
    stack.stripe.complete_onboarding(account_id)
    event_id = _last_account_updated(stack, account_id)

    await eventually(
        lambda: len([d for d in deliveries_for(stack, event_id) if not d["ok"]]) >= 2,
        what="two failed deliveries",
    )
    failed = [d for d in deliveries_for(stack, event_id) if not d["ok"]]
    assert all(d["status"] is not None and d["status"] >= 500 for d in failed), failed
    assert org_row(stack)["stripe_connect_status"] == "pending"

    worker_proxy.clear()
    await eventually(
        lambda: any(d["ok"] for d in deliveries_for(stack, event_id)),
        what="a delivery to succeed",
        within=60,
    )
    org = org_row(stack)
    assert (org["stripe_connect_status"], org["onboarding_step"]) == ("active", "complete")
    assert org["charges_enabled"] == org["payouts_enabled"] == 1
    [row] = [r for r in event_rows(stack) if r["event_id"] == event_id]
    assert row["status"] == "processed"
    assert row["attempts"] >= 2
    # Each event the fake emitted for the account wrote D1 once: the failed attempts never got
    # through, the successful one did, and nothing was applied twice.
    handled = [
        e["id"]
        for e in stack.stripe.events()["events"]
        if e.get("account") == account_id and e["type"] in ("account.updated", "capability.updated")
    ]

    def all_processed() -> bool:
        processed = {r["event_id"] for r in event_rows(stack) if r["status"] == "processed"}
        return set(handled) <= processed

    # The fake is still retrying the sibling capability.updated events; let them land first.
    await eventually(all_processed, what="every event for the account processed", within=60)
    # An event whose own snapshot can be ordered is written by `apply-organization` instead (the
    # ordering rule, docs/reliability.md), so re-read writes are at most one per event, never more.
    writes = [s for s in worker_proxy.seen if s.path == UPDATE and s.outcome == "forwarded"]
    assert 1 <= len(writes) <= len(handled), (writes, handled)


async def test_a_claim_whose_answer_was_lost_is_answered_as_granted_when_sent_again(
    proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """The claim ran at the Worker but its kept-alive connection closed before the answer: the
    backend sends it again (the same claim id), the Worker recognises its own claim, and the
    event is applied on that delivery — not answered 409 until the lease runs out."""
    stack = proxied_backend
    account_id = await onboard(client, stack)  # the pool now holds kept-alive connections
    worker_proxy.set("answer_lost", paths=[CLAIM], count=1)
    stack.stripe.complete_onboarding(account_id)
    event_id = _last_account_updated(stack, account_id)
    await eventually(lambda: len(deliveries_for(stack, event_id)) >= 1, what="a delivery")
    first = deliveries_for(stack, event_id)[0]
    claims = [s for s in worker_proxy.seen if s.path == CLAIM]
    assert claims[0].outcome == "answer_lost"
    assert first["ok"], first
    [row] = [r for r in event_rows(stack) if r["event_id"] == event_id]
    assert (row["status"], row["attempts"]) == ("processed", 1)
    assert org_row(stack)["stripe_connect_status"] == "active"


async def test_webhook_when_the_whole_worker_is_down_is_retried_until_it_is_back(
    proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    stack = proxied_backend
    account_id = await onboard(client, stack)
    worker_proxy.set("refuse")
    stack.stripe.complete_onboarding(account_id)
    event_id = _last_account_updated(stack, account_id)
    await eventually(
        lambda: len(deliveries_for(stack, event_id)) >= 2, what="two failed deliveries"
    )
    assert all(d["status"] == 503 for d in deliveries_for(stack, event_id))
    assert event_rows(stack, "account.updated") == []  # the claim never landed

    worker_proxy.clear()
    await eventually(
        lambda: any(d["ok"] for d in deliveries_for(stack, event_id)), what="redelivery", within=60
    )
    assert org_row(stack)["stripe_connect_status"] == "active"
    [row] = [r for r in event_rows(stack) if r["event_id"] == event_id]
    assert (row["status"], row["attempts"]) == ("processed", 1)


async def test_a_claim_that_lands_after_the_backend_gave_up_applies_once_and_retries_are_duplicates(
    proxied_backend: BackendStack, worker_proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """A slow Worker records the claim after the backend timed out and answered 503. The claim
    carried the event's snapshot, so its own batch applied it and completed the claim: Stripe's
    retry is answered as a duplicate and the effect happened once. (An event the claim cannot
    finish by itself waits for the lease instead: `test_an_event_held_by_another_replica_is_409_
    until_its_configured_lease_ends` in tests/backend/test_webhooks.py.)"""
    stack = proxied_backend
    account_id = await onboard(client, stack)
    # Redeliver by hand ("resend"), so no automatic retry races the late claim.
    stack.stripe.configure_webhooks(
        stack.webhook_url,
        stack.stripe.webhook_secret,
        stack.stripe.connect_webhook_secret,
        retry_base_seconds=600,
    )
    worker_proxy.set("slow", paths=[CLAIM], count=1, delay=SLOW)
    stack.stripe.submit_details(account_id)
    event_id = _last_account_updated(stack, account_id)

    await eventually(
        lambda: any(
            r["event_id"] == event_id and r["status"] == "processed" for r in event_rows(stack)
        ),
        what="the late claim to land, applied and completed in its own batch",
    )
    worker_proxy.clear()
    assert [d["status"] for d in deliveries_for(stack, event_id)] == [503]

    stack.stripe.resend_event(event_id)
    await eventually(lambda: len(deliveries_for(stack, event_id)) == 2, what="the resend")
    statuses: list[Any] = [d["status"] for d in deliveries_for(stack, event_id)]
    assert statuses == [503, 200], statuses
    assert org_row(stack)["onboarding_step"] == "verification"
    [row] = [r for r in event_rows(stack) if r["event_id"] == event_id]
    assert (row["status"], row["attempts"]) == ("processed", 1)
