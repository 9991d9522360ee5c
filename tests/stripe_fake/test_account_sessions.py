"""`POST /v1/account_sessions` through the official SDK: Stripe's shape and Stripe's refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe
from stripe._account_session import AccountSession

from backend.stripe_side.embedded_components import MANAGER_COMPONENTS, MEMBER_COMPONENTS
from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import CUSTOM_ACCOUNT, new_account
from tests.stripe_fake.shapes import problems


def _declared(cls: type) -> set[str]:
    names = vars(cls).get("__annotations__", {})
    return {n for n in names if not n.startswith("_") and n != "OBJECT_NAME"}


async def _session(stripe_fake: StripeFake, params: Any, **options: Any) -> AccountSession:
    async with stripe_fake.client(**options) as sdk:
        return await sdk.v1.account_sessions.create_async(params)


async def test_a_session_has_every_component_and_feature_the_sdk_declares(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as sdk:
        account = await new_account(sdk, **CUSTOM_ACCOUNT)
        session = await sdk.v1.account_sessions.create_async(
            {"account": account.id, "components": MANAGER_COMPONENTS}
        )
    body = session.to_dict(recursive=True)
    assert problems(body) == []
    assert set(body) == _declared(AccountSession)
    assert body["object"] == "account_session"
    assert body["account"] == account.id
    assert body["client_secret"].startswith("_")
    assert len(body["client_secret"]) > 40
    assert time.time() < body["expires_at"] <= time.time() + 3600
    components = AccountSession.Components
    assert set(body["components"]) == _declared(components)
    for name, component in body["components"].items():
        features_cls = getattr(components._inner_class_types[name], "Features")  # noqa: B009
        assert set(component["features"]) == _declared(features_cls), name
    enabled = {n for n, c in body["components"].items() if c["enabled"]}
    assert enabled == set(MANAGER_COMPONENTS)
    # What was asked stands; the rest is Stripe's default for an account whose losses the
    # platform carries and whose requirements it collects.
    assert body["components"]["payouts"]["features"] == {
        "disable_stripe_user_authentication": False,
        "edit_payout_schedule": False,
        "external_account_collection": True,
        "instant_payouts": False,
        "standard_payouts": False,
    }


async def test_payout_features_default_on_where_stripe_carries_the_losses(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as sdk:
        account = await new_account(
            sdk,
            controller={"stripe_dashboard": {"type": "express"}, "losses": {"payments": "stripe"}},
        )
    session = await _session(
        stripe_fake, {"account": account.id, "components": {"payouts": {"enabled": True}}}
    )
    features = session.components.payouts.features
    assert (features.standard_payouts, features.edit_payout_schedule) == (True, True)


async def test_the_member_components_are_the_read_only_payouts_list(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as sdk:
        account = await new_account(sdk)
    session = await _session(stripe_fake, {"account": account.id, "components": MEMBER_COMPONENTS})
    enabled = {n for n, c in session.to_dict(recursive=True)["components"].items() if c["enabled"]}
    assert enabled == {"payouts_list"}
    assert session.components.payouts_list.features.to_dict() == {}


@pytest.mark.parametrize(
    ("components", "param", "code"),
    [
        ({"dashboard": {"enabled": True}}, "components[dashboard]", "parameter_unknown"),
        (
            {"payouts": {"enabled": True, "features": {"money_printer": True}}},
            "components[payouts][features][money_printer]",
            "parameter_unknown",
        ),
        (
            {"payouts": {"features": {"standard_payouts": False}}},
            "components[payouts][enabled]",
            "parameter_missing",
        ),
    ],
)
async def test_unknown_components_and_features_are_refused_by_name(
    stripe_fake: StripeFake, components: Any, param: str, code: str
) -> None:
    async with stripe_fake.client() as sdk:
        account = await new_account(sdk)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await _session(stripe_fake, {"account": account.id, "components": components})
    assert (caught.value.http_status, caught.value.param, caught.value.code) == (400, param, code)


@pytest.mark.parametrize(
    ("feature", "value"),
    [("disable_stripe_user_authentication", True), ("external_account_collection", False)],
)
async def test_platform_collected_features_are_refused_on_an_express_account(
    stripe_fake: StripeFake, feature: str, value: bool
) -> None:
    async with stripe_fake.client() as sdk:
        express = await new_account(sdk)
        custom = await new_account(sdk, **CUSTOM_ACCOUNT)
    components = {"account_management": {"enabled": True, "features": {feature: value}}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await _session(stripe_fake, {"account": express.id, "components": components})
    assert caught.value.http_status == 400
    assert caught.value.param == f"components[account_management][features][{feature}]"
    assert "requirement_collection" in str(caught.value.user_message)
    # The same on an account whose requirements the platform collects is fine.
    granted = await _session(stripe_fake, {"account": custom.id, "components": components})
    assert granted.components.account_management.features[feature] is value


async def test_accounts_the_platform_does_not_control_are_refused(
    stripe_fake: StripeFake,
) -> None:
    components = {"payouts_list": {"enabled": True}}
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await _session(stripe_fake, {"account": "acct_1NotOurs0000000", "components": components})
    assert (unknown.value.http_status, unknown.value.code) == (404, "resource_missing")
    assert unknown.value.param == "account"
    async with stripe_fake.client() as sdk:
        account = await new_account(sdk)
    stripe_fake.deauthorize(account.id)
    with pytest.raises(stripe.PermissionError) as revoked:
        await _session(stripe_fake, {"account": account.id, "components": components})
    assert revoked.value.http_status == 403
    body: Any = revoked.value.json_body
    assert body["error"]["code"] == "account_invalid"


async def test_a_session_is_made_by_the_platform_not_on_behalf_of_an_account(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as sdk:
        account = await new_account(sdk)
    params = {"account": account.id, "components": {"payouts_list": {"enabled": True}}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await _session(stripe_fake, params, stripe_account=account.id)
    assert caught.value.http_status == 400
