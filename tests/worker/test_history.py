from __future__ import annotations

from typing import Any

import pytest

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_transfers_and_payouts import reserve_body


def stripe_payout(org_id: str, n: int, **changes: Any) -> dict[str, Any]:
    return {
        "stripe_payout_id": f"po_{n}",
        "organization_id": org_id,
        "stripe_account_id": "acct_A1",
        "amount": 100 * n,
        "currency": "usd",
        "status": "paid",
        "event_created": 1_795_000_000 + n,
        **changes,
    }


async def test_payout_pages_walk_newest_first_to_the_end_without_gaps(fresh_core: Core) -> None:
    org_id, other = make_org(fresh_core), make_org(fresh_core, "globex")
    for n in range(1, 6):
        assert (await fresh_core.post("payouts/upsert", stripe_payout(org_id, n)))[0] == 200
    await fresh_core.post("payouts/upsert", stripe_payout(other, 9))
    seen: list[str] = []
    before: int | None = None
    pages = 0
    while True:
        body: dict[str, Any] = {"organization_id": org_id, "limit": 2}
        if before is not None:
            body["before_id"] = before
        status, page = await fresh_core.post("history/payouts", body)
        assert status == 200
        seen += [p["stripe_payout_id"] for p in page["payouts"]]
        pages += 1
        before = page["next_before_id"]
        if before is None:
            break
    assert seen == ["po_5", "po_4", "po_3", "po_2", "po_1"]  # never another org's po_9
    assert pages == 3


async def test_a_payout_stripe_made_on_its_own_is_marked_automatic_and_hides_our_key(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    reserved = {
        "organization_id": org_id,
        "idempotency_key": "ours-1",
        "request_hash": "a" * 64,
        "amount": 500,
        "currency": "usd",
        "stripe_account_id": "acct_A1",
    }
    assert (await fresh_core.post("payouts/reserve", reserved))[0] == 201
    failed = stripe_payout(
        org_id, 7, status="failed", failure_code="account_closed", failure_message="closed"
    )
    await fresh_core.post("payouts/upsert", failed)
    status, page = await fresh_core.post(
        "history/payouts", {"organization_id": org_id, "limit": 10}
    )
    assert status == 200
    newest, oldest = page["payouts"]
    assert (newest["stripe_payout_id"], newest["automatic"]) == ("po_7", True)
    assert (newest["failure_code"], newest["failure_message"]) == ("account_closed", "closed")
    assert (oldest["status"], oldest["automatic"]) == ("reserved", False)
    assert "idempotency_key" not in oldest
    assert "request_hash" not in oldest


async def test_transfer_history_shows_amounts_fee_and_status(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("transfers/reserve", reserve_body(org_id))
    status, page = await fresh_core.post(
        "history/transfers", {"organization_id": org_id, "limit": 1}
    )
    assert status == 200
    (entry,) = page["transfers"]
    assert (entry["gross_amount"], entry["fee_amount"], entry["net_amount"]) == (10000, 1000, 9000)
    assert (entry["status"], entry["reason"], entry["initiated_by"]) == (
        "pending",
        "goodwill credit",
        "operator",
    )
    assert page["next_before_id"] is None
    assert "idempotency_key" not in entry


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "5"},
        {"limit": 5, "before_id": 0},
        {"limit": 5, "before_id": "x"},
        {"limit": 5, "offset": 3},
    ],
)
async def test_bad_page_requests_are_refused(fresh_core: Core, body: dict[str, Any]) -> None:
    org_id = make_org(fresh_core)
    status, reply = await fresh_core.post("history/transfers", {"organization_id": org_id, **body})
    assert status == 400
    assert reply["error"]["code"] == "invalid_request"


async def test_an_unknown_organization_has_no_history(fresh_core: Core) -> None:
    status, reply = await fresh_core.post(
        "history/payouts", {"organization_id": "nope", "limit": 5}
    )
    assert status == 404
    assert reply["error"]["code"] == "organization_not_found"


async def test_the_payout_schedule_is_stored_and_checked(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    fields = {
        "payout_schedule_interval": "monthly",
        "payout_schedule_delay_days": 3,
        "payout_schedule_monthly_anchor": 31,
        "payout_schedule_weekly_anchor": None,
    }
    status, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": fields}
    )
    assert status == 200
    assert {k: body["organization"][k] for k in fields} == fields
    for bad in (
        {"payout_schedule_interval": "hourly"},
        {"payout_schedule_monthly_anchor": 32},
        {"payout_schedule_weekly_anchor": "Friday"},
        {"payout_schedule_delay_days": 366},
    ):
        status, body = await fresh_core.post(
            "update-organization", {"organization_id": org_id, "fields": bad}
        )
        assert status == 400, bad
