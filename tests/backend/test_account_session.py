"""`POST /api/connect/account-session`: who gets which embedded components, and that the client
secret is never cached or logged."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.backend.conftest import answer
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]

MANAGER = [
    "account_management",
    "account_onboarding",
    "balances",
    "notification_banner",
    "payouts",
]


async def _session(
    client: httpx.AsyncClient, stack: BackendStack, who: str | None, org: str | None = None
) -> httpx.Response:
    headers = stack.auth(who) if who else {}
    return await client.post(
        "/api/connect/account-session",
        json={"organization_id": org or stack.org_id},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("who", "components"),
    [("owner", MANAGER), ("admin", MANAGER), ("member", ["payouts_list"])],
)
async def test_each_role_gets_the_components_it_may_use(
    client: httpx.AsyncClient,
    backend_stack: BackendStack,
    activated: Activated,
    who: str,
    components: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account_id = await activated()
    caplog.set_level(logging.INFO)  # the backend's default level (the SDK logs bodies at DEBUG)
    r = await _session(client, backend_stack, who)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "organization_id",
        "account_id",
        "client_secret",
        "expires_at",
        "components",
    }
    assert (body["organization_id"], body["account_id"]) == (backend_stack.org_id, account_id)
    assert body["components"] == components
    assert body["client_secret"].startswith("_")
    assert r.headers["cache-control"] == "no-store"
    assert body["client_secret"] not in caplog.text
    again = await _session(client, backend_stack, who)
    assert again.json()["client_secret"] != body["client_secret"]  # a fresh session each time


async def test_other_organizations_and_anonymous_callers_get_nothing(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    await activated()
    outsider = await _session(client, backend_stack, "outsider")
    assert outsider.status_code == 403
    other_org = await _session(client, backend_stack, "owner", backend_stack.other_org_id)
    assert other_org.status_code == 403
    anonymous = await _session(client, backend_stack, None)
    assert anonymous.status_code == 401
    for refused in (outsider, other_org, anonymous):
        assert set(refused.json()) == {"error"}
        assert set(answer(refused)["error"]) == {"code", "message"}
        assert "client_secret" not in refused.text


async def test_no_account_yet_is_a_conflict(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await _session(client, backend_stack, "owner")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "no_connect_account")


@pytest.mark.parametrize(
    "body", [b"", b"[]", b'{"organization_id": 5}', b'{"organization_id": "x", "role": "owner"}']
)
async def test_a_bad_body_is_a_clear_400(
    client: httpx.AsyncClient, backend_stack: BackendStack, body: bytes
) -> None:
    r = await client.post(
        "/api/connect/account-session",
        content=body,
        headers=backend_stack.auth("member", Content_Type="application/json"),
    )
    assert r.status_code == 400, r.text
    assert set(answer(r)["error"]) == {"code", "message"}


async def test_a_revoked_account_is_refused_as_stripe_refuses_it(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    backend_stack.stripe.deauthorize(account_id)
    r = await _session(client, backend_stack, "owner")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "stripe_account_access_lost"
    assert "sk_" not in r.text
