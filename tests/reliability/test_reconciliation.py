"""Nothing left unknown: reconciliation through the real stack (backend, Worker over SQLite, the
Stripe fake over HTTP). A transfer whose Stripe call timed out is found at Stripe or, once no
request can still make it, refused; events Stripe could not deliver are replayed through the
webhook's own exactly-once path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from backend.core.models import ReconcileReply
from backend.reconciliation.reconcile import main as reconcile_main
from backend.reconciliation.reconciler import Reconciler
from backend.services import Services, open_services
from backend.webhooks.webhook_processing import process_event
from tests.fixtures.backend import BackendStack
from tests.reliability.conftest import FAST_TIMEOUTS, SLOW, eventually, onboard, org_row

OPERATOR_KEY = "o" * 40
DAY = 86_400


@pytest.fixture
def stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env={**FAST_TIMEOUTS, "OPERATOR_API_KEY": OPERATOR_KEY})


@pytest.fixture
async def services(stack: BackendStack) -> AsyncIterator[Services]:
    async with open_services(stack.settings) as svc:
        yield svc


def reconciler(svc: Services, *, later: float = 0.0, **kw: Any) -> Reconciler:
    """A run whose clock is `later` seconds ahead: Stripe's idempotency window passes without
    waiting a day."""
    return Reconciler(svc, process_event, now=lambda: time.time() + later, **kw)


async def active_org_with_a_payment(client: httpx.AsyncClient, stack: BackendStack) -> str:
    account_id = await onboard(client, stack)
    stack.stripe.complete_onboarding(account_id)
    await eventually(lambda: org_row(stack)["stripe_connect_status"] == "active", what="active")
    return account_id


def transfers_at_stripe(stack: BackendStack) -> list[Any]:
    with stack.stripe.sync_client() as sdk:
        return list(sdk.v1.transfers.list({"limit": 100}).data)


def transfer_rows(stack: BackendStack) -> list[dict[str, Any]]:
    return stack.worker.rows('SELECT * FROM "connect_transfer" ORDER BY "id"')


def outcomes(reply: ReconcileReply) -> list[tuple[str, str, str | None]]:
    return [(r.kind, r.outcome, r.stripe_id) for r in reply.rows]


async def test_a_transfer_stripe_made_before_the_call_timed_out_is_found_and_completed(
    stack: BackendStack, client: httpx.AsyncClient
) -> None:
    account_id = await active_org_with_a_payment(client, stack)
    charge = await stack.stripe.paid(stack.org_id, 2_500)
    stack.stripe.pause_webhooks()  # its transfer.created webhook would finish the row instead
    stack.stripe.set_faults("slow", delay_seconds=SLOW, path="/v1/transfers")
    r = await client.post(
        f"{stack.url}/api/connect/transfer",
        json={"organization_id": stack.org_id, "source_transaction": charge},
        headers=stack.auth("admin", Idempotency_Key="invoice-1"),
    )
    assert r.status_code == 502, r.text
    stack.stripe.clear_faults()
    await eventually(lambda: len(transfers_at_stripe(stack)) == 1, what="Stripe made it")
    [row] = transfer_rows(stack)
    assert (row["status"], row["stripe_transfer_id"]) == ("pending", None)

    # The operator route: the same run the cron makes.
    r = await client.post(
        f"{stack.url}/api/operator/reconcile", headers={"X-Operator-Key": OPERATOR_KEY}
    )

    assert r.status_code == 200, r.text
    [made] = transfers_at_stripe(stack)
    assert made.destination == account_id
    report = ReconcileReply.model_validate(r.json())
    assert outcomes(report) == [("transfer", "completed", made.id)]
    assert report.errors == []
    [row] = transfer_rows(stack)
    assert (row["status"], row["stripe_transfer_id"]) == ("succeeded", made.id)
    # A client retry now replays the finished row; Stripe still holds one transfer.
    again = await client.post(
        f"{stack.url}/api/connect/transfer",
        json={"organization_id": stack.org_id, "source_transaction": charge},
        headers=stack.auth("admin", Idempotency_Key="invoice-1"),
    )
    assert again.status_code in (200, 201), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(transfers_at_stripe(stack)) == 1


async def test_the_reconcile_route_is_the_operators_alone(
    stack: BackendStack, client: httpx.AsyncClient
) -> None:
    for headers in ({}, {"X-Operator-Key": "o" * 39}, {"X-Operator-Key": OPERATOR_KEY + "x"}):
        r = await client.post(f"{stack.url}/api/operator/reconcile", headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "invalid_operator_key"
    r = await client.post(f"{stack.url}/api/operator/reconcile", headers={**stack.auth("owner")})
    assert r.status_code == 401


async def test_a_transfer_stripe_never_made_is_refused_after_the_window_and_never_sent_twice(
    stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    await active_org_with_a_payment(client, stack)
    charge = await stack.stripe.paid(stack.org_id, 2_500)
    request = {"organization_id": stack.org_id, "source_transaction": charge}
    stack.stripe.set_faults("down", path="/v1/transfers")  # the request never reaches Stripe
    r = await client.post(
        f"{stack.url}/api/connect/transfer",
        json=request,
        headers=stack.auth("admin", Idempotency_Key="invoice-2"),
    )
    assert r.status_code == 502, r.text
    stack.stripe.clear_faults()

    inside = await reconciler(services).run()
    assert [(k, o) for k, o, _ in outcomes(inside)] == [("transfer", "unknown")]
    assert transfer_rows(stack)[0]["status"] == "pending"  # a retry may still make it

    after = await reconciler(services, later=DAY + 2 * 3600).run()

    assert outcomes(after) == [("transfer", "refused", None)]
    [row] = transfer_rows(stack)
    assert row["status"] == "failed"
    assert "new Idempotency-Key" in row["failure_message"]
    assert transfers_at_stripe(stack) == []
    # The payment's money is free again (the trigger gave the reservation back).
    payment = stack.worker.row('SELECT * FROM "connect_payment" WHERE "charge_id" = ?', charge)
    assert payment is not None
    assert payment["amount_transferred"] == 0
    # The same key replays the refusal and sends nothing; a new key transfers, once.
    same = await client.post(
        f"{stack.url}/api/connect/transfer",
        json=request,
        headers=stack.auth("admin", Idempotency_Key="invoice-2"),
    )
    assert same.headers.get("idempotent-replayed") == "true", same.text
    assert transfers_at_stripe(stack) == []
    fresh = await client.post(
        f"{stack.url}/api/connect/transfer",
        json=request,
        headers=stack.auth("admin", Idempotency_Key="invoice-2b"),
    )
    assert fresh.status_code == 201, fresh.text
    assert len(transfers_at_stripe(stack)) == 1
    # A later run finds nothing left to settle.
    assert (await reconciler(services, later=DAY + 2 * 3600).run()).rows == []


def payout_rows(stack: BackendStack) -> list[dict[str, Any]]:
    return stack.worker.rows('SELECT * FROM "connect_payout" ORDER BY "id"')


def payouts_at_stripe(stack: BackendStack, account_id: str) -> list[Any]:
    with stack.stripe.sync_client() as sdk:
        return list(sdk.v1.payouts.list({"limit": 100}, {"stripe_account": account_id}).data)


@pytest.mark.parametrize("fault", ["slow", "down"])
async def test_a_payout_whose_call_failed_is_found_on_the_account_or_refused_after_the_window(
    fault: str, stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    account_id = await active_org_with_a_payment(client, stack)
    stack.stripe.fund(account_id, 3_000, "usd")
    stack.stripe.pause_webhooks()  # its payout.created would finish the reservation instead
    stack.stripe.set_faults(fault, delay_seconds=SLOW, path="/v1/payouts")
    r = await client.post(
        f"{stack.url}/api/connect/payout",
        json={"organization_id": stack.org_id, "currency": "usd", "amount": 1_000},
        headers=stack.auth("owner", Idempotency_Key="payout-1"),
    )
    assert r.status_code == 502, r.text
    stack.stripe.clear_faults()
    assert [p["status"] for p in payout_rows(stack)] == ["reserved"]

    if fault == "slow":  # Stripe made it; the answer was lost
        await eventually(lambda: len(payouts_at_stripe(stack, account_id)) == 1, what="made")
        [made] = payouts_at_stripe(stack, account_id)
        report = await reconciler(services).run()
        assert outcomes(report) == [("payout", "completed", made.id)]
        [row] = payout_rows(stack)
        assert (row["status"], row["stripe_payout_id"], row["amount"]) == (
            "pending",
            made.id,
            1_000,
        )
    else:  # never reached Stripe: unknown inside the window, refused after it
        inside = await reconciler(services).run()
        assert [(k, o) for k, o, _ in outcomes(inside)] == [("payout", "unknown")]
        after = await reconciler(services, later=DAY + 2 * 3600).run()
        assert outcomes(after) == [("payout", "refused", None)]
        [row] = payout_rows(stack)
        assert (row["status"], row["stripe_payout_id"]) == ("refused", None)
        assert payouts_at_stripe(stack, account_id) == []
    assert (await reconciler(services, later=DAY + 2 * 3600).run()).rows == []


def test_the_command_prints_what_it_settled_and_exits_zero(stack: BackendStack) -> None:
    lines: list[str] = []
    assert reconcile_main([], environ=stack.env, emit=lines.append) == 0
    assert lines[0] == "ledger rows asked about: 0"
    assert lines[1].startswith("missed events in 1 scope(s): listed 0, applied 0")
    lines.clear()
    assert reconcile_main(["--json"], environ=stack.env, emit=lines.append) == 0
    report = ReconcileReply.model_validate_json(lines[0])
    assert (report.rows, report.errors, report.scopes) == ([], [], 1)


def test_the_command_exits_one_when_an_operator_must_look(stack: BackendStack) -> None:
    stack.stripe.set_faults("permission_denied")  # a restricted key missing a permission
    lines: list[str] = []
    assert reconcile_main([], environ=stack.env, emit=lines.append) == 1
    assert any(line.startswith("error: events of platform:") for line in lines), lines


# --- missed events ------------------------------------------------------------------------------

ORG_STATE = (
    "stripe_connect_status",
    "onboarding_step",
    "charges_enabled",
    "payouts_enabled",
    "details_submitted",
    "requirements_currently_due",
    "requirements_past_due",
    "requirements_disabled_reason",
)
PAYOUT_STATE = (
    "amount",
    "currency",
    "status",
    "failure_code",
    "failure_message",
    "idempotency_key",
)


async def onboarded_and_failed_payout(
    client: httpx.AsyncClient, stack: BackendStack, org_id: str, who: str
) -> str:
    """Onboarding completes at Stripe and a payout fails: the events this story makes."""
    r = await client.post(
        f"{stack.url}/api/connect/onboard",
        json={"organization_id": org_id},
        headers=stack.auth(who),
    )
    assert r.status_code == 200, r.text
    account_id: str = r.json()["account_id"]
    await eventually(
        lambda: org_row(stack, org_id)["stripe_connect_account_id"] == account_id, what="stored"
    )
    stack.stripe.complete_onboarding(account_id)
    stack.stripe.fund(account_id, 4_000, "usd")
    with stack.stripe.sync_client() as sdk:  # a payout made in the Express Dashboard
        payout = sdk.v1.payouts.create(
            {"amount": 4_000, "currency": "usd"}, {"stripe_account": account_id}
        )
    stack.stripe.fail_payout(payout.id)
    return account_id


def state(stack: BackendStack, org_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    org = org_row(stack, org_id)
    payouts = stack.worker.rows(
        'SELECT * FROM "connect_payout" WHERE "organization_id" = ? ORDER BY "id"', org_id
    )
    return (
        {c: org[c] for c in ORG_STATE},
        [{c: p[c] for c in PAYOUT_STATE} for p in payouts],
    )


def full_rows(stack: BackendStack) -> list[list[dict[str, Any]]]:
    return [
        stack.worker.rows(f'SELECT * FROM "{table}" ORDER BY 1')
        for table in ("organization", "connect_payout", "connect_transfer", "connect_webhook_event")
    ]


async def test_missed_events_are_replayed_to_the_state_delivery_gives_and_a_rerun_changes_nothing(
    stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    # Globex: every event delivered. Acme: the same story with the webhook endpoint gone.
    await onboarded_and_failed_payout(client, stack, stack.other_org_id, "outsider")
    await eventually(
        lambda: [p["status"] for p in state(stack, stack.other_org_id)[1]] == ["failed"],
        what="globex's failed payout",
    )
    delivered = state(stack, stack.other_org_id)
    stack.stripe.pause_webhooks()
    account_id = await onboarded_and_failed_payout(client, stack, stack.org_id, "owner")
    await asyncio.sleep(0.3)
    assert state(stack, stack.org_id) != delivered  # nothing arrived

    first = await reconciler(services).run()

    assert first.errors == []
    assert first.events.applied >= 4  # account.updated, payout.created/updated/failed …
    assert first.events.deferred == 0
    assert state(stack, stack.org_id) == delivered
    assert org_row(stack)["stripe_connect_status"] == "active"
    checkpoints = {
        c["scope"]: c
        for c in stack.worker.rows('SELECT * FROM "connect_reconciliation_checkpoint"')
    }
    newest = max(
        (e for e in stack.stripe.events()["events"] if e.get("account") == account_id),
        key=lambda e: (e["created"], e["id"]),
    )
    assert checkpoints[account_id]["event_created"] == newest["created"]

    before = full_rows(stack)
    second = await reconciler(services).run()
    assert second.events.applied == 0
    assert second.events.already_applied == first.events.applied + first.events.already_applied
    assert full_rows(stack) == before


async def test_events_delivered_while_recovery_runs_are_applied_once(
    stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    stack.stripe.pause_webhooks()
    account_id = await onboarded_and_failed_payout(client, stack, stack.org_id, "owner")
    missed = [e["id"] for e in stack.stripe.events()["events"] if e.get("account") == account_id]
    stack.stripe.resume_webhooks()

    async def redeliver() -> None:
        for event_id in missed:
            await stack.stripe.aio.resend_event(event_id)

    report, _ = await asyncio.gather(reconciler(services).run(), redeliver())
    await eventually(
        lambda: all(
            r["status"] == "processed"
            for r in stack.worker.rows('SELECT "status" FROM "connect_webhook_event"')
        ),
        what="every event settled",
    )
    # A deferred event (the delivery held its claim) is settled by that delivery.
    rows = stack.worker.rows(
        'SELECT "event_id", "status", "attempts" FROM "connect_webhook_event" '
        'WHERE "stripe_account_id" = ?',
        account_id,
    )
    handled = {r["event_id"] for r in rows}
    assert handled
    assert handled <= set(missed)
    assert all((r["status"], r["attempts"]) == ("processed", 1) for r in rows), rows
    assert report.errors == []
    payouts = stack.worker.rows('SELECT "status" FROM "connect_payout"')
    assert [p["status"] for p in payouts] == ["failed"]


async def test_recovery_backs_off_when_stripe_rate_limits(
    stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    stack.stripe.pause_webhooks()
    await onboarded_and_failed_payout(client, stack, stack.org_id, "owner")
    stack.stripe.set_faults("rate_limit", count=3, path="/v1/events")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    report = await reconciler(services, sleep=sleep).run()

    assert report.errors == []
    assert len(waits) == 3
    assert waits == sorted(waits)
    assert org_row(stack)["stripe_connect_status"] == "active"
    assert [p["status"] for p in state(stack, stack.org_id)[1]] == ["failed"]


async def test_an_account_that_deauthorized_the_platform_while_webhooks_were_missed_is_recorded(
    stack: BackendStack, client: httpx.AsyncClient, services: Services
) -> None:
    account_id = await active_org_with_a_payment(client, stack)
    stack.stripe.pause_webhooks()
    stack.stripe.deauthorize(account_id)  # its event is listed only under the lost account
    assert org_row(stack)["stripe_connect_status"] == "active"

    report = await reconciler(services).run()

    assert report.errors == []
    assert (report.scopes, report.events.inaccessible_scopes) == (2, 1)
    org = org_row(stack)
    assert (org["stripe_connect_status"], org["charges_enabled"], org["payouts_enabled"]) == (
        "disabled",
        0,
        0,
    )
    # A second run, seconds later, changes nothing.
    before = full_rows(stack)
    await asyncio.sleep(1.1)
    assert (await reconciler(services).run()).errors == []
    assert full_rows(stack) == before
