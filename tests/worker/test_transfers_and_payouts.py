from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
        "reason": "goodwill credit",
        "initiated_by": "operator",
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


@pytest.mark.parametrize("idempotency_key", [None, "payout-1"])
async def test_payout_events_of_the_same_second_never_step_back(
    fresh_core: Core, idempotency_key: str | None
) -> None:
    org_id = make_org(fresh_core)
    if idempotency_key is not None:
        await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    extra = {} if idempotency_key is None else {"idempotency_key": idempotency_key}
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, status="paid", event_created=300, **extra)
    )
    assert body["payout"]["status"] == "paid"
    # payout.created (pending) of the same second, delivered late: the payout stays paid.
    for late in ("pending", "in_transit"):
        _, body = await fresh_core.post(
            "payouts/upsert", payout(org_id, status=late, event_created=300, **extra)
        )
        assert body["updated"] is False
        assert body["payout"]["status"] == "paid"
    # Forward moves within the same second still apply.
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, status="failed", event_created=300, **extra)
    )
    assert body["payout"]["status"] == "failed"


def transfer_path(org_id: str, key: str) -> str:
    return f"/api/internal/transfers/{quote(org_id, safe='')}/{quote(key, safe='')}"


@pytest.mark.parametrize("key", ["order-42", "a/b?c#d%e f", "' OR 1=1 --"])
async def test_get_transfer_finds_the_row_by_org_and_key(fresh_core: Core, key: str) -> None:
    org_id = make_org(fresh_core)
    other_org = make_org(fresh_core, "globex")
    status, reserved = await fresh_core.post(
        "transfers/reserve", reserve_body(org_id, idempotency_key=key)
    )
    assert status == 201
    status, body = await fresh_core.call("GET", transfer_path(org_id, key))
    assert (status, body) == (200, {"transfer": reserved["transfer"]})
    # The same key in another organization is another (absent) row.
    status, body = await fresh_core.call("GET", transfer_path(other_org, key))
    assert (status, body["error"]["code"]) == (404, "transfer_not_found")


@pytest.mark.parametrize(
    "key", ["missing", "' OR '1'='1", "%", "order-42'; DROP TABLE connect_transfer; --"]
)
async def test_get_transfer_of_an_unknown_or_sql_looking_key_is_404(
    fresh_core: Core, key: str
) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("transfers/reserve", reserve_body(org_id))
    status, body = await fresh_core.call("GET", transfer_path(org_id, key))
    assert (status, body["error"]["code"]) == (404, "transfer_not_found")
    status, body = await fresh_core.call("GET", transfer_path("' OR 1=1 --", "order-42"))
    assert (status, body["error"]["code"]) == (404, "transfer_not_found")
    rows = await fresh_core.db.prepare("SELECT COUNT(*) AS n FROM connect_transfer").first()
    assert rows == {"n": 1}


async def test_get_transfer_needs_the_api_key(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("transfers/reserve", reserve_body(org_id))
    for key in (None, "wrong" * 10):
        status, body = await fresh_core.call("GET", transfer_path(org_id, "order-42"), key=key)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await fresh_core.call("POST", transfer_path(org_id, "order-42"), {})
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


def payout_reserve(org_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "idempotency_key": "payout-1",
        "request_hash": "p" * 64,
        "amount": 5000,
        "currency": "eur",
        "stripe_account_id": "acct_A1",
        **changes,
    }


def payout_path(org_id: str, key: str) -> str:
    return f"/api/internal/payouts/{quote(org_id, safe='')}/{quote(key, safe='')}"


async def test_payout_reserve_then_replay_then_reuse_with_another_request(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    status, first = await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    assert status == 201
    assert first["created"] is True
    assert first["payout"]["status"] == "reserved"
    assert first["payout"]["stripe_payout_id"] is None
    assert first["payout"]["amount"] == 5000
    status, again = await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    assert (status, again) == (200, {"created": False, "payout": first["payout"]})
    status, body = await fresh_core.post(
        "payouts/reserve", payout_reserve(org_id, request_hash="q" * 64, amount=1)
    )
    assert (status, body["error"]["code"]) == (409, "idempotency_key_reused")
    status, body = await fresh_core.post("payouts/reserve", payout_reserve("missing"))
    assert (status, body["error"]["code"]) == (404, "organization_not_found")
    status, found = await fresh_core.call("GET", payout_path(org_id, "payout-1"))
    assert (status, found) == (200, {"payout": first["payout"]})
    for key in ("payout-2", "' OR 1=1 --"):
        status, body = await fresh_core.call("GET", payout_path(org_id, key))
        assert (status, body["error"]["code"]) == (404, "payout_not_found")
    status, body = await fresh_core.call("GET", payout_path(org_id, "payout-1"), key=None)
    assert status == 401


async def test_payout_refusal_is_recorded_once(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    refuse = {
        "organization_id": org_id,
        "idempotency_key": "payout-1",
        "failure_code": "balance_insufficient",
        "failure_message": "Not enough funds.",
    }
    status, body = await fresh_core.post("payouts/refuse", refuse)
    assert status == 200
    assert (body["payout"]["status"], body["payout"]["failure_code"]) == (
        "refused",
        "balance_insufficient",
    )
    status, body = await fresh_core.post("payouts/refuse", {**refuse, "failure_code": "other"})
    assert body["payout"]["failure_code"] == "balance_insufficient"
    status, body = await fresh_core.post("payouts/refuse", {**refuse, "idempotency_key": "x"})
    assert (status, body["error"]["code"]) == (404, "payout_not_found")


async def test_payout_upsert_with_the_key_completes_the_reservation(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    # The webhook (it carries our key in metadata) may arrive before the route's own write.
    status, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, event_created=150, idempotency_key="payout-1")
    )
    assert (status, body["updated"]) == (200, True)
    assert body["payout"]["idempotency_key"] == "payout-1"
    assert body["payout"]["request_hash"] == "p" * 64
    assert (body["payout"]["stripe_payout_id"], body["payout"]["status"]) == ("po_1", "pending")
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, event_created=100, idempotency_key="payout-1")
    )
    assert body["updated"] is False  # older than what is stored
    _, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, status="paid", event_created=300)
    )
    assert body["updated"] is True  # a keyless webhook still updates the keyed row
    assert (body["payout"]["status"], body["payout"]["idempotency_key"]) == ("paid", "payout-1")
    rows = await fresh_core.db.prepare("SELECT COUNT(*) AS n FROM connect_payout").first()
    assert rows == {"n": 1}


