from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
import stripe

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


async def test_unknown_parameter_is_invalid_request_error(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.accounts.create_async(params=cast(Any, {"typo_field": "x"}))
    assert caught.value.http_status == 400
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "typo_field"
    assert caught.value.user_message == "Received unknown parameter: typo_field"


async def test_unknown_nested_parameter_names_its_full_path(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.accounts.create_async(
                params=cast(
                    Any, {"controller": {"stripe_dashboard": {"type": "express", "color": "red"}}}
                )
            )
    assert caught.value.param == "controller[stripe_dashboard][color]"


async def test_missing_required_parameter_is_parameter_missing(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(params={"amount": 100, "currency": "usd"})  # type: ignore[typeddict-item]
    assert caught.value.code == "parameter_missing"
    assert caught.value.param == "destination"
    assert caught.value.user_message == "Missing required param: destination."


async def test_wrong_type_for_amount_is_invalid_integer(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(
                params={"amount": "ten", "currency": "usd", "destination": account.id}  # type: ignore[typeddict-item]
            )
    assert caught.value.code == "parameter_invalid_integer"
    assert caught.value.param == "amount"


async def test_wrong_type_for_boolean_is_invalid_request(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await new_account(client, capabilities={"transfers": {"requested": "maybe"}})
    assert caught.value.param == "capabilities[transfers][requested]"


async def test_wrong_api_key_is_authentication_error(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client(api_key="sk_test_wrong_key_1234") as client:
        with pytest.raises(stripe.AuthenticationError) as caught:
            await client.v1.balance.retrieve_async()
    assert caught.value.http_status == 401
    assert "sk_test_wrong_key_1234" not in str(caught.value)
    assert str(caught.value.user_message).endswith("1234")


def test_missing_api_key_is_401_with_stripe_error_shape(stripe_fake: StripeFake) -> None:
    response = httpx.get(f"{stripe_fake.url}/v1/balance")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")
    assert response.headers["request-id"].startswith("req_")


def test_unrecognized_url_is_404_invalid_request(stripe_fake: StripeFake) -> None:
    response = httpx.delete(
        f"{stripe_fake.url}/v1/transfers",
        headers={"Authorization": f"Bearer {stripe_fake.api_key}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(
        "Unrecognized request URL (DELETE: /v1/transfers)"
    )


async def test_unknown_stripe_account_is_permission_error(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.PermissionError) as caught:
            await client.v1.balance.retrieve_async(options={"stripe_account": "acct_1Unknown"})
    assert caught.value.http_status == 403
    body: Any = caught.value.json_body  # the SDK types it `object`
    assert body is not None
    assert body["error"]["code"] == "account_invalid"


def test_sync_client_creates_and_retrieves_an_account(stripe_fake: StripeFake) -> None:
    with stripe_fake.sync_client() as client:
        account = client.v1.accounts.create(
            params={
                "controller": {"stripe_dashboard": {"type": "express"}},
                "email": "s@example.com",
            }
        )
        assert client.v1.accounts.retrieve(account.id).email == "s@example.com"
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.accounts.retrieve("acct_1Missing")
