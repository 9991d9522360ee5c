from __future__ import annotations

from typing import Any

import httpx

from tests.backend.conftest import answer
from tests.fixtures.backend import BackendStack

NO_SUCH_ORG = "org_that_does_not_exist_anywhere"


def routes(org: str) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    key = {"Idempotency-Key": "auth-test-1"}
    return [
        ("POST", "/api/connect/onboard", {"organization_id": org}, {}),
        ("GET", f"/api/connect/status/{org}", None, {}),
        ("GET", "/api/connect/status", None, {"X-Org-ID": org}),
        (
            "POST",
            "/api/connect/transfer",
            {"organization_id": org, "source_transaction": "ch_auth1"},
            key,
        ),
        ("GET", f"/api/connect/balance/{org}", None, {}),
        ("POST", "/api/connect/payout", {"organization_id": org, "currency": "usd"}, key),
        ("POST", "/api/connect/login-link", {"organization_id": org}, {}),
        ("GET", f"/api/connect/payments/{org}", None, {}),
        ("POST", "/api/connect/auto-transfer", {"organization_id": org, "enabled": True}, {}),
    ]


ROUTE_IDS = [
    "onboard",
    "status",
    "status-header",
    "transfer",
    "balance",
    "payout",
    "login-link",
    "payments",
    "auto-transfer",
]
MANAGER_ONLY = {"onboard", "transfer", "payout", "login-link", "payments", "auto-transfer"}


async def call(
    client: httpx.AsyncClient,
    route: tuple[str, str, dict[str, Any] | None, dict[str, str]],
    headers: dict[str, str],
) -> httpx.Response:
    method, path, body, extra = route
    return await client.request(method, path, json=body, headers={**extra, **headers})


async def test_no_token_is_401(client: httpx.AsyncClient, backend_stack: BackendStack) -> None:
    for index in range(len(ROUTE_IDS)):
        r = await call(client, routes(backend_stack.org_id)[index], {})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_token")


async def test_bad_token_is_401_and_never_echoed(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for index in range(len(ROUTE_IDS)):
        forged = backend_stack.tokens["owner"][:-6] + "AAAAA="
        r = await call(
            client, routes(backend_stack.org_id)[index], {"Authorization": f"Bearer {forged}"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_token")
        assert forged not in r.text


async def test_foreign_and_missing_orgs_get_the_same_403(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for index in range(len(ROUTE_IDS)):
        foreign = await call(
            client, routes(backend_stack.other_org_id)[index], backend_stack.auth()
        )
        missing = await call(client, routes(NO_SUCH_ORG)[index], backend_stack.auth())
        assert foreign.status_code == missing.status_code == 403
        assert answer(foreign) == answer(missing)


async def test_member_is_refused_where_owner_or_admin_is_needed(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for index in range(len(ROUTE_IDS)):
        r = await call(client, routes(backend_stack.org_id)[index], backend_stack.auth("member"))
        if ROUTE_IDS[index] in MANAGER_ONLY:
            assert (r.status_code, r.json()["error"]["code"]) == (403, "insufficient_role")
        else:
            assert r.status_code != 403


async def test_mismatching_x_user_id_is_403(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    for index in range(len(ROUTE_IDS)):
        headers = backend_stack.auth("owner", X_User_ID=backend_stack.worker.member.user_id)
        r = await call(client, routes(backend_stack.org_id)[index], headers)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "user_mismatch")


async def test_token_in_the_query_string_is_not_accepted(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    r = await client.get(
        f"/api/connect/status/{backend_stack.org_id}",
        params={"token": backend_stack.tokens["owner"]},
    )
    assert r.status_code == 401


async def test_matching_x_user_id_and_url_encoded_token_are_accepted(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    owner = backend_stack.worker.owner
    r = await client.get(
        f"/api/connect/status/{backend_stack.org_id}",
        headers={
            "Authorization": f"Bearer {owner.session.signed_token_urlencoded}",
            "X-User-ID": owner.user_id,
        },
    )
    assert r.status_code == 200, r.text


async def test_expired_session_is_401(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    backend_stack.worker.clock.advance(8 * 86400)
    r = await client.get(
        f"/api/connect/status/{backend_stack.org_id}", headers=backend_stack.auth()
    )
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_token")


async def test_an_x_org_id_naming_another_organization_is_refused_everywhere(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    # A request that names two organizations (path or body vs X-Org-ID) is ambiguous: refused on
    # every route, not answered for whichever one the route happens to read.
    for index, route_id in enumerate(ROUTE_IDS):
        if route_id == "status-header":
            continue  # its only organization is X-Org-ID
        headers = backend_stack.auth("owner", X_Org_ID=backend_stack.other_org_id)
        r = await call(client, routes(backend_stack.org_id)[index], headers)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "organization_mismatch"), (
            route_id
        )
        same = backend_stack.auth("owner", X_Org_ID=backend_stack.org_id)
        assert (await call(client, routes(backend_stack.org_id)[index], same)).status_code != 400
