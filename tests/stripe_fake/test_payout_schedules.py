from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
import stripe
from stripe import RequestOptions

from stripe_fake.payout_schedule import WEEKDAYS
from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


def _schedule(**schedule: Any) -> dict[str, Any]:
    return {"payouts": {"schedule": schedule}}


def _account_events(stripe_fake: StripeFake, account_id: str, kind: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = stripe_fake.events()["events"]
    return [e for e in events if e["type"] == kind and e.get("account") == account_id]


def _payouts(account: stripe.Account) -> stripe.Account.Settings.Payouts:
    assert account.settings is not None
    assert account.settings.payouts is not None
    return account.settings.payouts


def _not_today() -> str:
    today = datetime.datetime.now(datetime.UTC).date().weekday()
    return WEEKDAYS[(today + 3) % 7]


async def test_schedule_set_on_create_is_returned_and_retrieved(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(
            client, settings=_schedule(interval="weekly", weekly_anchor="friday", delay_days=5)
        )
        fetched = await client.v1.accounts.retrieve_async(account.id)
    expected = {"delay_days": 5, "interval": "weekly", "weekly_anchor": "friday"}
    assert account.settings is not None
    assert fetched.settings is not None
    assert _payouts(account).schedule.to_dict() == expected
    assert _payouts(fetched).schedule.to_dict() == expected


async def test_account_without_schedule_pays_out_daily_after_the_minimum_delay(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client, settings={})
    assert account.settings is not None
    assert _payouts(account).schedule.to_dict() == {"delay_days": 2, "interval": "daily"}


async def test_schedule_change_fires_account_updated_with_previous_attributes(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(
            client, settings=_schedule(interval="weekly", weekly_anchor="monday")
        )
        updated = await client.v1.accounts.update_async(
            account.id,
            params={"settings": _schedule(interval="monthly", monthly_anchor=31)},  # type: ignore[arg-type]
        )
    assert updated.settings is not None
    schedule = _payouts(updated).schedule.to_dict()
    assert schedule == {"delay_days": 2, "interval": "monthly", "monthly_anchor": 31}
    [event] = _account_events(stripe_fake, account.id, "account.updated")
    assert event["data"]["object"]["settings"]["payouts"]["schedule"] == schedule
    assert event["data"]["previous_attributes"] == {
        "settings": {
            "payouts": {
                "schedule": {
                    "interval": "weekly",
                    "weekly_anchor": "monday",
                    "monthly_anchor": None,
                }
            }
        }
    }


async def test_delay_days_minimum_and_manual_keeping_the_last_delay(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client, settings=_schedule(interval="daily", delay_days=7))
        manual = await client.v1.accounts.update_async(
            account.id,
            params={"settings": _schedule(interval="manual")},  # type: ignore[arg-type]
        )
        minimum = await client.v1.accounts.update_async(
            account.id,
            params={"settings": _schedule(interval="daily", delay_days="minimum")},  # type: ignore[arg-type]
        )
    assert manual.settings is not None
    assert minimum.settings is not None
    assert _payouts(manual).schedule.to_dict() == {"delay_days": 7, "interval": "manual"}
    assert _payouts(minimum).schedule.to_dict() == {"delay_days": 2, "interval": "daily"}


SCHEDULE = "settings[payouts][schedule]"


@pytest.mark.parametrize(
    ("schedule", "param", "code"),
    [
        ({"interval": "hourly"}, f"{SCHEDULE}[interval]", None),
        ({"interval": "weekly"}, f"{SCHEDULE}[weekly_anchor]", "parameter_missing"),
        ({"interval": "weekly", "weekly_anchor": "someday"}, f"{SCHEDULE}[weekly_anchor]", None),
        ({"interval": "daily", "weekly_anchor": "monday"}, f"{SCHEDULE}[weekly_anchor]", None),
        ({"interval": "monthly"}, f"{SCHEDULE}[monthly_anchor]", "parameter_missing"),
        (
            {"interval": "monthly", "monthly_anchor": 32},
            f"{SCHEDULE}[monthly_anchor]",
            "parameter_invalid_integer",
        ),
        (
            {"interval": "monthly", "monthly_anchor": 0},
            f"{SCHEDULE}[monthly_anchor]",
            "parameter_invalid_integer",
        ),
        (
            {"interval": "weekly", "monthly_anchor": 3, "weekly_anchor": "monday"},
            f"{SCHEDULE}[monthly_anchor]",
            None,
        ),
        (
            {"interval": "weekly", "weekly_payout_days": ["saturday"]},
            f"{SCHEDULE}[weekly_payout_days]",
            None,
        ),
        ({"interval": "daily", "delay_days": 1}, f"{SCHEDULE}[delay_days]", None),
        ({"interval": "daily", "delay_days": 366}, f"{SCHEDULE}[delay_days]", None),
        ({"interval": "daily", "delay_days": "soon"}, f"{SCHEDULE}[delay_days]", None),
    ],
)
async def test_invalid_schedule_is_refused_and_changes_nothing(
    stripe_fake: StripeFake, schedule: dict[str, Any], param: str, code: str | None
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.accounts.update_async(
                account.id,
                params={  # type: ignore[arg-type]
                    "email": "changed@example.com",
                    "settings": {"payouts": {"schedule": schedule}},
                },
            )
        after = await client.v1.accounts.retrieve_async(account.id)
    assert caught.value.http_status == 400
    assert caught.value.param == param
    if code is not None:
        assert caught.value.code == code
    assert after.email == "owner@example.com"
    assert after.settings is not None
    assert _payouts(after).schedule.to_dict() == {"delay_days": 2, "interval": "manual"}
    assert _account_events(stripe_fake, account.id, "account.updated") == []


async def test_invalid_schedule_on_create_creates_no_account(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await new_account(client, settings=_schedule(interval="weekly"))
        listed = await client.v1.accounts.list_async()
    assert caught.value.code == "parameter_missing"
    assert listed.data == []


async def test_dashboard_change_of_schedule_fires_account_updated(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.set_payout_schedule(account.id, interval="weekly", weekly_anchor="tuesday")
        fetched = await client.v1.accounts.retrieve_async(account.id)
    assert fetched.settings is not None
    assert _payouts(fetched).schedule.to_dict() == {
        "delay_days": 2,
        "interval": "weekly",
        "weekly_anchor": "tuesday",
    }
    [event] = _account_events(stripe_fake, account.id, "account.updated")
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["previous_attributes"]["settings"]["payouts"]["schedule"] == {
        "interval": "manual",
        "weekly_anchor": None,
    }


def test_dashboard_change_with_a_bad_schedule_is_a_400(stripe_fake: StripeFake) -> None:
    with stripe_fake.sync_client() as sdk:
        account = sdk.v1.accounts.create(params={"type": "express"})
    response = httpx.post(
        f"{stripe_fake.url}/_fake/accounts/{account.id}/payout-schedule",
        json={"interval": "monthly", "monthly_anchor": 40},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_invalid_integer"
    assert "31" in response.json()["error"]["message"]


async def test_standard_payout_is_refused_on_an_automatic_schedule(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client, settings=_schedule(interval="daily"))
        stripe_fake.complete_onboarding(account.id)
        stripe_fake.fund(account.id, 5_000, "usd")
        on_acct: RequestOptions = {"stripe_account": account.id}
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payouts.create_async(
                params={"amount": 1_000, "currency": "usd"}, options=on_acct
            )
        await client.v1.accounts.update_async(
            account.id,
            params={"settings": _schedule(interval="manual")},  # type: ignore[arg-type]
        )
        payout = await client.v1.payouts.create_async(
            params={"amount": 1_000, "currency": "usd"}, options=on_acct
        )
        balance = await client.v1.balance.retrieve_async(options=on_acct)
    assert caught.value.http_status == 400
    assert "automatic" in caught.value.user_message
    assert payout.automatic is False
    assert balance.available[0].amount == 4_000


async def test_scheduler_pays_out_due_accounts_as_automatic_payouts(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        daily = await new_account(client, settings=_schedule(interval="daily"))
        manual = await new_account(client)
        weekly = await new_account(
            client, settings=_schedule(interval="weekly", weekly_anchor=_not_today())
        )
        for account in (daily, manual, weekly):
            stripe_fake.complete_onboarding(account.id)
            stripe_fake.fund(account.id, 2_500, "usd")
        stripe_fake.fund(daily.id, 700, "eur")
        run = stripe_fake.run_payout_scheduler()
        listed = await client.v1.payouts.list_async(options={"stripe_account": daily.id})
        balance = await client.v1.balance.retrieve_async(options={"stripe_account": daily.id})
        manual_payouts = await client.v1.payouts.list_async(options={"stripe_account": manual.id})
    assert run["skipped"] == {manual.id: "manual", weekly.id: "not_due"}
    assert sorted((p["currency"], p["amount"]) for p in run["payouts"]) == [
        ("eur", 700),
        ("usd", 2_500),
    ]
    for payout in listed.data:
        assert payout.automatic is True
        assert payout.status == "paid"
        assert payout.metadata is not None
        assert payout.metadata.to_dict() == {}
    assert {p.id for p in listed.data} == {p["id"] for p in run["payouts"]}
    assert {b.amount for b in balance.available} == {0}
    assert manual_payouts.data == []
    kinds = [e["type"] for e in stripe_fake.events()["events"] if e.get("account") == daily.id]
    assert kinds.count("payout.created") == 2
    assert kinds.count("payout.paid") == 2
    assert kinds.index("payout.created") < kinds.index("payout.paid")


def test_scheduler_force_ignores_the_anchor_and_pay_false_leaves_it_pending(
    stripe_fake: StripeFake,
) -> None:
    with stripe_fake.sync_client() as sdk:
        account = sdk.v1.accounts.create(
            params={"type": "express", "settings": _schedule(interval="monthly", monthly_anchor=1)}  # type: ignore[arg-type]
        )
    stripe_fake.complete_onboarding(account.id)
    stripe_fake.fund(account.id, 1_200, "usd")
    today = datetime.datetime.now(datetime.UTC).date()
    if today.day != 1:
        assert stripe_fake.run_payout_scheduler(account.id)["skipped"] == {account.id: "not_due"}
    run = stripe_fake.run_payout_scheduler(account.id, force=True, pay=False)
    [payout] = run["payouts"]
    assert (payout["status"], payout["automatic"], payout["amount"]) == ("pending", True, 1_200)
    failed = stripe_fake.fail_payout(payout["id"], "account_closed")
    assert failed["status"] == "failed"
    again = stripe_fake.run_payout_scheduler(account.id, force=True)
    assert [p["amount"] for p in again["payouts"]] == [1_200]


def test_scheduler_skips_accounts_that_cannot_be_paid(stripe_fake: StripeFake) -> None:
    with stripe_fake.sync_client() as sdk:
        disabled = sdk.v1.accounts.create(params={"type": "express"})
        empty = sdk.v1.accounts.create(params={"type": "express"})
    stripe_fake.complete_onboarding(empty.id)
    run = stripe_fake.run_payout_scheduler()
    assert run == {
        "payouts": [],
        "skipped": {disabled.id: "payouts_disabled", empty.id: "no_available_balance"},
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"force": "yes"}, 400, "invalid_flag"),
        ({"pay": 1}, 400, "invalid_flag"),
        ({"account": "acct_missing"}, 404, "not_found"),
    ],
)
def test_scheduler_control_refuses_bad_input(
    stripe_fake: StripeFake, body: dict[str, Any], status: int, code: str
) -> None:
    response = httpx.post(f"{stripe_fake.url}/_fake/payouts/run-scheduler", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
