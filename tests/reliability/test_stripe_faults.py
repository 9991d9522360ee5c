"""Stripe (the fake, through its `/_fake/faults` switch) down, slow past the backend's timeout,
answering 500 or 429 — during onboarding, transfers and webhook re-reads. The user gets a clear
502/503 JSON error; the retry succeeds; Stripe ends with one account and one transfer."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fixtures.backend import BackendStack
from tests.reliability.conftest import (
    SLOW,
    STRIPE_TIMEOUT,
    account_updated_ids,
    assert_json_error,
    deliveries_for,
    event_rows,
    eventually,
    onboard,
    org_row,
)

# fake mode → (status the user sees, error code)
FAULTS = {
    "down": (502, "stripe_unavailable"),
    "slow": (502, "stripe_unavailable"),
    "error_500": (502, "stripe_error"),
    "rate_limit": (503, "stripe_rate_limited"),
}


def _set(stack: BackendStack, mode: str | None, *, path: str | None = None) -> None:
    stack.stripe.set_faults(mode, delay_seconds=SLOW, path=path)


@pytest.fixture
def stack(proxied_backend: BackendStack) -> BackendStack:
    return proxied_backend


@pytest.mark.parametrize("fault", FAULTS)
async def test_onboarding_during_a_stripe_fault_fails_clearly_then_makes_one_account(
    fault: str, stack: BackendStack, client: httpx.AsyncClient
) -> None:
    _set(stack, fault)
    started = time.monotonic()
    r = await client.post(
        f"{stack.url}/api/connect/onboard",
        json={"organization_id": stack.org_id},
        headers=stack.auth("owner"),
    )
    assert time.monotonic() - started < STRIPE_TIMEOUT + 2
    status, code = FAULTS[fault]
    error = assert_json_error(r, status)
    assert error["code"] == code
    if fault == "rate_limit":
        assert r.headers["retry-after"].isdigit()

    _set(stack, None)
    account_id = await onboard(client, stack)
    with stack.stripe.sync_client() as stripe_client:
        accounts = stripe_client.v1.accounts.list({"limit": 100}).data
    # A slow Stripe still created the account; the retry's idempotency key found it again.
    assert [a.id for a in accounts] == [account_id]
    assert org_row(stack)["stripe_connect_account_id"] == account_id


@pytest.mark.parametrize("fault", FAULTS)
async def test_transfer_during_a_stripe_fault_is_left_pending_and_finished_once(
    fault: str, stack: BackendStack, client: httpx.AsyncClient
) -> None:
    account_id = await onboard(client, stack)
    stack.stripe.complete_onboarding(account_id)
    await eventually(lambda: org_row(stack)["stripe_connect_status"] == "active", what="active")
    charge = await stack.stripe.paid(stack.org_id, 2_500)
    request = {"organization_id": stack.org_id, "source_transaction": charge}
    headers = stack.auth("admin", Idempotency_Key=f"invoice-{fault}")

    _set(stack, fault, path="/v1/transfers")  # the payment's reads pass, the transfer meets it
    r = await client.post(f"{stack.url}/api/connect/transfer", json=request, headers=headers)
    status, code = FAULTS[fault]
    assert assert_json_error(r, status)["code"] == code
    [row] = stack.worker.rows('SELECT * FROM "connect_transfer"')
    assert row["status"] == "pending"  # not failed: Stripe may yet have done it

    _set(stack, None)
    done = await client.post(f"{stack.url}/api/connect/transfer", json=request, headers=headers)
    assert done.status_code == 201, done.text
    with stack.stripe.sync_client() as stripe_client:
        transfers = stripe_client.v1.transfers.list({"limit": 100}).data
    assert len(transfers) == 1
    assert transfers[0].amount == 2_250
    assert transfers[0].destination == account_id
    [row] = stack.worker.rows('SELECT * FROM "connect_transfer"')
    assert (row["status"], row["stripe_transfer_id"]) == ("succeeded", transfers[0].id)


@pytest.mark.parametrize("fault", FAULTS)
async def test_webhook_during_a_stripe_fault_is_redelivered_and_applied_once(
    fault: str, stack: BackendStack, client: httpx.AsyncClient
) -> None:
    """`account.updated` re-reads the account from Stripe; while Stripe fails the backend answers
    5xx and Stripe retries; the claim is released each time, so the retry applies it."""
    account_id = await onboard(client, stack)
    _set(stack, fault)
    stack.stripe.complete_onboarding(account_id)
    event_id = account_updated_ids(stack, account_id)[-1]
    await eventually(
        lambda: len(deliveries_for(stack, event_id)) >= 2, what="two failed deliveries"
    )
    assert all(d["status"] in (502, 503) for d in deliveries_for(stack, event_id))
    assert org_row(stack)["stripe_connect_status"] == "pending"

    _set(stack, None)
    await eventually(
        lambda: any(d["ok"] for d in deliveries_for(stack, event_id)), what="redelivery", within=60
    )
    assert org_row(stack)["stripe_connect_status"] == "active"
    [row] = [r for r in event_rows(stack) if r["event_id"] == event_id]
    assert row["status"] == "processed"
    assert row["attempts"] >= 2


@pytest.mark.parametrize("fault", ["down", "error_500", "rate_limit"])
async def test_status_refresh_during_a_stripe_fault_keeps_the_stored_state(
    fault: str, stack: BackendStack, client: httpx.AsyncClient
) -> None:
    account_id = await onboard(client, stack)
    before = org_row(stack)
    _set(stack, fault)
    r = await client.get(
        f"{stack.url}/api/connect/status/{stack.org_id}?refresh=true", headers=stack.auth()
    )
    status, _ = FAULTS[fault]
    assert_json_error(r, status)
    assert org_row(stack) == before
    _set(stack, None)
    r = await client.get(
        f"{stack.url}/api/connect/status/{stack.org_id}?refresh=true", headers=stack.auth()
    )
    assert r.status_code == 200
    assert r.json()["stripe_connect_account_id"] == account_id
