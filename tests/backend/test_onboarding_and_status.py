from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from tests.backend.conftest import onboard, status_of
from tests.fixtures.backend import FRONTEND_ORIGIN, BackendStack


async def test_onboarding_creates_one_express_account_and_returns_a_fresh_link(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.post(
        "/api/connect/onboard",
        json={"organization_id": backend_stack.org_id},
        headers=backend_stack.auth("admin"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"url", "expires_at", "account_id"}
    assert body["account_id"].startswith("acct_")
    row = backend_stack.worker.row(
        "SELECT stripe_connect_account_id, stripe_connect_status, onboarding_step "
        "FROM organization WHERE id = ?",
        backend_stack.org_id,
    )
    assert row == {
        "stripe_connect_account_id": body["account_id"],
        "stripe_connect_status": "pending",
        "onboarding_step": "details_submission",
    }
    async with backend_stack.stripe.client() as stripe:
        account = await stripe.v1.accounts.retrieve_async(body["account_id"])
    assert account.metadata is not None
    assert account.metadata["organization_id"] == backend_stack.org_id
    assert account.controller is not None
    assert account.controller.stripe_dashboard is not None
    assert account.controller.stripe_dashboard.type == "express"
    assert account.settings is not None
    assert account.settings.payouts is not None
    assert account.settings.payouts.schedule.interval == "manual"

    again = await client.post(
        "/api/connect/onboard",
        headers=backend_stack.auth("owner", X_Org_ID=backend_stack.org_id),
        json={},
    )
    assert again.status_code == 200, again.text
    assert again.json()["account_id"] == body["account_id"]
    assert again.json()["url"] != body["url"]


async def test_onboarding_with_the_org_in_x_org_id_needs_no_body(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.post(
        "/api/connect/onboard", headers=backend_stack.auth("owner", X_Org_ID=backend_stack.org_id)
    )
    assert r.status_code == 200, r.text
    assert r.json()["account_id"].startswith("acct_")
    # A body that is present must still be a JSON object.
    bad = await client.post(
        "/api/connect/onboard",
        content=b"[]",
        headers=backend_stack.auth(
            "owner", X_Org_ID=backend_stack.org_id, Content_Type="application/json"
        ),
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"code", "message", "request_id"}


async def test_twenty_concurrent_onboarding_clicks_make_one_account(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    async def click(who: str) -> httpx.Response:
        return await client.post(
            "/api/connect/onboard",
            json={"organization_id": backend_stack.org_id},
            headers=backend_stack.auth(who),
        )

    replies = await asyncio.gather(*(click("owner" if i % 2 else "admin") for i in range(20)))
    assert [r.status_code for r in replies] == [200] * 20, [r.text for r in replies]
    assert len({r.json()["account_id"] for r in replies}) == 1
    async with backend_stack.stripe.client() as stripe:
        accounts = await stripe.v1.accounts.list_async({"limit": 100})
    assert len(accounts.data) == 1


async def _return_url_of(link: str) -> str:
    """Click through the fake's hosted onboarding: it redirects to the link's return_url."""
    parts = urlsplit(link)
    async with httpx.AsyncClient() as browser:
        done = await browser.post(
            f"{parts.scheme}://{parts.netloc}{parts.path}/complete?{parts.query}"
        )
    assert done.status_code == 303, done.text
    return done.headers["location"]


async def test_account_link_returns_to_the_frontend_settings_page_by_default(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.post(
        "/api/connect/onboard",
        json={"organization_id": backend_stack.org_id},
        headers=backend_stack.auth(),
    )
    assert r.status_code == 200, r.text
    assert await _return_url_of(r.json()["url"]) == (
        f"{FRONTEND_ORIGIN}/settings/payments?connect=return"
    )


async def test_account_link_returns_to_a_given_url_on_another_configured_origin(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.post(
        "/api/connect/onboard",
        json={
            "organization_id": backend_stack.org_id,
            "return_url": "https://app.example.test/welcome?step=2",
        },
        headers=backend_stack.auth(),
    )
    assert r.status_code == 200, r.text
    assert await _return_url_of(r.json()["url"]) == "https://app.example.test/welcome?step=2"


async def test_onboarding_refuses_redirects_off_the_frontend_origins(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for body in (
        {"return_url": "https://evil.example/phish"},
        {"refresh_url": f"{FRONTEND_ORIGIN}.evil.example/x"},
        {"return_path": "//evil.example"},
    ):
        r = await client.post(
            "/api/connect/onboard",
            json={"organization_id": backend_stack.org_id, **body},
            headers=backend_stack.auth(),
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_redirect"), body
    # Refused before any Stripe call: no account was made.
    assert (await status_of(client, backend_stack))["stripe_connect_account_id"] is None


async def test_onboarding_needs_owner_or_admin(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.post(
        "/api/connect/onboard",
        json={"organization_id": backend_stack.org_id},
        headers=backend_stack.auth("member"),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "insufficient_role")


async def test_status_is_read_from_d1_by_path_and_by_x_org_id(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    account_id = await onboard(client, backend_stack)
    by_path = await client.get(
        f"/api/connect/status/{backend_stack.org_id}", headers=backend_stack.auth("member")
    )
    by_header = await client.get(
        "/api/connect/status",
        headers=backend_stack.auth(
            "member", X_Org_ID=backend_stack.org_id, X_User_ID=backend_stack.worker.member.user_id
        ),
    )
    assert by_path.status_code == by_header.status_code == 200
    assert by_path.json() == by_header.json()
    assert by_path.json()["stripe_connect_account_id"] == account_id
    assert by_path.json()["stripe_connect_status"] == "pending"
    assert by_path.json()["platform_fee_percent"] == 10.0


async def test_status_refresh_rereads_stripe_and_stores_the_mapped_state(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    account_id = await onboard(client, backend_stack)
    backend_stack.stripe.configure_webhooks(None)  # no webhooks: only the refresh can tell
    await backend_stack.stripe.aio.submit_details(account_id)
    stale = await status_of(client, backend_stack)
    assert stale["onboarding_step"] == "details_submission"
    r = await client.get(
        f"/api/connect/status/{backend_stack.org_id}?refresh=true",
        headers=backend_stack.auth("member"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stripe_connect_status"], r.json()["onboarding_step"]) == (
        "pending",
        "verification",
    )
    assert r.json()["details_submitted"] is True
    assert r.json()["stripe_synced_at"] is not None
    assert (await status_of(client, backend_stack))["onboarding_step"] == "verification"


async def test_status_refresh_flag_must_be_a_boolean(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.get(
        f"/api/connect/status/{backend_stack.org_id}?refresh=maybe",
        headers=backend_stack.auth(),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_refresh")


async def test_status_authenticates_before_judging_the_refresh_flag(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    path = f"/api/connect/status/{backend_stack.org_id}?refresh=maybe"
    r = await client.get(path)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_token")
    r = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = await client.get(path, headers=backend_stack.auth("outsider"))
    assert r.status_code == 403
    r = await client.get(
        "/api/connect/status?refresh=maybe", headers={"X-Org-ID": backend_stack.org_id}
    )
    assert r.status_code == 401
