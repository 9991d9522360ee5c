from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import stripe
from stripe.params import TransferCreateParams

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import EXPRESS_ACCOUNT, new_account


async def test_same_idempotency_key_replays_first_response(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        first = await client.v1.accounts.create_async(
            params=EXPRESS_ACCOUNT,
            options={"idempotency_key": "org_1-onboard"},
        )
        second = await client.v1.accounts.create_async(
            params=EXPRESS_ACCOUNT,
            options={"idempotency_key": "org_1-onboard"},
        )
        listed = await client.v1.accounts.list_async()
    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert [a.id for a in listed.data] == [first.id]


def test_replayed_response_carries_idempotent_replayed_header(stripe_fake: StripeFake) -> None:
    headers = {"Authorization": f"Bearer {stripe_fake.api_key}", "Idempotency-Key": "k1"}
    body = {"email": "x@example.com", "controller[stripe_dashboard][type]": "express"}
    first = httpx.post(f"{stripe_fake.url}/v1/accounts", data=body, headers=headers)
    replay = httpx.post(f"{stripe_fake.url}/v1/accounts", data=body, headers=headers)
    assert "idempotent-replayed" not in first.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()


async def test_same_key_with_different_parameters_is_idempotency_error(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        await client.v1.accounts.create_async(
            params={"email": "a@example.com"}, options={"idempotency_key": "same"}
        )
        with pytest.raises(stripe.IdempotencyError) as caught:
            await client.v1.accounts.create_async(
                params={"email": "b@example.com"}, options={"idempotency_key": "same"}
            )
    assert caught.value.http_status == 400
    assert "Keys for idempotent requests can only be used with the same parameters" in str(
        caught.value.user_message
    )


async def test_idempotency_keys_are_scoped_per_connected_account(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        one = await new_account(client)
        two = await new_account(client)
        for account in (one, two):
            stripe_fake.complete_onboarding(account.id)
            stripe_fake.fund(account.id, 1_000, "usd")
        payouts = [
            await client.v1.payouts.create_async(
                params={"amount": 100, "currency": "usd"},
                options={"stripe_account": account.id, "idempotency_key": "payout-1"},
            )
            for account in (one, two)
        ]
    assert payouts[0].id != payouts[1].id


async def test_concurrent_requests_with_same_key_create_one_object(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        results = await asyncio.gather(
            *(
                client.v1.accounts.create_async(
                    params=EXPRESS_ACCOUNT,
                    options={"idempotency_key": "race"},
                )
                for _ in range(5)
            )
        )
        listed = await client.v1.accounts.list_async()
    assert len({r.id for r in results}) == 1
    assert len(listed.data) == 1


async def test_stored_error_is_replayed_but_validation_error_is_not(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.complete_onboarding(account.id)
        params: TransferCreateParams = {"amount": 500, "currency": "usd", "destination": account.id}
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(params=params, options={"idempotency_key": "t"})
        assert caught.value.code == "balance_insufficient"
        stripe_fake.fund(None, 1_000, "usd")
        # Stripe replays the stored failure for the same key, even though funds now exist.
        with pytest.raises(stripe.InvalidRequestError) as again:
            await client.v1.transfers.create_async(params=params, options={"idempotency_key": "t"})
        assert again.value.code == "balance_insufficient"
        bad: Any = {"amount": "x", "currency": "usd", "destination": account.id}  # not an int
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.transfers.create_async(params=bad, options={"idempotency_key": "v"})
        transfer = await client.v1.transfers.create_async(
            params=params,
            options={"idempotency_key": "v"},
        )
    assert transfer.amount == 500