async def test_payout_upsert_folds_a_keyless_row_into_the_waiting_reservation(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    await fresh_core.post("payouts/upsert", payout(org_id))  # no key: stored on its own
    status, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, idempotency_key="payout-1", event_created=120)
    )
    assert status == 200, body
    assert (body["payout"]["stripe_payout_id"], body["payout"]["idempotency_key"]) == (
        "po_1",
        "payout-1",
    )
    rows = await fresh_core.db.prepare("SELECT COUNT(*) AS n FROM connect_payout").first()
    assert rows == {"n": 1}


async def test_payout_upsert_never_gives_a_key_two_stripe_payouts(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payouts/reserve", payout_reserve(org_id))
    await fresh_core.post("payouts/upsert", payout(org_id, idempotency_key="payout-1"))
    _, body = await fresh_core.post(
        "payouts/upsert",
        payout(org_id, stripe_payout_id="po_2", idempotency_key="payout-1", event_created=200),
    )
    assert (body["payout"]["stripe_payout_id"], body["payout"]["idempotency_key"]) == ("po_2", None)
    _, found = await fresh_core.call("GET", payout_path(org_id, "payout-1"))
    assert found["payout"]["stripe_payout_id"] == "po_1"


# --- a Stripe id already recorded elsewhere is a 409 of its own, never an outage -------------


async def _succeeded(core: Core, org_id: str, key: str, transfer_id: str) -> tuple[int, Any]:
    return await core.post(
        "transfers/complete",
        {
            "organization_id": org_id,
            "idempotency_key": key,
            "status": "succeeded",
            "stripe_transfer_id": transfer_id,
        },
    )


@pytest.mark.parametrize("other_org", [False, True])
async def test_completing_with_a_stripe_transfer_already_recorded_elsewhere_is_409(
    fresh_core: Core, other_org: bool
) -> None:
    org_a = make_org(fresh_core)
    org_b = make_org(fresh_core, "globex") if other_org else org_a
    await fresh_core.post("transfers/reserve", reserve_body(org_a, idempotency_key="k1"))
    await fresh_core.post("transfers/reserve", reserve_body(org_b, idempotency_key="k2"))
    assert (await _succeeded(fresh_core, org_a, "k1", "tr_1"))[0] == 200
    status, body = await _succeeded(fresh_core, org_b, "k2", "tr_1")
    assert status == 409, body
    assert body["error"]["code"] == "stripe_id_conflict"
    rows = await fresh_core.db.prepare(
        'SELECT "idempotency_key", "status", "stripe_transfer_id" FROM connect_transfer '
        'ORDER BY "idempotency_key"'
    ).all()
    assert rows == [
        {"idempotency_key": "k1", "status": "succeeded", "stripe_transfer_id": "tr_1"},
        {"idempotency_key": "k2", "status": "pending", "stripe_transfer_id": None},
    ]


async def test_a_payout_of_one_org_is_never_rewritten_through_another_orgs_request(
    fresh_core: Core,
) -> None:
    org_a = make_org(fresh_core)
    org_b = make_org(fresh_core, "globex")
    await fresh_core.post("payouts/upsert", payout(org_a))
    before = await fresh_core.db.prepare("SELECT * FROM connect_payout").all()
    status, body = await fresh_core.post(
        "payouts/upsert",
        payout(
            org_b,
            stripe_account_id="acct_B2",
            amount=1,
            currency="usd",
            status="failed",
            failure_code="account_closed",
            event_created=500,
        ),
    )
    assert status == 409, body
    assert body["error"]["code"] == "stripe_id_conflict"
    assert "payout" not in body  # nothing of org A's row is shown to org B's caller
    assert await fresh_core.db.prepare("SELECT * FROM connect_payout").all() == before


async def test_a_reservation_cannot_take_a_stripe_payout_recorded_for_another_key(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payouts/reserve", payout_reserve(org_id, idempotency_key="payout-1"))
    await fresh_core.post("payouts/upsert", payout(org_id, idempotency_key="payout-1"))
    await fresh_core.post(
        "payouts/reserve",
        payout_reserve(org_id, idempotency_key="payout-2", request_hash="q" * 64),
    )
    status, body = await fresh_core.post(
        "payouts/upsert", payout(org_id, idempotency_key="payout-2", event_created=300)
    )
    assert (status, body["error"]["code"]) == (409, "stripe_id_conflict")
    # po_1 stays payout-1's, and payout-2 keeps waiting for its own payout.
    _, first = await fresh_core.call("GET", payout_path(org_id, "payout-1"))
    assert first["payout"]["stripe_payout_id"] == "po_1"
    _, waiting = await fresh_core.call("GET", payout_path(org_id, "payout-2"))
    assert (waiting["payout"]["status"], waiting["payout"]["stripe_payout_id"]) == (
        "reserved",
        None,
    )
