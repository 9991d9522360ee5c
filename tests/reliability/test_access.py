"""Access, route by route: every user route without a token, with an expired one, as another
org's member, and as a plain `member` where owner/admin is needed; every Worker route with no
key, a wrong key and a removed old key. Then the logs of all of it are searched for every secret
and token the run used — none may appear, in the logs or in any response."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from connect_worker.app import ROUTES

from backend.app import ROUTES as BACKEND_ROUTES
from tests.fixtures.backend import BackendStack
from tests.fixtures.worker import WorkerStack
from tests.reliability.conftest import assert_json_error
from tests.reliability.replica import BackendProcess

OPERATOR_KEY = "operator-key-for-access-tests-0123456789abcdef"
PLATFORM_KEY = "platform-key-for-access-tests-0123456789abcdef"


def _user_routes(org: str) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str], bool]]:
    """(method, path, body, extra headers, needs owner/admin)."""
    key = {"Idempotency-Key": "access-1"}
    return [
        ("GET", f"/api/connect/status/{org}", None, {}, False),
        ("GET", f"/api/connect/status/{org}?refresh=true", None, {}, False),
        ("GET", "/api/connect/status", None, {"X-Org-ID": org}, False),
        ("GET", f"/api/connect/balance/{org}", None, {}, False),
        ("POST", "/api/connect/onboard", {"organization_id": org}, {}, True),
        ("POST", "/api/connect/onboard", {}, {"X-Org-ID": org}, True),
        (
            "POST",
            "/api/connect/transfer",
            {"organization_id": org, "source_transaction": "ch_access1"},
            key,
            True,
        ),
        ("POST", "/api/connect/payout", {"organization_id": org, "currency": "usd"}, key, True),
        ("POST", "/api/connect/login-link", {"organization_id": org}, {}, True),
        # Any member gets a session (their components follow the role: tests/backend).
        ("POST", "/api/connect/account-session", {"organization_id": org}, {}, False),
        ("GET", f"/api/connect/payments/{org}", None, {}, True),
        ("POST", "/api/connect/auto-transfer", {"organization_id": org, "enabled": True}, {}, True),
        (
            "POST",
            "/api/connect/payout-schedule",
            {"organization_id": org, "interval": "daily"},
            {},
            True,
        ),
        ("GET", f"/api/connect/transfers/{org}", None, {}, False),
        ("GET", f"/api/connect/payouts/{org}?limit=5", None, {}, False),
        ("GET", f"/api/connect/returns/{org}?limit=5", None, {}, False),
        ("GET", f"/api/connect/debts/{org}", None, {}, False),
    ]


def _secrets(stack: BackendStack, *extra: str) -> dict[str, str]:
    w = stack.worker
    found = {
        "better auth secret": w.secret,
        "stripe key": stack.stripe.api_key,
        "webhook secret": stack.stripe.webhook_secret,
        "connect webhook secret": stack.stripe.connect_webhook_secret,
        "operator key": OPERATOR_KEY,
        "platform key": PLATFORM_KEY,
    }
    found.update({f"api key {v}": k for v, k in w.api_keys.items()})
    for who in ("owner", "admin", "member", "outsider"):
        member = getattr(w, who)
        found[f"{who} signed token"] = member.session.signed_token
        found[f"{who} raw token"] = member.session.token
        # The HMAC half alone is secret material too.
        found[f"{who} token signature"] = member.session.signed_token.split(".", 1)[1]
    for n, value in enumerate(extra):
        found[f"extra {n}"] = value
    return found


def _assert_nothing_leaks(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"{name} appears in {where}"


PUBLIC_ROUTES = {"/healthz", "/readyz", "/openapi.json", "/api/connect/webhook"}
OPERATOR_ROUTES = {"/api/operator/platform-fee", "/api/operator/reconcile", "/api/operator/debts"}
PLATFORM_ROUTES = {"/api/platform/payment-intents"}


def test_the_matrix_below_covers_every_user_route_the_backend_serves() -> None:
    """A route added later without access tests fails here, not in production."""
    served = {route.path for route in BACKEND_ROUTES} - PUBLIC_ROUTES - OPERATOR_ROUTES
    served -= PLATFORM_ROUTES
    covered = {path.split("?")[0] for _, path, _, _, _ in _user_routes("{org_id}")}
    assert served == covered


@pytest.fixture
def stack(make_backend: Callable[..., BackendStack]) -> BackendStack:
    return make_backend(env={"OPERATOR_API_KEY": OPERATOR_KEY, "PLATFORM_API_KEY": PLATFORM_KEY})


async def test_every_user_route_refuses_the_wrong_caller_and_logs_no_secret(
    stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = stack.worker
    expired = w.new_session(w.owner.user_id, active_organization_id=stack.org_id, ttl_seconds=-60)
    garbage = "not-a-token." + "A" * 43
    cases = {
        "no token": ({}, 401),
        "bearer without a token": ({"Authorization": "Bearer"}, 401),
        "basic scheme": ({"Authorization": f"Basic {w.owner.token}"}, 401),
        "garbage token": ({"Authorization": f"Bearer {garbage}"}, 401),
        "expired session": ({"Authorization": f"Bearer {expired.signed_token}"}, 401),
        "another org's owner": (stack.auth("outsider"), 403),
    }
    responses: list[str] = []
    checked = 0
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        for method, path, body, extra, manager_only in _user_routes(stack.org_id):
            for name, (auth, status) in cases.items():
                reply = await http.request(method, path, json=body, headers={**auth, **extra})
                error = assert_json_error(reply, status)
                assert (name, error["code"]) != (name, "internal_error")
                responses.append(reply.text)
                checked += 1
            member = await http.request(
                method, path, json=body, headers=stack.auth("member", **extra)
            )
            if manager_only:
                assert assert_json_error(member, 403)["code"] == "insufficient_role", path
            else:
                assert member.status_code in (200, 409), (path, member.text)  # 409: no account yet
            responses.append(member.text)
            checked += 1
            # The user named by X-User-ID is never trusted over the token.
            spoofed = await http.request(
                method,
                path,
                json=body,
                headers=stack.auth("member", X_User_ID=w.owner.user_id, **extra),
            )
            assert_json_error(spoofed, 403)
            checked += 1

        # The operator-only fee route: no key, a wrong key, and a user's session token.
        fee = {"organization_id": stack.org_id, "platform_fee_percent": 0}
        for headers in (
            {},
            {"X-Operator-Key": OPERATOR_KEY[:-1] + "x"},
            {"X-Operator-Key": w.owner.token},
            stack.auth("owner"),
        ):
            assert_json_error(
                await http.post("/api/operator/platform-fee", json=fee, headers=headers), 401
            )
            assert_json_error(await http.post("/api/operator/reconcile", headers=headers), 401)
            assert_json_error(await http.get("/api/operator/debts", headers=headers), 401)
            checked += 3
        # The platform's routes and powers: no key, a wrong key, the operator's key, a session.
        sale = {"organization_id": stack.org_id, "amount": 1_000, "currency": "usd"}
        for headers in (
            {},
            {"X-Platform-Key": PLATFORM_KEY[:-1] + "x"},
            {"X-Platform-Key": OPERATOR_KEY},
            stack.auth("owner"),
        ):
            reply = await http.post(
                "/api/platform/payment-intents",
                json=sale,
                headers={**headers, "Idempotency-Key": "sale-1"},
            )
            assert assert_json_error(reply, 401)["code"] == "invalid_platform_key"
            responses.append(reply.text)
            checked += 1
        # A wrong service key on the transfer route is refused, never read as the session.
        for header, value in (
            ("X-Platform-Key", PLATFORM_KEY[:-1] + "x"),
            ("X-Operator-Key", PLATFORM_KEY),
        ):
            reply = await http.post(
                "/api/connect/transfer",
                json={"organization_id": stack.org_id, "amount": 1_000, "currency": "usd"},
                headers={**stack.auth("owner"), header: value, "Idempotency-Key": "svc-1"},
            )
            assert_json_error(reply, 401)
            responses.append(reply.text)
            checked += 1
    assert checked == 17 * 8 + 4 * 3 + 4 + 2
    org = w.row(
        'SELECT "platform_fee_percent", "stripe_connect_account_id" FROM "organization" '
        'WHERE "id" = ?',
        stack.org_id,
    )
    assert org == {"platform_fee_percent": 10.0, "stripe_connect_account_id": None}

    secrets = _secrets(stack, expired.signed_token, expired.token, garbage)
    _assert_nothing_leaks("\n".join(responses), secrets, "a response")
    _assert_nothing_leaks(caplog.text, secrets, "the logs")
    assert caplog.records, "nothing was logged: the leak check would prove nothing"


def _worker_requests(stack: WorkerStack) -> list[tuple[str, str]]:
    requests = []
    for method, pattern in ROUTES:
        path = pattern.replace("{id}", stack.acme_org_id).replace("{stripe_account_id}", "acct_123")
        requests.append((method, path))
    return requests


async def test_every_worker_route_refuses_missing_wrong_and_removed_keys(
    make_worker_stack: Callable[..., WorkerStack], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    old = make_worker_stack()
    rotated = make_worker_stack(env={"INTERNAL_API_KEYS": f"v2:{old.api_keys['v2']}"})
    removed = old.api_keys["v1"]
    current = old.api_keys["v2"]
    presented = {
        "no key": {},
        "wrong key": {"X-API-Key": "k" * 64},
        "wrong bearer": {"Authorization": "Bearer " + "k" * 64},
        "removed old key": {"X-API-Key": removed},
        "removed old key as bearer": {"Authorization": f"Bearer {removed}"},
        "current key with a suffix": {"X-API-Key": current + "x"},
        "current key truncated": {"X-API-Key": current[:-1]},
        "empty key": {"X-API-Key": ""},
    }
    bodies: list[str] = []
    count = 0
    async with httpx.AsyncClient(base_url=rotated.url, timeout=10) as http:
        for method, path in _worker_requests(rotated):
            for name, headers in presented.items():
                reply = await http.request(
                    method, path, headers=headers, json={} if method == "POST" else None
                )
                error = assert_json_error(reply, 401)
                assert error["code"] == "unauthorized", (name, path)
                bodies.append(reply.text)
                count += 1
            ok = await http.request(
                method, path, headers={"X-API-Key": current}, json={} if method == "POST" else None
            )
            assert ok.status_code != 401, path  # the current key still works
    assert count == len(ROUTES) * len(presented)
    # Unauthenticated callers learn nothing about which routes exist (under one trace id, the
    # two answers are the same, byte for byte).
    same_trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    async with httpx.AsyncClient(base_url=rotated.url, timeout=10, headers=same_trace) as http:
        assert (await http.get("/api/internal/nope")).json() == (
            await http.get("/api/internal/health")
        ).json()

    secrets = {"current": current, "removed": removed, "secret": rotated.secret}
    _assert_nothing_leaks("\n".join(bodies), secrets, "a response")
    _assert_nothing_leaks(caplog.text, secrets, "the logs")
    assert "unknown" in caplog.text  # failures are logged, with the version, never the key


async def test_a_replica_left_with_a_removed_key_fails_closed_and_says_why_without_the_key(
    make_replica: Callable[..., BackendProcess], worker_stack: WorkerStack, make_worker_stack: Any
) -> None:
    """The key was rotated out at the Worker but one replica still holds it: users get 503, not
    someone else's data, and the replica's own log names the problem but not the key."""
    replica = make_replica(INTERNAL_API_KEY="r" * 48)
    async with httpx.AsyncClient(base_url=replica.url, timeout=30) as http:
        reply = await http.get(
            f"/api/connect/status/{worker_stack.acme_org_id}",
            headers={"Authorization": f"Bearer {worker_stack.owner.token}"},
        )
        assert assert_json_error(reply, 503)["code"] == "worker_unavailable"
        ready = await http.get("/readyz")
        assert_json_error(ready, 503)
    replica.stop()
    log = replica.log()
    assert "INTERNAL_API_KEY" in log
    _assert_nothing_leaks(
        log,
        {"stale key": "r" * 48, "token": worker_stack.owner.token, "secret": worker_stack.secret},
        "the replica's log",
    )
