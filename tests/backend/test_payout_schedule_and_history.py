"""Payout schedules and money history through the real backend, Worker and Stripe fake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.backend.conftest import eventually, status_of
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


def schedule_row(stack: BackendStack) -> dict[str, Any] | None:
    return stack.worker.row(
        "SELECT payout_schedule_interval AS interval, payout_schedule_delay_days AS delay, "
        "payout_schedule_weekly_anchor AS weekly, payout_schedule_monthly_anchor AS monthly "
        "FROM organization WHERE id = ?",
        stack.org_id,
    )


async def set_schedule(
    client: httpx.AsyncClient, stack: BackendStack, who: str = "owner", **schedule: object
) -> httpx.Response:
    return await client.post(
        "/api/connect/payout-schedule",
        json={"organization_id": stack.org_id, **schedule},
        headers=stack.auth(who),
    )


async def test_an_owner_sets_a_weekly_schedule_on_stripe_and_it_lands_in_d1(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    assert (await status_of(client, backend_stack))["payout_schedule_interval"] == "manual"
    r = await set_schedule(
        client, backend_stack, interval="weekly", weekly_anchor="friday", delay_days=7
    )
    assert r.status_code == 200, r.text
    assert (r.json()["payout_schedule_interval"], r.json()["payout_schedule_weekly_anchor"]) == (
        "weekly",
        "friday",
    )
    assert schedule_row(backend_stack) == {
        "interval": "weekly",
        "delay": 7,
        "weekly": "friday",
        "monthly": None,
    }
    with backend_stack.stripe.sync_client() as stripe_client:
        account = stripe_client.v1.accounts.retrieve(account_id)
    schedule = account.to_dict(recursive=True)["settings"]["payouts"]["schedule"]
    assert (schedule["interval"], schedule["weekly_anchor"], schedule["delay_days"]) == (
        "weekly",
        "friday",
        7,
    )


async def test_a_schedule_changed_in_the_express_dashboard_arrives_by_webhook(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.set_payout_schedule(
        account_id, interval="monthly", monthly_anchor=15
    )

    async def synced() -> bool:
        row = schedule_row(backend_stack)
        return row is not None and row["interval"] == "monthly"

    await eventually(synced, what="account.updated to bring the dashboard's schedule")
    assert schedule_row(backend_stack) == {
        "interval": "monthly",
        "delay": 2,
        "weekly": None,
        "monthly": 15,
    }
    status = await status_of(client, backend_stack)
    assert status["payout_schedule_monthly_anchor"] == 15


async def test_members_cannot_change_the_schedule_and_bad_schedules_are_400(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    r = await set_schedule(client, backend_stack, "member", interval="daily")
    assert r.status_code == 403
    for body, code in (
        ({"interval": "weekly"}, "weekly_anchor_required"),
        ({"interval": "monthly"}, "monthly_anchor_required"),
        ({"interval": "daily", "weekly_anchor": "monday"}, "invalid_schedule"),
        ({"interval": "manual", "delay_days": 5}, "invalid_schedule"),
        ({"interval": "hourly"}, "invalid_request"),
        ({"interval": "monthly", "monthly_anchor": 32}, "invalid_request"),
        ({"interval": "daily", "delay_days": 1}, "invalid_request"),
    ):
        r = await set_schedule(client, backend_stack, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), body
    assert schedule_row(backend_stack)["interval"] == "manual"  # type: ignore[index]


async def test_the_operator_can_withhold_a_schedule_choice(
    client: httpx.AsyncClient,
    make_backend: Callable[..., BackendStack],
) -> None:
    stack = make_backend(env={"PAYOUT_SCHEDULE_INTERVALS": "weekly,monthly"})
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as http:
        r = await set_schedule(http, stack, interval="daily")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "payout_schedule_not_allowed")
        assert "manual, weekly, monthly" in r.json()["error"]["message"]


async def test_pay_out_now_is_refused_before_stripe_on_an_automatic_schedule(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 5_000, "usd")
    assert (await set_schedule(client, backend_stack, interval="daily")).status_code == 200
    r = await client.post(
        "/api/connect/payout",
        json={"organization_id": backend_stack.org_id, "currency": "usd"},
        headers=backend_stack.auth("owner", Idempotency_Key="now-1"),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "automatic_payouts")
    assert "switch the payout schedule to manual" in r.json()["error"]["message"]
    assert backend_stack.worker.row("SELECT COUNT(*) AS n FROM connect_payout") == {"n": 0}


async def test_scheduler_payouts_and_a_failure_show_in_the_history_of_any_member(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    fake = backend_stack.stripe.aio
    await fake.fund(account_id, 3_000, "usd")
    assert (await set_schedule(client, backend_stack, interval="daily")).status_code == 200
    first = await fake.run_payout_scheduler(account_id, force=True)
    await fake.fund(account_id, 2_000, "usd")
    second = await fake.run_payout_scheduler(account_id, force=True, pay=False)
    failed_id = second["payouts"][0]["id"]
    await fake.fail_payout(failed_id, "account_closed")

    async def recorded() -> bool:
        rows = backend_stack.worker.rows("SELECT status FROM connect_payout ORDER BY id")
        return [r["status"] for r in rows] == ["paid", "failed"]

    await eventually(recorded, what="payout.* webhooks for the scheduler's payouts")
    r = await client.get(
        f"/api/connect/payouts/{backend_stack.org_id}?limit=1", headers=backend_stack.auth("member")
    )
    assert r.status_code == 200, r.text
    page = r.json()
    (newest,) = page["payouts"]
    assert newest["stripe_payout_id"] == failed_id
    assert (newest["status"], newest["automatic"], newest["failure_code"]) == (
        "failed",
        True,
        "account_closed",
    )
    assert newest["failure_message"]
    assert "bank account" in newest["failure_advice"]
    r = await client.get(
        f"/api/connect/payouts/{backend_stack.org_id}?limit=1&cursor={page['next_cursor']}",
        headers=backend_stack.auth("member"),
    )
    (oldest,) = r.json()["payouts"]
    assert oldest["stripe_payout_id"] == first["payouts"][0]["id"]
    assert (oldest["amount"], oldest["status"], oldest["failure_advice"]) == (3_000, "paid", None)
    assert r.json()["next_cursor"] is None


async def test_history_is_for_members_of_the_org_and_cursors_are_checked(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    org = backend_stack.org_id
    r = await client.get(f"/api/connect/transfers/{org}", headers=backend_stack.auth("outsider"))
    assert r.status_code == 403
    r = await client.get(f"/api/connect/transfers/{org}")
    assert r.status_code == 401
    r = await client.get(f"/api/connect/transfers/{org}", headers=backend_stack.auth("member"))
    assert r.status_code == 200
    assert r.json() == {"organization_id": org, "transfers": [], "next_cursor": None}
    for query, code in (
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=x", "invalid_limit"),
        ("cursor=!!", "invalid_cursor"),
        ("cursor=cDox", "invalid_cursor"),  # a payout cursor ("p:1") on the transfer list
    ):
        r = await client.get(
            f"/api/connect/transfers/{org}?{query}", headers=backend_stack.auth("member")
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), query
