"""A transfer whose request died after Stripe made it is finished by its `transfer.*` webhook."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from backend.stripe_side.stripe_events import EventRejected, TransferObject, parse_as
from backend.stripe_side.stripe_gateway import idempotency_key
from backend.stripe_side.webhook_verification import sign_header
from backend.webhooks.webhook_handlers import _transfer_origin
from backend.worker_side.worker_models import TransferOrigin
from tests.backend.conftest import eventually
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


async def _transfer(
    client: httpx.AsyncClient, stack: BackendStack, key: str, charge: str
) -> httpx.Response:
    return await client.post(
        "/api/connect/transfer",
        json={"organization_id": stack.org_id, "source_transaction": charge},
        headers=stack.auth("admin", Idempotency_Key=key),
    )


def _ledger(stack: BackendStack) -> dict[str, Any] | None:
    return stack.worker.row(
        "SELECT status, stripe_transfer_id, net_amount, gross_amount, fee_amount "
        "FROM connect_transfer"
    )


async def _left_pending(
    client: httpx.AsyncClient, stack: BackendStack, key: str, charge: str
) -> None:
    """A request that reserved its ledger row and never finished it (Stripe failed that time)."""
    await stack.stripe.aio.set_faults("error_500", count=1, path="/v1/transfers")
    try:
        first = await _transfer(client, stack, key, charge)
    finally:
        await stack.stripe.aio.clear_faults()
    assert first.status_code == 502, first.text
    assert (_ledger(stack) or {}).get("status") == "pending"


async def test_a_transfer_made_by_a_dead_request_is_finished_by_its_webhook_and_replayed(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    stack = backend_stack
    account_id = await activated()
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    await _left_pending(client, stack, "order-9", charge)
    row = _ledger(stack)
    assert row is not None
    assert row["stripe_transfer_id"] is None

    # The client's retry reached Stripe and its process died before `transfers/complete`: the
    # exact call `TransferOperation.send` makes, with the same Stripe idempotency key and metadata.
    async with stack.stripe.client() as stripe:
        made = await stripe.v1.transfers.create_async(
            {
                "amount": row["net_amount"],
                "currency": "usd",
                "destination": account_id,
                "source_transaction": charge,
                "metadata": {
                    "organization_id": stack.org_id,
                    "idempotency_key": "order-9",
                    "gross_amount": str(row["gross_amount"]),
                    "fee_amount": str(row["fee_amount"]),
                    "source_transaction": charge,
                },
            },
            {"idempotency_key": idempotency_key("source-transfer", charge, "1")},
        )

    async def finished() -> bool:
        return (_ledger(stack) or {}).get("status") == "succeeded"

    await eventually(finished, what="transfer.created to finish the pending ledger row")
    assert (_ledger(stack) or {})["stripe_transfer_id"] == made.id

    # With Stripe unreachable, only the ledger can answer the replay.
    await stack.stripe.aio.set_faults("down")
    try:
        replay = await _transfer(client, stack, "order-9", charge)
    finally:
        await stack.stripe.aio.clear_faults()
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert (replay.json()["stripe_transfer_id"], replay.json()["status"]) == (made.id, "succeeded")
    async with stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"destination": account_id})
    assert [t.id for t in listed.data] == [made.id]


async def test_a_transfer_whose_money_differs_from_its_row_is_acknowledged_not_applied(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    stack = backend_stack
    account_id = await activated()
    charge = await stack.stripe.paid(stack.org_id, 10_000)
    await _left_pending(client, stack, "order-10", charge)
    row = _ledger(stack)
    assert row is not None
    event = {
        "id": "evt_mismatch_1",
        "object": "event",
        "type": "transfer.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "tr_not_ours_1",
                "object": "transfer",
                "amount": row["net_amount"] + 1,
                "amount_reversed": 0,
                "currency": "usd",
                "destination": account_id,
                "reversed": False,
                "metadata": {"organization_id": stack.org_id, "idempotency_key": "order-10"},
            }
        },
    }
    body = json.dumps(event).encode()
    headers = {
        "Stripe-Signature": sign_header(body, secret=stack.stripe.webhook_secret),
        "Content-Type": "application/json",
    }
    r = await client.post("/api/connect/webhook", content=body, headers=headers)
    assert r.status_code == 200, r.text  # retrying cannot fix it: Stripe must not retry
    assert stack.worker.row(
        "SELECT status FROM connect_webhook_event WHERE event_id = ?", "evt_mismatch_1"
    ) == {"status": "processed"}
    assert (_ledger(stack) or {})["status"] == "pending"
    assert (_ledger(stack) or {})["stripe_transfer_id"] is None


GOOD = {
    "id": "tr_1",
    "amount": 9000,
    "currency": "usd",
    "destination": "acct_1",
    "metadata": {"organization_id": "org_1", "idempotency_key": "order/42 a"},
}


def _origin_of(transfer: dict[str, Any]) -> TransferOrigin | None:
    """As the webhook reads it: a transfer that does not parse is rejected whole, naming no row."""
    try:
        return _transfer_origin(parse_as(TransferObject, transfer))
    except EventRejected:
        return None


def test_the_origin_is_read_from_our_metadata_and_the_money_fields() -> None:
    assert _origin_of(GOOD) == TransferOrigin(
        organization_id="org_1",
        idempotency_key="order/42 a",
        amount=9000,
        currency="usd",
        destination="acct_1",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {}},
        {"metadata": None},
        {"metadata": {"organization_id": "org_1"}},
        {"metadata": {"organization_id": "org_1", "idempotency_key": "bad\nkey"}},
        {"metadata": {"organization_id": "org_1", "idempotency_key": "k" * 256}},
        {"metadata": {"organization_id": "", "idempotency_key": "order-42"}},
        {"amount": "9000"},
        {"amount": None},
        {"currency": "USD"},
        {"destination": {"id": "acct_1"}},
    ],
)
def test_metadata_the_worker_would_refuse_is_not_sent(changes: dict[str, Any]) -> None:
    assert _origin_of({**GOOD, **changes}) is None
