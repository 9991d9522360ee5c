"""Transfers backed by a payment: the reservation takes only what is left of it, atomically."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_transfers_and_payouts import reserve_body


def payment(org_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "payment_intent_id": "pi_A1",
        "organization_id": org_id,
        "charge_id": "ch_A1",
        "amount": 10000,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "created": 1_700_000_000,
        **changes,
    }


def sourced(org_id: str, key: str, gross: int, **changes: Any) -> dict[str, Any]:
    fee = gross // 10
    body = reserve_body(
        org_id,
        idempotency_key=key,
        gross_amount=gross,
        fee_amount=fee,
        net_amount=gross - fee,
        source_transaction="ch_A1",
        payment=payment(org_id),
        initiated_by="member",
    )
    body.pop("reason")
    body.update(changes)
    return body


async def _remaining(core: Core, org_id: str) -> list[int]:
    status, body = await core.call("GET", f"/api/internal/payments/{org_id}/untransferred")
    assert status == 200
    return [p["amount_remaining"] for p in body["payments"]]


async def test_a_payment_is_reserved_once_and_the_ledger_records_its_source(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    status, first = await fresh_core.post("transfers/reserve", sourced(org_id, "k1", 10000))
    assert status == 201, first
    row = first["transfer"]
    assert (row["source_transaction"], row["source_seq"], row["initiated_by"]) == (
        "ch_A1",
        1,
        "member",
    )
    assert await _remaining(fresh_core, org_id) == []
    status, again = await fresh_core.post("transfers/reserve", sourced(org_id, "k1", 10000))
    assert status == 200
    assert again["created"] is False
    status, body = await fresh_core.post("transfers/reserve", sourced(org_id, "k2", 1))
    assert status == 409
    assert body["error"]["code"] == "source_exhausted"


async def test_partial_transfers_add_up_to_the_payment_and_never_past_it(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("transfers/reserve", sourced(org_id, "a", 6000)))[0] == 201
    assert await _remaining(fresh_core, org_id) == [4000]
    status, body = await fresh_core.post("transfers/reserve", sourced(org_id, "b", 4001))
    assert (status, body["error"]["code"]) == (409, "source_exhausted")
    assert "4000" in body["error"]["message"]
    status, second = await fresh_core.post("transfers/reserve", sourced(org_id, "b", 4000))
    assert status == 201
    assert second["transfer"]["source_seq"] == 2


async def test_refunds_reduce_what_is_left(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    refunded = payment(org_id, amount_refunded=7000)
    status, body = await fresh_core.post(
        "transfers/reserve", sourced(org_id, "a", 3001, payment=refunded)
    )
    assert (status, body["error"]["code"]) == (409, "source_exhausted")
    status, _ = await fresh_core.post(
        "transfers/reserve", sourced(org_id, "a", 3000, payment=refunded)
    )
    assert status == 201


async def test_a_refund_never_shrinks_back_when_an_older_view_arrives(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("payments/record", payment(org_id, amount_refunded=9000)))[
        0
    ] == 200
    status, body = await fresh_core.post("transfers/reserve", sourced(org_id, "a", 2000))
    assert (status, body["error"]["code"]) == (409, "source_exhausted")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "eur"}, "source_currency_mismatch"),
        ({"status": "processing"}, "source_not_succeeded"),
    ],
)
async def test_a_payment_in_another_state_or_currency_is_refused(
    fresh_core: Core, changes: dict[str, Any], code: str
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("payments/record", payment(org_id, **changes)))[0] == 200
    status, body = await fresh_core.post(
        "transfers/reserve", sourced(org_id, "a", 100, payment=payment(org_id, **changes))
    )
    assert (status, body["error"]["code"]) == (409, code)
    assert await fresh_core.db.prepare("SELECT 1 FROM connect_transfer").first() is None


async def test_another_organizations_payment_is_never_reserved(fresh_core: Core) -> None:
    mine = make_org(fresh_core, "org_mine")
    theirs = make_org(fresh_core, "org_theirs")
    assert (await fresh_core.post("payments/record", payment(theirs)))[0] == 200
    # The request claims the payment is "mine": the recorded owner wins.
    status, body = await fresh_core.post("transfers/reserve", sourced(mine, "a", 100))
    assert (status, body["error"]["code"]) == (409, "source_not_for_organization")
    status, body = await fresh_core.post("payments/record", payment(mine))
    assert (status, body["error"]["code"]) == (409, "payment_conflict")
    assert await fresh_core.db.prepare("SELECT 1 FROM connect_transfer").first() is None


async def test_twenty_reservations_with_the_same_view_of_the_payment_take_it_once(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    replies = await asyncio.gather(
        *(fresh_core.post("transfers/reserve", sourced(org_id, f"k{i}", 10000)) for i in range(20))
    )
    statuses = sorted(status for status, _ in replies)
    assert statuses == [201] + [409] * 19
    total = await fresh_core.db.prepare(
        'SELECT SUM("gross_amount") AS s FROM "connect_transfer"'
    ).first()
    assert total == {"s": 10000}


async def test_a_failed_transfer_gives_its_share_back_and_pruning_never_does(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("transfers/reserve", sourced(org_id, "a", 10000)))[0] == 201
    status, _ = await fresh_core.post(
        "transfers/complete",
        {"organization_id": org_id, "idempotency_key": "a", "status": "failed"},
    )
    assert status == 200
    assert await _remaining(fresh_core, org_id) == [10000]
    assert (await fresh_core.post("transfers/reserve", sourced(org_id, "b", 10000)))[0] == 201
    await fresh_core.db.prepare('DELETE FROM "connect_transfer"').run()
    status, body = await fresh_core.post("transfers/reserve", sourced(org_id, "c", 1))
    assert (status, body["error"]["code"]) == (409, "source_exhausted")


async def test_an_adjustment_needs_a_reason_and_a_source_needs_its_payment(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    no_reason = reserve_body(org_id)
    no_reason.pop("reason")
    assert (await fresh_core.post("transfers/reserve", no_reason))[0] == 400
    no_payment = sourced(org_id, "a", 100)
    no_payment.pop("payment")
    assert (await fresh_core.post("transfers/reserve", no_payment))[0] == 400
    other_charge = sourced(org_id, "a", 100, payment=payment(org_id, charge_id="ch_B2"))
    assert (await fresh_core.post("transfers/reserve", other_charge))[0] == 400
