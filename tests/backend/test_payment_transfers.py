"""Transfers are backed by a payment the platform collected for the organization, or made by the
operator: real backend, Worker core over SQLite and the Stripe fake, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.backend.conftest import activate, answer, eventually, settle_webhooks
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]
PLATFORM_KEY = "platform-key-for-tests-0123456789abcdef"
OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"


@pytest.fixture
def backend_stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(
        env={
            "PLATFORM_API_KEY": PLATFORM_KEY,
            "OPERATOR_API_KEY": OPERATOR_KEY,
            "MIN_TRANSFER_AMOUNTS": "usd:100,eur:100",
        }
    )


async def _claim(
    client: httpx.AsyncClient,
    stack: BackendStack,
    key: str,
    *,
    who: str = "owner",
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    auth = headers if headers is not None else stack.auth(who)
    return await client.post(
        "/api/connect/transfer",
        json={"organization_id": stack.org_id, **body},
        headers={**auth, "Idempotency-Key": key},
    )


def _code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_owner_claims_a_payment_fee_kept_and_the_ledger_records_its_source(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 12_345)
    r = await _claim(client, backend_stack, "claim-1", source_transaction=charge)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["gross_amount"], body["fee_amount"], body["net_amount"]) == (12_345, 1_235, 11_110)
    assert body["source_transaction"] == charge
    async with backend_stack.stripe.client() as stripe:
        transfer = await stripe.v1.transfers.retrieve_async(body["stripe_transfer_id"])
    assert (transfer.amount, transfer.destination, transfer.source_transaction) == (
        11_110,
        account_id,
        charge,
    )
    row = backend_stack.worker.row(
        "SELECT source_transaction, source_seq, initiated_by, fee_amount + net_amount AS total "
        "FROM connect_transfer"
    )
    assert row == {
        "source_transaction": charge,
        "source_seq": 1,
        "initiated_by": "member",
        "total": 12_345,
    }
    again = await _claim(client, backend_stack, "claim-2", source_transaction=charge)
    assert _code(again) == (409, "source_exhausted")


async def test_the_payment_intent_id_names_its_charge_and_a_partial_claim_leaves_the_rest(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    async with backend_stack.stripe.client() as stripe:
        intent_id = (await stripe.v1.charges.retrieve_async(charge)).payment_intent
    assert isinstance(intent_id, str)
    r = await _claim(
        client, backend_stack, "part-1", source_transaction=intent_id, amount=6_000, currency="USD"
    )
    assert r.status_code == 201, r.text
    assert r.json()["source_transaction"] == charge
    listed = await client.get(
        f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("admin")
    )
    assert listed.status_code == 200, listed.text
    assert [(p["payment_intent_id"], p["amount_remaining"]) for p in listed.json()["payments"]] == [
        (intent_id, 4_000)
    ]
    rest = await _claim(client, backend_stack, "part-2", source_transaction=charge)
    assert (rest.status_code, rest.json()["gross_amount"]) == (201, 4_000)
    empty = await client.get(
        f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("owner")
    )
    assert empty.json()["payments"] == []


async def test_twelve_keys_claiming_one_payment_at_once_transfer_it_once(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    # Here the requests mostly serialize on the fake; the race with every reservation released
    # into the Worker at the same moment is tests/reliability/test_concurrency.py.
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 50_000)
    replies = await asyncio.gather(
        *(_claim(client, backend_stack, f"race-{i}", source_transaction=charge) for i in range(12))
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [409] * 11, [r.text for r in replies]
    assert {r.json()["error"]["code"] for r in replies if r.status_code == 409} == {
        "source_exhausted"
    }
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"limit": 100})
    assert [t.amount for t in listed.data if t.source_transaction == charge] == [45_000]
    assert backend_stack.worker.row("SELECT SUM(gross_amount) AS s FROM connect_transfer") == {
        "s": 50_000
    }


async def test_an_owner_cannot_claim_another_organizations_payment(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    theirs = await backend_stack.stripe.paid(backend_stack.other_org_id, 10_000)
    r = await _claim(client, backend_stack, "steal", source_transaction=theirs)
    assert _code(r) == (404, "source_not_found")
    unknown = await _claim(client, backend_stack, "probe", source_transaction="ch_doesnotexist")
    assert answer(unknown) == answer(r)  # the same answer: no probing of other orgs' payments
    assert backend_stack.worker.row("SELECT COUNT(*) AS n FROM connect_transfer") == {"n": 0}


async def test_an_untagged_payment_is_refused_and_request_metadata_cannot_forge_the_org(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    async with backend_stack.stripe.client() as stripe:
        untagged = await stripe.v1.payment_intents.create_async(
            {"amount": 5_000, "currency": "usd"}
        )
    await backend_stack.stripe.aio.succeed_payment_intent(untagged.id)
    r = await _claim(client, backend_stack, "untagged", source_transaction=untagged.id)
    assert _code(r) == (404, "source_not_found")
    # The caller's metadata cannot name another organization (or ledger row) on the transfer.
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 5_000)
    forged = {"organization_id": backend_stack.other_org_id, "idempotency_key": "theirs"}
    r = await _claim(client, backend_stack, "mine", source_transaction=charge, metadata=forged)
    assert r.status_code == 201, r.text
    async with backend_stack.stripe.client() as stripe:
        transfer = await stripe.v1.transfers.retrieve_async(r.json()["stripe_transfer_id"])
    assert transfer.metadata["organization_id"] == backend_stack.org_id
    assert transfer.metadata["idempotency_key"] == "mine"


async def test_a_payment_not_yet_succeeded_is_refused(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    async with backend_stack.stripe.client() as stripe:
        intent = await stripe.v1.payment_intents.create_async(
            {
                "amount": 5_000,
                "currency": "usd",
                "metadata": {"organization_id": backend_stack.org_id},
            }
        )
    r = await _claim(client, backend_stack, "early", source_transaction=intent.id)
    assert _code(r) == (409, "source_not_succeeded")


async def test_more_than_is_left_a_refunded_payment_and_another_currency_are_refused(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    too_much = await _claim(client, backend_stack, "much", source_transaction=charge, amount=10_001)
    assert _code(too_much) == (409, "source_exhausted")
    eur = await _claim(client, backend_stack, "eur", source_transaction=charge, currency="eur")
    assert _code(eur) == (409, "source_currency_mismatch")
    async with backend_stack.stripe.client() as stripe:
        await stripe.v1.refunds.create_async({"charge": charge, "amount": 7_000})
    after_refund = await _claim(
        client, backend_stack, "refunded", source_transaction=charge, amount=3_001
    )
    assert _code(after_refund) == (409, "source_exhausted")
    assert "3000" in after_refund.json()["error"]["message"]
    rest = await _claim(client, backend_stack, "rest", source_transaction=charge)
    assert (rest.status_code, rest.json()["gross_amount"]) == (201, 3_000)
    async with backend_stack.stripe.client() as stripe:
        await stripe.v1.refunds.create_async({"charge": charge})
    gone = await _claim(client, backend_stack, "gone", source_transaction=charge)
    assert _code(gone) == (409, "source_refunded")  # refunded in full: a code of its own


async def test_crumbs_below_the_minimum_are_refused(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 1_000)
    crumb = await _claim(client, backend_stack, "crumb", source_transaction=charge, amount=99)
    assert _code(crumb) == (400, "below_minimum_transfer")
    leaves_crumb = await _claim(
        client, backend_stack, "most", source_transaction=charge, amount=950
    )
    assert _code(leaves_crumb) == (400, "below_minimum_transfer")
    ok = await _claim(client, backend_stack, "half", source_transaction=charge, amount=500)
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["fee_amount"] + body["net_amount"] == body["gross_amount"] == 500


@pytest.mark.parametrize("who", ["owner", "admin"])
async def test_no_source_is_refused_without_the_operator_key(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated, who: str
) -> None:
    await activated()
    await backend_stack.stripe.aio.fund(None, 10_000_000, "usd")
    amount_only = await _claim(
        client, backend_stack, "money", who=who, amount=99_999_999, currency="usd"
    )
    assert _code(amount_only) == (403, "operator_key_required")
    with_reason = await _claim(
        client, backend_stack, "money2", who=who, amount=1_000, currency="usd", reason="bonus"
    )
    assert _code(with_reason) == (403, "operator_key_required")
    as_platform = await _claim(
        client,
        backend_stack,
        "money3",
        headers={"X-Platform-Key": PLATFORM_KEY},
        amount=1_000,
        currency="usd",
        reason="bonus",
    )
    assert _code(as_platform) == (403, "operator_key_required")
    assert backend_stack.worker.row("SELECT COUNT(*) AS n FROM connect_transfer") == {"n": 0}


async def test_a_member_may_not_claim_and_an_outsider_is_refused(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 10_000)
    member = await _claim(client, backend_stack, "m", who="member", source_transaction=charge)
    assert member.status_code == 403
    outsider = await _claim(client, backend_stack, "o", who="outsider", source_transaction=charge)
    assert outsider.status_code == 403


async def test_the_operator_adjusts_without_a_source_and_the_reason_is_in_the_ledger(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    await backend_stack.stripe.aio.fund(None, 100_000, "usd")
    operator = {"X-Operator-Key": OPERATOR_KEY}
    no_reason = await _claim(
        client, backend_stack, "adj", headers=operator, amount=5_000, currency="usd"
    )
    assert _code(no_reason) == (400, "adjustment_incomplete")
    r = await _claim(
        client,
        backend_stack,
        "adj",
        headers=operator,
        amount=5_000,
        currency="usd",
        reason="refund of a double fee, ticket 42",
    )
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == "refund of a double fee, ticket 42"
    assert backend_stack.worker.row(
        "SELECT reason, initiated_by, source_transaction FROM connect_transfer"
    ) == {
        "reason": "refund of a double fee, ticket 42",
        "initiated_by": "operator",
        "source_transaction": None,
    }
    wrong = await _claim(
        client,
        backend_stack,
        "adj-2",
        headers={"X-Operator-Key": OPERATOR_KEY[:-1] + "x"},
        amount=5_000,
        currency="usd",
        reason="x",
    )
    assert _code(wrong) == (401, "invalid_operator_key")


async def test_the_platform_creates_a_payment_and_transfers_it_server_to_server(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    platform = {"X-Platform-Key": PLATFORM_KEY}
    created = await client.post(
        "/api/platform/payment-intents",
        json={"organization_id": backend_stack.org_id, "amount": 2_500, "currency": "eur"},
        headers={**platform, "Idempotency-Key": "sale-1"},
    )
    assert created.status_code == 201, created.text
    intent = created.json()
    assert intent["status"] == "requires_payment_method"
    assert intent["transfer_group"] == f"org_{backend_stack.org_id}"
    replay = await client.post(
        "/api/platform/payment-intents",
        json={"organization_id": backend_stack.org_id, "amount": 2_500, "currency": "eur"},
        headers={**platform, "Idempotency-Key": "sale-1"},
    )
    assert replay.json()["payment_intent_id"] == intent["payment_intent_id"]
    await backend_stack.stripe.aio.succeed_payment_intent(intent["payment_intent_id"])
    r = await _claim(
        client,
        backend_stack,
        "svc-1",
        headers=platform,
        source_transaction=intent["payment_intent_id"],
    )
    assert r.status_code == 201, r.text
    assert (r.json()["gross_amount"], r.json()["currency"]) == (2_500, "eur")
    no_key = await client.post(
        "/api/platform/payment-intents",
        json={"organization_id": backend_stack.org_id, "amount": 2_500, "currency": "eur"},
        headers={**backend_stack.auth("owner"), "Idempotency-Key": "sale-2"},
    )
    assert _code(no_key) == (401, "invalid_platform_key")


async def test_automatic_setting_transfers_each_payment_as_it_succeeds_once(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    await activate(client, backend_stack)
    member = await client.post(
        "/api/connect/auto-transfer",
        json={"organization_id": backend_stack.org_id, "enabled": True},
        headers=backend_stack.auth("member"),
    )
    assert member.status_code == 403
    on = await client.post(
        "/api/connect/auto-transfer",
        json={"organization_id": backend_stack.org_id, "enabled": True},
        headers=backend_stack.auth("owner"),
    )
    assert (on.status_code, on.json()["auto_transfer_payments"]) == (200, True)
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 20_000)

    def rows() -> list[dict[str, Any]]:
        return backend_stack.worker.rows(
            "SELECT idempotency_key, status, initiated_by, gross_amount FROM connect_transfer"
        )

    async def transferred() -> bool:
        return bool(rows()) and rows()[0]["status"] == "succeeded"

    await eventually(transferred, what="the automatic transfer")
    await settle_webhooks(backend_stack)
    events = (await backend_stack.stripe.aio.events())["events"]
    succeeded = next(e for e in events if e["type"] == "payment_intent.succeeded")
    await backend_stack.stripe.aio.resend_event(succeeded["id"])
    await settle_webhooks(backend_stack)
    assert len(rows()) == 1
    assert rows()[0]["initiated_by"] == "automatic"
    async with backend_stack.stripe.client() as stripe:
        listed = await stripe.v1.transfers.list_async({"limit": 100})
    assert [t.amount for t in listed.data if t.source_transaction == charge] == [18_000]


async def test_a_succeeded_payment_is_listed_as_earned_through_its_webhook_and_refunds_follow(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 7_000)
    await settle_webhooks(backend_stack)

    async def listed() -> list[tuple[str | None, int]]:
        r = await client.get(
            f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("owner")
        )
        assert r.status_code == 200, r.text
        return [(p["charge_id"], p["amount_remaining"]) for p in r.json()["payments"]]

    assert await listed() == [(charge, 7_000)]
    async with backend_stack.stripe.client() as stripe:
        await stripe.v1.refunds.create_async({"charge": charge, "amount": 2_500})
    await settle_webhooks(backend_stack)
    assert await listed() == [(charge, 4_500)]
    other = await client.get(
        f"/api/connect/payments/{backend_stack.other_org_id}", headers=backend_stack.auth("owner")
    )
    assert other.status_code == 403


async def test_automatic_transfer_waits_for_an_owner_when_the_account_cannot_take_it(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    on = await client.post(
        "/api/connect/auto-transfer",
        json={"organization_id": backend_stack.org_id, "enabled": True},
        headers=backend_stack.auth("admin"),
    )
    assert on.status_code == 200, on.text
    charge = await backend_stack.stripe.paid(backend_stack.org_id, 9_000)
    await settle_webhooks(backend_stack)  # acknowledged: nothing to retry
    assert backend_stack.worker.row("SELECT COUNT(*) AS n FROM connect_transfer") == {"n": 0}
    listed = await client.get(
        f"/api/connect/payments/{backend_stack.org_id}", headers=backend_stack.auth("owner")
    )
    assert [(p["charge_id"], p["amount_remaining"]) for p in listed.json()["payments"]] == [
        (charge, 9_000)
    ]
    await activate(client, backend_stack)
    claimed = await _claim(client, backend_stack, "later", source_transaction=charge)
    assert (claimed.status_code, claimed.json()["gross_amount"]) == (201, 9_000)
