from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


async def test_new_express_account_is_not_yet_onboarded(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
    assert re.fullmatch(r"acct_[A-Za-z0-9]{16}", account.id)
    assert account.object == "account"
    assert "livemode" not in account  # Stripe's Account has no `livemode`
    assert isinstance(account.created, int)
    assert account.type == "express"
    assert account["controller"]["stripe_dashboard"]["type"] == "express"
    assert account["controller"]["fees"]["payer"] == "application"
    assert account["controller"]["losses"]["payments"] == "application"
    assert account["controller"]["requirement_collection"] == "stripe"
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (
        False,
        False,
        False,
    )
    assert account["capabilities"].to_dict() == {
        "card_payments": "inactive",
        "transfers": "inactive",
    }
    assert "external_account" in account["requirements"]["currently_due"]
    assert "tos_acceptance.date" in account["requirements"]["currently_due"]
    assert account["requirements"]["disabled_reason"] == "requirements.past_due"
    assert account["future_requirements"]["currently_due"] == []
    assert account["settings"]["payouts"]["schedule"]["interval"] == "manual"
    assert account["metadata"].to_dict() == {"organization_id": "org_1"}
    assert account.email == "owner@example.com"


async def test_account_is_retrieved_and_updated_with_account_updated_event(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        fetched = await client.v1.accounts.retrieve_async(account.id)
        assert fetched.to_dict() == account.to_dict()
        updated = await client.v1.accounts.update_async(
            account.id, params={"metadata": {"plan": "pro"}, "email": "new@example.com"}
        )
        assert updated["metadata"].to_dict() == {"organization_id": "org_1", "plan": "pro"}
        events = await client.v1.events.list_async(
            params={"type": "account.updated"}, options={"stripe_account": account.id}
        )
    (event,) = events.data
    assert event.account == account.id
    assert event.data.object.id == account.id
    assert event["data"]["previous_attributes"].to_dict() == {
        "email": "owner@example.com",
        "metadata": {"plan": None},
    }


async def test_unknown_account_is_resource_missing(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.accounts.retrieve_async("acct_1DoesNotExist00")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert caught.value.user_message == "No such account: 'acct_1DoesNotExist00'"


async def test_submit_details_leaves_verification_pending(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        await stripe_fake.aio.submit_details(account.id)
        account = await client.v1.accounts.retrieve_async(account.id)
    assert account.details_submitted is True
    assert account.charges_enabled is False
    assert account["requirements"]["currently_due"] == []
    assert account["requirements"]["pending_verification"]
    assert account["requirements"]["disabled_reason"] == "requirements.pending_verification"


async def test_complete_onboarding_activates_account_and_emits_events(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        await stripe_fake.aio.complete_onboarding(account.id)
        account = await client.v1.accounts.retrieve_async(account.id)
        events = await client.v1.events.list_async(options={"stripe_account": account.id})
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (
        True,
        True,
        True,
    )
    assert account["requirements"]["currently_due"] == []
    assert account["requirements"]["disabled_reason"] is None
    assert account["capabilities"].to_dict() == {"card_payments": "active", "transfers": "active"}
    types = sorted(e.type for e in events.data)
    assert types == ["account.updated", "capability.updated", "capability.updated"]
    updated = next(e for e in events.data if e.type == "account.updated")
    assert updated["data"]["previous_attributes"]["charges_enabled"] is False
    capability = next(e for e in events.data if e.type == "capability.updated")
    assert capability.data.object.object == "capability"
    assert capability.data.object.status == "active"
    assert capability["data"]["previous_attributes"]["status"] == "inactive"


async def test_restrict_puts_requirements_past_due(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.complete_onboarding(account.id)
        stripe_fake.restrict(account.id)
        account = await client.v1.accounts.retrieve_async(account.id)
    assert account.charges_enabled is False
    assert account.payouts_enabled is False
    assert account["requirements"]["past_due"]
    assert account["requirements"]["disabled_reason"] == "requirements.past_due"
    assert account["capabilities"]["transfers"] == "inactive"


async def test_request_info_asks_by_a_deadline_and_keeps_the_account_enabled(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.complete_onboarding(account.id)
        stripe_fake.request_info(account.id, ["individual.verification.document"], 1_800_000_000)
        account = await client.v1.accounts.retrieve_async(account.id)
    assert account.charges_enabled is True
    assert account.payouts_enabled is True
    assert account["requirements"]["currently_due"] == ["individual.verification.document"]
    assert account["requirements"]["current_deadline"] == 1_800_000_000
    assert account["requirements"]["disabled_reason"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"fields": [], "deadline": 1}, "invalid_fields"),
        ({"fields": "x", "deadline": 1}, "invalid_fields"),
        ({"fields": ["x"], "deadline": "soon"}, "invalid_deadline"),
        ({"fields": ["x"], "deadline": -1}, "invalid_deadline"),
    ],
)
def test_request_info_refuses_bad_input(
    stripe_fake: StripeFake, body: dict[str, object], code: str
) -> None:
    response = httpx.post(f"{stripe_fake.url}/_fake/accounts/acct_x/request-info", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


async def test_reject_sets_rejected_reason(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.reject(account.id, "fraud")
        account = await client.v1.accounts.retrieve_async(account.id)
    assert account["requirements"]["disabled_reason"] == "rejected.fraud"
    assert account.charges_enabled is False


def test_reject_with_unknown_reason_is_refused(stripe_fake: StripeFake) -> None:
    response = httpx.post(
        f"{stripe_fake.url}/_fake/accounts/acct_x/reject", json={"reason": "whim"}
    )
    assert response.status_code in (400, 404)


async def test_account_link_opens_a_clickable_onboarding_page(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        link = await client.v1.account_links.create_async(
            params={
                "account": account.id,
                "refresh_url": "http://localhost:3000/refresh",
                "return_url": "http://localhost:3000/return",
                "type": "account_onboarding",
                "collect": "eventually_due",
            }
        )
        assert link.object == "account_link"
        assert link.expires_at == link.created + 300
        assert link.url.startswith(f"{stripe_fake.url}/_fake/onboarding/{account.id}")
        async with httpx.AsyncClient() as browser:
            page = await browser.get(link.url)
            assert page.status_code == 200
            assert "Complete onboarding" in page.text
            action = re.search(r'action="([^"]+)"', page.text)
            assert action is not None
            submitted = await browser.post(
                f"{stripe_fake.url}{action.group(1).replace('&amp;', '&')}"
            )
            assert submitted.status_code == 303
            assert submitted.headers["location"] == "http://localhost:3000/return"
            again = await browser.get(link.url)
            assert again.status_code == 303
            assert again.headers["location"] == "http://localhost:3000/refresh"
        account = await client.v1.accounts.retrieve_async(account.id)
    assert account.charges_enabled is True


async def test_account_link_for_unknown_account_is_resource_missing(
    stripe_fake: StripeFake,
) -> None:
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.account_links.create_async(
                params={
                    "account": "acct_1Nope",
                    "return_url": "http://localhost/r",
                    "refresh_url": "http://localhost/f",
                    "type": "account_onboarding",
                }
            )
    assert caught.value.code == "resource_missing"
    assert caught.value.param == "account"


async def test_login_link_requires_completed_onboarding(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.accounts.login_links.create_async(account.id)
        stripe_fake.complete_onboarding(account.id)
        login = await client.v1.accounts.login_links.create_async(account.id)
    assert login.object == "login_link"
    assert login.url.startswith(stripe_fake.url)


async def test_deauthorized_account_is_a_permission_error(stripe_fake: StripeFake) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        stripe_fake.deauthorize(account.id)
        with pytest.raises(stripe.PermissionError) as caught:
            await client.v1.accounts.retrieve_async(account.id)
        assert caught.value.http_status == 403
        body: Any = caught.value.json_body  # the SDK types it `object`
        assert body is not None
        assert body["error"]["code"] == "account_invalid"
        with pytest.raises(stripe.PermissionError):
            await client.v1.balance.retrieve_async(options={"stripe_account": account.id})
    events = stripe_fake.events()["events"]
    deauth = [e for e in events if e["type"] == "account.application.deauthorized"]
    assert len(deauth) == 1
    assert deauth[0]["account"] == account.id
    assert deauth[0]["data"]["object"]["object"] == "application"


@pytest.mark.parametrize(
    ("given", "page_says"),
    [
        ({}, "currently due"),
        ({"collection_options": {"fields": "eventually_due"}}, "eventually due"),
        ({"collection_options": {"fields": "currently_due"}}, "currently due"),
        ({"collect": "eventually_due"}, "eventually due"),
    ],
)
async def test_account_link_onboarding_collects_what_the_platform_asked(
    stripe_fake: StripeFake, given: dict[str, Any], page_says: str
) -> None:
    async with stripe_fake.client() as client:
        account = await new_account(client)
        params: Any = {
            "account": account.id,
            "type": "account_onboarding",
            "return_url": "https://example.com/r",
            **given,
        }
        link = await client.v1.account_links.create_async(params)
        refused: Any = {**params, "collection_options": {"fields": "everything"}}
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.account_links.create_async(refused)
    assert caught.value.param == "collection_options[fields]"
    async with httpx.AsyncClient() as http:
        page = await http.get(link.url)
    assert f"<span data-collect>{page_says}</span>" in page.text
