from __future__ import annotations

from typing import Any

import pytest

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org


def reserve_body(org_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "idempotency_key": "order-42",
        "request_hash": "a" * 64,
        "gross_amount": 10000,
        "fee_amount": 1000,
        "net_amount": 9000,
        "currency": "usd",
        "stripe_account_id": "acct_A1",
        **changes,
    }


async def test_reserve_then_replay_then_reuse_with_another_request(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    status, first = await fresh_core.post("transfers/reserve", reserve_body(org_id))
    assert status == 201
    assert first["created"] is True
    assert first["transfer"]["status"] == "pending"
    assert first["transfer"]["gross_amount"] == 10000
    status, again = await fresh_core.post("transfers/reserve", reserve_body(org_id))
    assert status == 200
    assert again == {"created": False, "transfer": first["transfer"]}
    status, body = await fresh_core.post(
        "transfers/reserve",
        reserve_body(org_id, request_hash="b" * 64, gross_amount=20000, net_amount=19000),
    )
    assert status == 409
    assert body["error"]["code"] == "idempotency_key_reused"
    rows = await fresh_core.db.prepare("SELECT COUNT(*) AS n FROM connect_transfer").first()
    assert rows == {"n": 1}


@pytest.mark.parametrize(
    "changes",
    [
        {"fee_amount": 1001},
        {"gross_amount": -1, "fee_amount": 0, "net_amount": -1},
        {"gross_amount": 100.5},
        {"gross_amount": True},
        {"currency": "USD"},
        {"currency": "usdx"},
        {"stripe_account_id": "acc_1"},
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 256},
        {"idempotency_key": "bad\nkey"},
    ],
)
async def test_reserve_refuses_bad_money_and_ids(fresh_core: Core, changes: dict[str, Any]) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post("transfers/reserve", reserve_body(org_id, **changes))
    assert status == 400, body
    assert await fresh_core.db.prepare("SELECT 1 FROM connect_transfer").first() is None


async def test_reserve_for_a_missing_org_is_404(fresh_core: Core) -> None:
    status, body = await fresh_core.post("transfers/reserve", reserve_body("missing"))
    assert status == 404
    assert body["error"]["code"] == "organization_not_found"


async def test_complete_moves_pending_once_then_sync_reverses(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("transfers/reserve", reserve_body(org_id))
    done = {
        "organization_id": org_id,
        "idempotency_key": "order-42",
        "status": "succeeded",
        "stripe_transfer_id": "tr_1",
    }
    status, body = await fresh_core.post("transfers/complete", done)
    assert status == 200
    assert body["transfer"]["status"] == "succeeded"
    assert body["transfer"]["stripe_transfer_id"] == "tr_1"
    # A finished row is returned unchanged.
    status, body = await fresh_core.post(
        "transfers/complete", {**done, "status": "failed", "stripe_transfer_id": "tr_2"}
    )
    assert body["transfer"]["status"] == "succeeded"
    assert body["transfer"]["stripe_transfer_id"] == "tr_1"
    status, body = await fresh_core.post(
        "transfers/sync", {"stripe_transfer_id": "tr_1", "amount_reversed": 100, "reversed": False}
    )
    assert body["transfer"]["amount_reversed"] == 100
    assert body["transfer"]["status"] == "succeeded"
    status, body = await fresh_core.post(
        "transfers/sync", {"stripe_transfer_id": "tr_1", "amount_reversed": 9000, "reversed": True}
    )
    assert body["transfer"]["status"] == "reversed"
    status, body = await fresh_core.post(
        "transfers/sync", {"stripe_transfer_id": "tr_x", "amount_reversed": 0, "reversed": False}
    )
    assert status == 404
    assert body["error"]["code"] == "transfer_not_found"
    status, _ = await fresh_core.post("transfers/complete", {**done, "idempotency_key": "other"})
    assert status == 404


def payout(org_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "stripe_payout_id": "po_1",
        "organization_id": org_id,
        "stripe_account_id": "acct_A1",
        "amount": 5000,
        "currency": "eur",
        "status": "pending",
        "arrival_date": 1795800000,
        "event_created": 100,
        **changes,
    }


async def test_payout_upsert_ignores_older_events(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post("payouts/upsert", payout(org_id))
    assert status == 200
    assert body["updated"] is True
    assert body["payout"]["failure_code"] is None
    assert body["payout"]["updated_at"]
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, status="paid", event_created=200)
    )
    assert body["updated"] is True
    assert body["payout"]["status"] == "paid"
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, status="in_transit", event_created=150)
    )
    assert body["updated"] is False
    assert body["payout"]["status"] == "paid"
    status, _ = await fresh_core.post("payouts/upsert", payout(org_id, status="lost"))
    assert status == 400
