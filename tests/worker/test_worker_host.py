"""The Worker core hosted over HTTP (devstack.worker_host) — what the backend really talks to."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.fixtures.worker import WorkerStack

VERIFY = "/api/internal/verify-user-context"


def post(stack: WorkerStack, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", stack.headers)
    return httpx.post(f"{stack.url}{path}", json=body, headers=headers, **kwargs)


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    code: str = response.json()["error"]["code"]
    return code


@pytest.mark.parametrize("member", ["owner", "admin", "member"])
def test_each_seeded_member_gets_their_role(worker_stack: WorkerStack, member: str) -> None:
    seeded = getattr(worker_stack, member)
    before = worker_stack.db.round_trips
    response = post(
        worker_stack, VERIFY, {"token": seeded.token, "organization_id": worker_stack.acme_org_id}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == seeded.user_id
    assert body["role"] == member
    assert body["organization"]["slug"] == "acme"
    assert body["session"]["id"] == seeded.session.session_id
    assert worker_stack.db.round_trips - before == 1


def test_url_encoded_and_raw_tokens_verify_over_http(worker_stack: WorkerStack) -> None:
    for token in (
        worker_stack.owner.session.signed_token_urlencoded,
        worker_stack.owner.session.token,
    ):
        assert post(worker_stack, VERIFY, {"token": token}).status_code == 200


def test_outsider_is_forbidden_from_acme(worker_stack: WorkerStack) -> None:
    response = post(
        worker_stack,
        VERIFY,
        {"token": worker_stack.outsider.token, "organization_id": worker_stack.acme_org_id},
    )
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def test_expired_session_is_401_after_the_clock_moves(worker_stack: WorkerStack) -> None:
    short = worker_stack.new_session(worker_stack.member.user_id, ttl_seconds=60)
    signed = short.signed_token
    assert post(worker_stack, VERIFY, {"token": signed}).status_code == 200
    worker_stack.clock.advance(61)
    response = post(worker_stack, VERIFY, {"token": signed})
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_deleted_users_sessions_stop_working(worker_stack: WorkerStack) -> None:
    worker_stack.execute('DELETE FROM "user" WHERE id = ?', worker_stack.member.user_id)
    assert post(worker_stack, VERIFY, {"token": worker_stack.member.token}).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        lambda s: {"X-API-Key": s.api_keys["v2"]},
        lambda s: {"X-API-Key": s.api_keys["v1"]},
        lambda s: {"Authorization": f"Bearer {s.api_keys['v2']}"},
        lambda s: {"Authorization": f"Bearer {s.api_keys['v1']}"},
    ],
)
def test_both_keys_in_either_header_are_accepted(
    worker_stack: WorkerStack, headers: Callable[[WorkerStack], dict[str, str]]
) -> None:
    response = httpx.get(f"{worker_stack.url}/api/internal/health", headers=headers(worker_stack))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "x" * 64},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_keys_get_401_json(
    worker_stack: WorkerStack, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connect_worker"):
        response = httpx.get(f"{worker_stack.url}/api/internal/health", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"
    assert "key_version=unknown" in caplog.text
    assert "x" * 64 not in caplog.text


def test_removing_the_old_key_refuses_it(
    make_worker_stack: Callable[..., WorkerStack], worker_stack: WorkerStack
) -> None:
    new_only = make_worker_stack(env={"INTERNAL_API_KEYS": f"v2:{worker_stack.api_keys['v2']}"})
    health = f"{new_only.url}/api/internal/health"
    assert httpx.get(health, headers={"X-API-Key": worker_stack.api_keys["v2"]}).status_code == 200
    assert httpx.get(health, headers={"X-API-Key": worker_stack.api_keys["v1"]}).status_code == 401


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b'{"token": NaN}', "invalid_json"),
        (b'{"token": "a", "token": "b"}', "invalid_json"),  # a repeated key means two bodies
        (b'{"token": "t", "organization_id": {"x": 1, "x": 2}}', "invalid_json"),
        (b"[]", "invalid_request"),
        (b'"token"', "invalid_request"),
        (b"{}", "invalid_request"),
        (b'{"token": 5}', "invalid_request"),
        (b'{"token": "t", "extra": 1}', "invalid_request"),
        (b'{"token": "t", "organization_id": true}', "invalid_request"),
        (json.dumps({"token": "t" * 5000}).encode(), "invalid_request"),
    ],
)
def test_bad_bodies_are_400_json(worker_stack: WorkerStack, content: bytes, code: str) -> None:
    response = httpx.post(
        f"{worker_stack.url}{VERIFY}", content=content, headers=worker_stack.headers
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == code


LONE = "\ud800"  # json.dumps writes it as the escape `"\\ud800"`: valid JSON, but not UTF-8 text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (VERIFY, {"token": "<owner>", "organization_id": LONE}),
        (
            "/api/internal/update-organization",
            {"organization_id": LONE, "fields": {"charges_enabled": True}},
        ),
        (
            "/api/internal/update-organization",
            {"organization_id": "o", "fields": {"requirements_past_due": [LONE]}},
        ),
        (
            "/api/internal/webhook-events/claim",
            {"event_id": "evt_" + LONE, "event_type": "x", "event_created": 1},
        ),
        (
            "/api/internal/webhook-events/complete",
            {"event_id": "evt_1", "claim_id": "c", "outcome": "failed", "error": LONE},
        ),
    ],
)
def test_escaped_lone_surrogates_are_400_not_500(
    worker_stack: WorkerStack, path: str, body: dict[str, Any]
) -> None:
    # D1 (SQLite) can neither store nor compare such a string: it is a wrong type, not a crash.
    if body.get("token") == "<owner>":
        body = {**body, "token": worker_stack.owner.token}
    content = json.dumps(body).encode()  # ASCII: the surrogate travels as its `\\u` escape
    response = httpx.post(
        f"{worker_stack.url}{path}", content=content, headers=worker_stack.headers
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalid_request"


def test_oversized_body_is_413(worker_stack: WorkerStack) -> None:
    content = json.dumps({"token": "t" * (70 * 1024)}).encode()
    response = httpx.post(
        f"{worker_stack.url}{VERIFY}", content=content, headers=worker_stack.headers
    )
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/internal",
        "/api/internal/nope",
        "/api/internal/verify-user-context/extra",
        "/api/internal/organization",
        "/API/internal/health",
    ],
)
def test_unknown_routes_are_404(worker_stack: WorkerStack, path: str) -> None:
    response = httpx.get(f"{worker_stack.url}{path}", headers=worker_stack.headers)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_wrong_method_is_405_with_allow(worker_stack: WorkerStack) -> None:
    response = httpx.get(f"{worker_stack.url}{VERIFY}", headers=worker_stack.headers)
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert response.headers["allow"] == "POST"
    response = httpx.delete(
        f"{worker_stack.url}/api/internal/organization/x", headers=worker_stack.headers
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("org_id", ["' OR 1=1 --", "x%27%3B%20DROP%20TABLE%20organization", ".."])
def test_sql_looking_ids_in_paths_are_not_found(worker_stack: WorkerStack, org_id: str) -> None:
    response = httpx.get(
        f"{worker_stack.url}/api/internal/organization/{org_id}", headers=worker_stack.headers
    )
    assert response.status_code == 404
    assert worker_stack.row("SELECT COUNT(*) AS n FROM organization") == {"n": 2}


def test_d1_failure_is_503(worker_stack: WorkerStack) -> None:
    worker_stack.db.close()
    response = httpx.get(f"{worker_stack.url}/api/internal/health", headers=worker_stack.headers)
    assert response.status_code == 503
    assert error_code(response) == "d1_unavailable"


def test_onboarding_writes_are_visible_in_d1(worker_stack: WorkerStack) -> None:
    response = post(
        worker_stack,
        "/api/internal/create-connect-account",
        {"organization_id": worker_stack.acme_org_id, "stripe_account_id": "acct_1Q"},
    )
    assert response.status_code == 201
    row = worker_stack.row(
        "SELECT stripe_connect_account_id, stripe_connect_status FROM organization WHERE id = ?",
        worker_stack.acme_org_id,
    )
    assert row == {"stripe_connect_account_id": "acct_1Q", "stripe_connect_status": "pending"}


def test_transfer_lookup_over_http_decodes_each_path_segment(worker_stack: WorkerStack) -> None:
    """A key may hold "/" (sent as %2F): the host hands the core the encoded path."""
    org_id = worker_stack.acme_org_id
    key = "order/42 ?#%"
    reserved = post(
        worker_stack,
        "/api/internal/transfers/reserve",
        {
            "organization_id": org_id,
            "idempotency_key": key,
            "request_hash": "h" * 64,
            "gross_amount": 1000,
            "fee_amount": 100,
            "net_amount": 900,
            "currency": "usd",
            "stripe_account_id": "acct_1Q",
            "reason": "adjustment",
        },
    )
    assert reserved.status_code == 201, reserved.text
    url = f"{worker_stack.url}/api/internal/transfers/{org_id}/{quote(key, safe='')}"
    found = httpx.get(url, headers=worker_stack.headers)
    assert found.status_code == 200, found.text
    assert found.json()["transfer"]["idempotency_key"] == key
    assert httpx.get(url).status_code == 401
    unencoded = f"{worker_stack.url}/api/internal/transfers/{org_id}/order/42"
    missing = httpx.get(unencoded, headers=worker_stack.headers)
    assert (missing.status_code, error_code(missing)) == (404, "not_found")


def _raw(stack: WorkerStack, head: str) -> tuple[int, bytes]:
    """One request written byte for byte (no client normalizes it); the status and the body."""
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode() + b"Host: w\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    return int(head_bytes.split()[1]), body


def test_dot_segments_route_where_cloudflare_routes_them(worker_stack: WorkerStack) -> None:
    key = f"X-API-Key: {worker_stack.headers['X-API-Key']}\r\n"
    assert _raw(worker_stack, "GET /api/internal/health/x/%2E%2e HTTP/1.1\r\n" + key)[0] == 200
    assert _raw(worker_stack, "GET /api/internal/x/../health HTTP/1.1\r\n" + key)[0] == 200
    org = worker_stack.acme_org_id
    status, body = _raw(worker_stack, f"GET /api/internal/organization/{org}/.. HTTP/1.1\r\n" + key)
    assert status == 404, body


def test_an_api_key_sent_twice_is_read_joined_and_refused(worker_stack: WorkerStack) -> None:
    good = worker_stack.headers["X-API-Key"]
    twice = f"X-API-Key: {'x' * 40}\r\nX-API-Key: {good}\r\n"
    status, body = _raw(worker_stack, "GET /api/internal/health HTTP/1.1\r\n" + twice)
    assert status == 401, body
