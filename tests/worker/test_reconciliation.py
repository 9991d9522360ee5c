"""The Worker's side of reconciliation: what is unsettled, whose events to replay, checkpoints."""

from __future__ import annotations

from typing import Any

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_transfers_and_payouts import reserve_body


def payout_body(org_id: str, key: str) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "idempotency_key": key,
        "request_hash": "b" * 64,
        "amount": 500,
        "currency": "usd",
        "stripe_account_id": "acct_A1",
    }


async def get(core: Core, route: str) -> tuple[int, dict[str, Any]]:
    return await core.call("GET", f"/api/internal/reconciliation/{route}")


async def test_unsettled_lists_pending_transfers_and_reserved_payouts_oldest_first(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("transfers/reserve", reserve_body(org_id)))[0] == 201
    fresh_core.clock.advance(5)
    second = reserve_body(org_id, idempotency_key="order-43")
    assert (await fresh_core.post("transfers/reserve", second))[0] == 201
    done = reserve_body(org_id, idempotency_key="order-44")
    assert (await fresh_core.post("transfers/reserve", done))[0] == 201
    finished = {"organization_id": org_id, "idempotency_key": "order-44", "status": "failed"}
    assert (await fresh_core.post("transfers/complete", finished))[0] == 200
    assert (await fresh_core.post("payouts/reserve", payout_body(org_id, "p-1")))[0] == 201
    assert (await fresh_core.post("payouts/reserve", payout_body(org_id, "p-2")))[0] == 201
    refused = {"organization_id": org_id, "idempotency_key": "p-2", "failure_message": "no"}
    assert (await fresh_core.post("payouts/refuse", refused))[0] == 200

    status, body = await get(fresh_core, "unsettled")

    assert status == 200
    assert [t["idempotency_key"] for t in body["transfers"]] == ["order-42", "order-43"]
    assert all(t["status"] == "pending" for t in body["transfers"])
    assert body["transfers"][0]["created_at"] < body["transfers"][1]["created_at"]
    assert [(p["idempotency_key"], p["status"]) for p in body["payouts"]] == [("p-1", "reserved")]


async def test_accounts_lists_every_organization_with_a_connected_account(
    fresh_core: Core,
) -> None:
    acme, other = make_org(fresh_core), make_org(fresh_core, "other")
    make_org(fresh_core, "none")
    for org_id, account in ((acme, "acct_B2"), (other, "acct_A1")):
        body = {"organization_id": org_id, "stripe_account_id": account}
        assert (await fresh_core.post("create-connect-account", body))[0] in (200, 201)

    assert await get(fresh_core, "accounts") == (
        200,
        {
            "accounts": [
                {
                    "organization_id": other,
                    "stripe_account_id": "acct_A1",
                    "stripe_connect_status": "pending",
                    "onboarding_rejection_reason": None,
                },
                {
                    "organization_id": acme,
                    "stripe_account_id": "acct_B2",
                    "stripe_connect_status": "pending",
                    "onboarding_rejection_reason": None,
                },
            ]
        },
    )


async def test_a_checkpoint_only_moves_forward(fresh_core: Core) -> None:
    assert await get(fresh_core, "checkpoints") == (200, {"checkpoints": []})
    first = {"scope": "platform", "event_created": 1_795_000_000, "event_id": "evt_2"}
    status, body = await fresh_core.post("reconciliation/checkpoints", first)
    assert status == 200
    assert body["advanced"] is True
    older = {"scope": "platform", "event_created": 1_794_000_000, "event_id": "evt_1"}
    status, body = await fresh_core.post("reconciliation/checkpoints", older)
    assert status == 200
    assert body["advanced"] is False
    assert body["checkpoint"]["event_id"] == "evt_2"
    account = {"scope": "acct_A1", "event_created": 1_794_000_000, "event_id": "evt_3"}
    assert (await fresh_core.post("reconciliation/checkpoints", account))[1]["advanced"] is True

    _, listed = await get(fresh_core, "checkpoints")
    assert [(c["scope"], c["event_created"], c["event_id"]) for c in listed["checkpoints"]] == [
        ("acct_A1", 1_794_000_000, "evt_3"),
        ("platform", 1_795_000_000, "evt_2"),
    ]


async def test_a_checkpoint_names_the_platform_or_an_account_and_nothing_else(
    fresh_core: Core,
) -> None:
    for scope in ("acct_", "Platform", "acct_1'; DROP TABLE x", ""):
        body = {"scope": scope, "event_created": 1, "event_id": "evt_1"}
        status, reply = await fresh_core.post("reconciliation/checkpoints", body)
        assert status == 400, scope
        assert reply["error"]["code"] == "invalid_request"
    assert await get(fresh_core, "checkpoints") == (200, {"checkpoints": []})
