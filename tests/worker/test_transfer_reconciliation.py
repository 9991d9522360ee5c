"""`transfers/sync` finishing a `pending` row from the Stripe transfer's metadata (the backend died
after Stripe made the transfer and before `transfers/complete`)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_transfers_and_payouts import reserve_body


def sync_body(org_id: str | None, transfer_id: str = "tr_9", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "stripe_transfer_id": transfer_id,
        "amount_reversed": 0,
        "reversed": False,
    }
    if org_id is not None:
        body.update(
            organization_id=org_id,
            idempotency_key="order-42",
            amount=9000,
            currency="usd",
            destination="acct_A1",
        )
    body.update(changes)
    return body


async def _row(core: Core) -> dict[str, Any] | None:
    return (
        await core.db.prepare(
            'SELECT "status", "stripe_transfer_id", "amount_reversed" FROM "connect_transfer" '
            'WHERE "idempotency_key" = ?'
        )
        .bind("order-42")
        .first()
    )


async def _reserve(core: Core) -> str:
    org_id = make_org(core)
    assert (await core.post("transfers/reserve", reserve_body(org_id)))[0] == 201
    return org_id


async def test_a_pending_row_takes_the_transfer_its_metadata_names(fresh_core: Core) -> None:
    org_id = await _reserve(fresh_core)
    status, body = await fresh_core.post("transfers/sync", sync_body(org_id))
    assert status == 200, body
    assert body["transfer"]["status"] == "succeeded"
    assert body["transfer"]["stripe_transfer_id"] == "tr_9"
    assert body["transfer"]["idempotency_key"] == "order-42"
    # The backend's own late `complete` (it was slow, not dead) changes nothing.
    late = {
        "organization_id": org_id,
        "idempotency_key": "order-42",
        "status": "succeeded",
        "stripe_transfer_id": "tr_9",
    }
    assert (await fresh_core.post("transfers/complete", late))[1]["transfer"] == body["transfer"]
    # Later events find the row by its Stripe id, with or without the metadata.
    status, body = await fresh_core.post(
        "transfers/sync", sync_body(None, amount_reversed=500, reversed=False)
    )
    assert (status, body["transfer"]["amount_reversed"]) == (200, 500)


async def test_a_reversal_seen_first_finishes_and_reverses_in_one_call(fresh_core: Core) -> None:
    org_id = await _reserve(fresh_core)
    status, body = await fresh_core.post(
        "transfers/sync", sync_body(org_id, amount_reversed=9000, reversed=True)
    )
    assert (status, body["transfer"]["status"]) == (200, "reversed")
    assert await _row(fresh_core) == {
        "status": "reversed",
        "stripe_transfer_id": "tr_9",
        "amount_reversed": 9000,
    }


@pytest.mark.parametrize(
    "changes",
    [{"amount": 8999}, {"currency": "eur"}, {"destination": "acct_B2"}],
)
async def test_a_pending_row_whose_money_differs_is_left_alone(
    fresh_core: Core, changes: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    org_id = await _reserve(fresh_core)
    with caplog.at_level(logging.WARNING, logger="connect_worker"):
        status, body = await fresh_core.post("transfers/sync", sync_body(org_id, **changes))
    assert (status, body["error"]["code"]) == (409, "transfer_mismatch")
    assert await _row(fresh_core) == {
        "status": "pending",
        "stripe_transfer_id": None,
        "amount_reversed": 0,
    }
    assert "tr_9" in caplog.text
    assert "order-42" not in caplog.text


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
async def test_a_finished_row_never_takes_another_transfer(fresh_core: Core, outcome: str) -> None:
    org_id = await _reserve(fresh_core)
    done: dict[str, Any] = {"organization_id": org_id, "idempotency_key": "order-42"}
    done.update(status=outcome, stripe_transfer_id="tr_1" if outcome == "succeeded" else None)
    assert (await fresh_core.post("transfers/complete", done))[0] == 200
    before = await _row(fresh_core)
    status, body = await fresh_core.post(
        "transfers/sync", sync_body(org_id, amount_reversed=9000, reversed=True)
    )
    assert (status, body["error"]["code"]) == (409, "transfer_mismatch")
    assert await _row(fresh_core) == before


async def test_a_transfer_already_in_the_ledger_is_never_moved_to_another_row(
    fresh_core: Core,
) -> None:
    org_id = await _reserve(fresh_core)
    other = reserve_body(org_id, idempotency_key="order-1")
    assert (await fresh_core.post("transfers/reserve", other))[0] == 201
    done = {
        "organization_id": org_id,
        "idempotency_key": "order-1",
        "status": "succeeded",
        "stripe_transfer_id": "tr_9",
    }
    assert (await fresh_core.post("transfers/complete", done))[0] == 200
    status, body = await fresh_core.post("transfers/sync", sync_body(org_id))
    assert (status, body["transfer"]["idempotency_key"]) == (200, "order-1")
    assert await _row(fresh_core) == {
        "status": "pending",
        "stripe_transfer_id": None,
        "amount_reversed": 0,
    }


async def test_without_metadata_or_a_row_for_it_the_transfer_is_not_found(
    fresh_core: Core,
) -> None:
    org_id = await _reserve(fresh_core)
    for body in (sync_body(None), sync_body(org_id, idempotency_key="order-43")):
        status, reply = await fresh_core.post("transfers/sync", body)
        assert (status, reply["error"]["code"]) == (404, "transfer_not_found")
    assert (await _row(fresh_core) or {})["status"] == "pending"


@pytest.mark.parametrize("dropped", ["organization_id", "idempotency_key", "amount", "destination"])
async def test_the_metadata_fields_come_all_together(fresh_core: Core, dropped: str) -> None:
    org_id = await _reserve(fresh_core)
    body = sync_body(org_id)
    del body[dropped]
    status, reply = await fresh_core.post("transfers/sync", body)
    assert (status, reply["error"]["code"]) == (400, "invalid_request")
    assert dropped in reply["error"]["message"]
    assert (await _row(fresh_core) or {})["status"] == "pending"
