"""Both account profiles run the whole story through real servers: onboard → active → payment →
transfer → payout → history, with what Stripe was sent checked against the SDK's types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from backend.stripe_side.account_profiles import ACCOUNT_PROFILES
from tests.backend.conftest import activate, eventually, onboard, settle_webhooks
from tests.fixtures.backend import BackendStack
from tests.stripe_fake.shapes import problems

Profile = str
CONTROLLERS: dict[Profile, dict[str, Any]] = {
    "express": {
        "stripe_dashboard": {"type": "express"},
        "requirement_collection": "stripe",
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
    },
    "custom": {
        "stripe_dashboard": {"type": "none"},
        "requirement_collection": "application",
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
    },
}


async def _account(stack: BackendStack, account_id: str) -> stripe.Account:
    async with stack.stripe.client() as sdk:
        return await sdk.v1.accounts.retrieve_async(account_id)


@pytest.mark.parametrize("profile", ["express", "custom"])
async def test_the_whole_story_runs_in_each_profile(
    make_backend: Callable[..., BackendStack], profile: Profile
) -> None:
    stack = make_backend(env={"CONNECT_ACCOUNT_PROFILE": profile})
    org, owner = stack.org_id, stack.auth("owner")
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        account_id = await activate(client, stack)
        account = await _account(stack, account_id)
        last = account.last_response
        assert last is not None
        assert problems(last.data) == []  # every field is one the SDK's `Account` declares
        assert account.controller is not None
        controller = account.controller.to_dict(recursive=True)
        assert {k: controller[k] for k in CONTROLLERS[profile]} == CONTROLLERS[profile]
        assert account.type == profile
        status = (await client.get(f"/api/connect/status/{org}", headers=owner)).json()
        assert status["stripe_connect_account_profile"] == profile
        assert status["stripe_connect_status"] == "active"

        charge = await stack.stripe.paid(org, 10_000)
        sent = await client.post(
            "/api/connect/transfer",
            json={"organization_id": org, "source_transaction": charge},
            headers=stack.auth("owner", Idempotency_Key=f"{profile}-transfer"),
        )
        assert sent.status_code == 201, sent.text
        assert (sent.json()["fee_amount"], sent.json()["net_amount"]) == (1_000, 9_000)
        await stack.stripe.aio.settle_balance(account_id)  # the charge's funds become available
        paid_out = await client.post(
            "/api/connect/payout",
            json={"organization_id": org, "currency": "usd"},
            headers=stack.auth("owner", Idempotency_Key=f"{profile}-payout"),
        )
        assert paid_out.status_code == 201, paid_out.text
        assert paid_out.json()["amount"] == 9_000
        await stack.stripe.aio.pay_payout(paid_out.json()["payout_id"])

        async def paid() -> bool:
            page = await client.get(f"/api/connect/payouts/{org}", headers=stack.auth("member"))
            return [p["status"] for p in page.json()["payouts"]] == ["paid"]

        await eventually(paid, what="payout.paid in the history")
        transfers = await client.get(f"/api/connect/transfers/{org}", headers=stack.auth("member"))
        assert [t["net_amount"] for t in transfers.json()["transfers"]] == [9_000]

        # What the profile decides later: the Express dashboard, and the embedded components.
        link = await client.post(
            "/api/connect/login-link", json={"organization_id": org}, headers=owner
        )
        session = await client.post(
            "/api/connect/account-session", json={"organization_id": org}, headers=owner
        )
        assert session.status_code == 200, session.text
        assert session.json()["account_id"] == account_id
    if profile == "express":
        assert link.status_code == 200, link.text
    else:
        assert link.status_code == 409
        assert link.json()["error"]["code"] == "no_stripe_dashboard"
        assert "account-session" in link.json()["error"]["message"]


async def test_changing_the_setting_changes_new_accounts_only(
    make_backend: Callable[..., BackendStack],
) -> None:
    express = make_backend(env={"CONNECT_ACCOUNT_PROFILE": "express"})
    async with httpx.AsyncClient(base_url=express.url, timeout=20) as client:
        account_id = await onboard(client, express)
        await settle_webhooks(express)
    express.stop()
    custom = make_backend(env={"CONNECT_ACCOUNT_PROFILE": "custom"}, webhooks=False)
    async with httpx.AsyncClient(base_url=custom.url, timeout=20) as client:
        again = await client.post(
            "/api/connect/onboard", json={"organization_id": custom.org_id}, headers=custom.auth()
        )
        link = await client.post(
            "/api/connect/login-link",
            json={"organization_id": custom.org_id},
            headers=custom.auth(),
        )
        other = await client.post(
            "/api/connect/onboard",
            json={"organization_id": custom.other_org_id},
            headers=custom.auth("outsider"),
        )
    assert again.json()["account_id"] == account_id  # the org keeps its Express account
    row = custom.worker.row(
        "SELECT stripe_connect_account_profile FROM organization WHERE id = ?", custom.org_id
    )
    assert row == {"stripe_connect_account_profile": "express"}
    # Not 409 no_stripe_dashboard: the Express account still has its dashboard (onboarding is
    # simply not finished).
    assert link.json()["error"]["code"] == "account_not_ready"
    assert other.status_code == 200, other.text
    assert (await _account(custom, other.json()["account_id"])).type == "custom"


@pytest.mark.parametrize("collect", ["currently_due", "eventually_due"])
async def test_account_links_ask_for_the_requirements_the_platform_chose(
    make_backend: Callable[..., BackendStack], collect: str
) -> None:
    stack = make_backend(
        env={"CONNECT_ACCOUNT_PROFILE": "custom", "CONNECT_COLLECTION_FIELDS": collect}
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        r = await client.post(
            "/api/connect/onboard", json={"organization_id": stack.org_id}, headers=stack.auth()
        )
        assert r.status_code == 200, r.text
        page = await client.get(r.json()["url"])  # the fake's stand-in for hosted onboarding
    assert page.status_code == 200
    assert f"<span data-collect>{collect.replace('_', ' ')}</span>" in page.text


async def test_an_account_adopted_from_its_webhook_is_recorded_with_its_own_profile(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    """The onboarding request died between Stripe and the Worker: the account's `account.updated`
    stores it, with the profile Stripe shows (no dashboard: custom), whatever the setting."""
    assert backend_stack.settings.connect_account_profile == "express"
    params: Any = {
        **ACCOUNT_PROFILES["custom"],
        "metadata": {"organization_id": backend_stack.org_id},
    }
    async with backend_stack.stripe.client() as sdk:
        account = await sdk.v1.accounts.create_async(params)
    await backend_stack.stripe.aio.complete_onboarding(account.id)

    async def adopted() -> bool:
        row = backend_stack.worker.row(
            "SELECT stripe_connect_account_id, stripe_connect_account_profile "
            "FROM organization WHERE id = ?",
            backend_stack.org_id,
        )
        return row == {
            "stripe_connect_account_id": account.id,
            "stripe_connect_account_profile": "custom",
        }

    await eventually(adopted, what="the account adopted from account.updated")
