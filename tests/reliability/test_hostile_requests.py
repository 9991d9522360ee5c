"""Hand-written hostile requests: oversized bodies, header injection on the raw socket, ids that
look like SQL, paths or unicode tricks, forged JWTs, and webhook replays / foreign signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.soak_events import account_updated, sign
from tests.fixtures.backend import BackendStack
from tests.reliability.conftest import assert_json_error, deliver, onboard, stop_webhooks

HOSTILE_IDS = [
    "' OR '1'='1",
    "x'; DROP TABLE organization; --",
    '" OR ""="',
    "../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "acme\u0000",
    "\u202eemca",
    "ａｃｍｅ",  # full-width
    "acme\u200b",
    "🦄" * 40,
    "a" * 129,
    "a" * 5000,
    "null",
    "*",
    "%",
]


@pytest.fixture
async def http(backend_stack: BackendStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend_stack.url, timeout=30) as client:
        yield client


def _tables(stack: BackendStack) -> list[Any]:
    return stack.worker.rows(
        'SELECT name, (SELECT COUNT(*) FROM "organization") AS orgs, '
        "(SELECT COUNT(*) FROM \"member\") AS members FROM sqlite_master WHERE type = 'table' "
        "ORDER BY name"
    )


async def test_sql_path_and_unicode_looking_org_ids_are_a_plain_403_everywhere(
    backend_stack: BackendStack, http: httpx.AsyncClient
) -> None:
    before = _tables(backend_stack)
    owner = backend_stack.auth("owner")
    for org_id in HOSTILE_IDS:
        replies = [
            await http.get(f"/api/connect/status/{quote(org_id, safe='')}", headers=owner),
            await http.get(f"/api/connect/balance/{quote(org_id, safe='')}", headers=owner),
            await http.post(
                "/api/connect/onboard", json={"organization_id": org_id}, headers=owner
            ),
            await http.post(
                "/api/connect/login-link", json={"organization_id": org_id}, headers=owner
            ),
            await http.post(
                "/api/connect/transfer",
                json={"organization_id": org_id, "source_transaction": "ch_hostile1"},
                headers={**owner, "Idempotency-Key": "k1"},
            ),
        ]
        if org_id.isascii() and "\x00" not in org_id:
            replies.append(
                await http.get("/api/connect/status", headers={**owner, "X-Org-ID": org_id})
            )
        for reply in replies:
            assert_json_error(reply, 400, 403, 404)
            assert reply.status_code != 404 or reply.json()["error"]["code"] == "not_found"
    # Path traversal never leaves the route table.
    for path in (
        "/api/connect/status/../../healthz",
        "/api/connect/status/%2e%2e/%2e%2e/openapi.json",
    ):
        reply = await http.get(path, headers=owner)
        assert reply.status_code in (403, 404), (path, reply.text)
    assert _tables(backend_stack) == before


def _raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _http(first_line: str, *headers: str, body: str = "") -> bytes:
    lines = [first_line, "Host: x", *headers, "Connection: close", "", body]
    return "\r\n".join(lines).encode()


def test_header_injection_on_the_raw_socket_gains_nothing(backend_stack: BackendStack) -> None:
    """CRLF smuggled into a header value, a second Authorization, obs-fold, and a header split to
    sneak in `X-User-ID`: the server refuses or ignores them, never answers 5xx or lets a
    member act as an owner."""
    member = backend_stack.tokens["member"]
    owner = backend_stack.tokens["owner"]
    org = backend_stack.org_id
    status_line = f"GET /api/connect/status/{org} HTTP/1.1"
    body = json.dumps({"organization_id": org})
    attempts = [
        # A bare CR inside a value, to split off a second header.
        _http(status_line, f"Authorization: Bearer {member}\rX-User-ID: admin"),
        # obs-fold: a continuation line that some parsers glue onto the previous header.
        _http(status_line, f"Authorization: Bearer {member}", " X-Org-ID: other"),
        # A bare LF.
        _http(status_line, f"Authorization: Bearer {member}\nX-User-ID: evil"),
        # Two Authorization headers: which one wins must not be the owner's.
        _http(
            "POST /api/connect/onboard HTTP/1.1",
            f"Authorization: Bearer {member}",
            f"Authorization: Bearer {owner}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            body=body,
        ),
        # CRLF percent-encoded into the path.
        _http(
            f"GET /api/connect/status/{org}%0d%0aX-User-ID:%20x HTTP/1.1",
            f"Authorization: Bearer {owner}",
        ),
        # Request smuggling shape: Content-Length and Transfer-Encoding together.
        _http(
            status_line,
            f"Authorization: Bearer {owner}",
            "Content-Length: 5",
            "Transfer-Encoding: chunked",
            body="0\r\n\r\n",
        ),
    ]
    for request in attempts:
        raw = _raw_request(backend_stack.url, request)
        answer_line = raw.split(b"\r\n", 1)[0]
        assert answer_line.startswith(b"HTTP/1.1 "), raw[:200]
        status = int(answer_line.split()[1])
        assert status < 500, raw[:500]
        assert b"Traceback" not in raw
        # The doubled-Authorization onboard must not run as the owner.
        if b"/onboard" in request:
            assert status in (400, 401, 403), raw[:500]
    assert backend_stack.worker.row(
        'SELECT "stripe_connect_account_id" FROM "organization" WHERE "id" = ?', org
    ) == {"stripe_connect_account_id": None}


async def test_oversized_bodies_are_refused_before_they_are_read(
    backend_stack: BackendStack, http: httpx.AsyncClient
) -> None:
    owner = backend_stack.auth("owner")
    # Declared too large: refused from the headers alone, no body sent.
    raw = _raw_request(
        backend_stack.url,
        _http(
            "POST /api/connect/onboard HTTP/1.1",
            f"Authorization: {owner['Authorization']}",
            "Content-Type: application/json",
            "Content-Length: 1073741824",
        ),
    )
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    assert b'"payload_too_large"' in raw

    async def stream(size: int) -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            yield b" " * 16384
            sent += 16384

    # The webhook's header is judged first (a bad one is refused unread), so a fresh one here.
    fresh = {"Stripe-Signature": f"t={int(time.time())},v1=00"}
    for path, size in (("/api/connect/onboard", 1 << 20), ("/api/connect/webhook", 4 << 20)):
        started = time.monotonic()
        reply = await http.post(
            path,
            content=stream(size),
            headers={**owner, **fresh, "Content-Type": "application/json"},
        )
        assert_json_error(reply, 413)
        assert time.monotonic() - started < 5
    big = {"organization_id": backend_stack.org_id, "return_url": "x" * (70 * 1024)}
    assert_json_error(await http.post("/api/connect/onboard", json=big, headers=owner), 413)
    # The Worker refuses its own oversized bodies too (64 KiB).
    async with httpx.AsyncClient(base_url=backend_stack.worker.url, timeout=10) as worker:
        reply = await worker.post(
            "/api/internal/verify-user-context",
            json={"token": "x" * (65 * 1024)},
            headers=backend_stack.worker.headers,
        )
        assert_json_error(reply, 413)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"
    )


@pytest.fixture
def jwt_key(backend_stack: BackendStack) -> tuple[Ed25519PrivateKey, str]:
    """A key registered in Better Auth's `jwks` table, as its JWT plugin would store it."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = json.dumps({"crv": "Ed25519", "x": _b64(public), "kty": "OKP"})
    backend_stack.worker.execute(
        'INSERT INTO "jwks" ("id", "publicKey", "privateKey", "createdAt", "alg", "crv") '
        "VALUES ('rel-kid', ?, 'not-used', '2026-11-27T00:00:00.000Z', 'EdDSA', 'Ed25519')",
        jwk,
    )
    return key, jwk


async def test_forged_jwts_are_401_while_a_genuine_one_works(
    backend_stack: BackendStack, http: httpx.AsyncClient, jwt_key: tuple[Ed25519PrivateKey, str]
) -> None:
    key, jwk = jwt_key
    now = int(backend_stack.worker.clock())
    claims = {"sub": backend_stack.worker.owner.user_id, "iat": now, "exp": now + 600}
    header = {"alg": "EdDSA", "kid": "rel-kid", "typ": "JWT"}

    def signed(h: dict[str, Any], c: dict[str, Any], k: Ed25519PrivateKey = key) -> str:
        unsigned = f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(c).encode())}"
        return f"{unsigned}.{_b64(k.sign(unsigned.encode()))}"

    def hs256(secret: bytes) -> str:
        h = {"alg": "HS256", "kid": "rel-kid", "typ": "JWT"}
        unsigned = f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{unsigned}.{_b64(hmac.new(secret, unsigned.encode(), hashlib.sha256).digest())}"

    status_path = f"/api/connect/status/{backend_stack.org_id}"
    genuine = await http.get(
        status_path, headers={"Authorization": f"Bearer {signed(header, claims)}"}
    )
    assert genuine.status_code == 200, genuine.text

    raw_public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    forged = {
        "alg none": _jwt({"alg": "none", "kid": "rel-kid"}, claims, b""),
        "alg None, genuine signature": signed({"alg": "None", "kid": "rel-kid"}, claims),
        "HS256 keyed with the JWK": hs256(jwk.encode()),
        "HS256 keyed with the raw public key": hs256(raw_public),
        "HS256 keyed with x": hs256(_b64(raw_public).encode()),
        "unknown kid": signed({**header, "kid": "no-such-kid"}, claims),
        "no kid": signed({"alg": "EdDSA"}, claims),
        "another key": signed(header, claims, Ed25519PrivateKey.generate()),
        "expired": signed(header, {**claims, "exp": now - 1}),
        "claims swapped after signing": signed(header, claims).split(".")[0]
        + "."
        + _b64(json.dumps({**claims, "sub": backend_stack.worker.outsider.user_id}).encode())
        + "."
        + signed(header, claims).split(".")[2],
        "kid as SQL": signed({**header, "kid": "' OR '1'='1"}, claims),
        "kid as path": signed({**header, "kid": "../../etc/passwd"}, claims),
    }
    for name, token in forged.items():
        reply = await http.get(status_path, headers={"Authorization": f"Bearer {token}"})
        error = assert_json_error(reply, 401)
        assert error["code"] == "invalid_token", name


async def test_replayed_or_foreign_signed_webhooks_are_refused_without_effect(
    backend_stack: BackendStack, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = backend_stack
    account_id = await onboard(http, stack)
    stop_webhooks(stack.stripe)
    stack.stripe.complete_onboarding(account_id)
    payload = account_updated("evt_rel_replay_1", account_id, created=int(time.time()))
    url = f"{stack.url}/api/connect/webhook"
    secret = stack.stripe.connect_webhook_secret
    refused = {
        "301 s old": await deliver(http, url, payload, secret, timestamp=int(time.time()) - 301),
        "an hour in the future": await deliver(
            http, url, payload, secret, timestamp=int(time.time()) + 3600
        ),
        "another endpoint's secret": await deliver(
            http, url, payload, "whsec_someone_elses_secret"
        ),
        "the API key as secret": await deliver(http, url, payload, stack.stripe.api_key),
        "body changed after signing": await http.post(
            url,
            content=payload.replace(b"evt_rel_replay_1", b"evt_rel_replay_2"),
            headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
        ),
        "v0 scheme only": await http.post(
            url,
            content=payload,
            headers={"Stripe-Signature": sign(payload, secret).replace("v1=", "v0=")},
        ),
        "no signature": await http.post(url, content=payload),
    }
    for name, reply in refused.items():
        error = assert_json_error(reply, 400, 401)
        assert error["code"] == "invalid_signature", name
    assert stack.worker.rows('SELECT * FROM "connect_webhook_event"') == []
    assert stack.worker.row(
        'SELECT "stripe_connect_status" FROM "organization" WHERE "id" = ?', stack.org_id
    ) == {"stripe_connect_status": "pending"}
    # The same bytes signed now, with the right secret, go through — once.
    first = await deliver(http, url, payload, secret)
    replay = await deliver(http, url, payload, secret)
    assert first.json() == {"received": True, "duplicate": False, "handled": True}
    assert replay.json() == {"received": True, "duplicate": True, "handled": True}
    assert [r["event_id"] for r in stack.worker.rows('SELECT * FROM "connect_webhook_event"')] == [
        "evt_rel_replay_1"
    ]
    assert "outside_tolerance" in caplog.text  # the refusals were logged: reason only
    for secret_value in (
        secret,
        stack.stripe.webhook_secret,
        stack.stripe.api_key,
        "whsec_someone_elses_secret",
    ):
        assert secret_value not in caplog.text
    signatures = [sign(payload, secret).split("v1=")[1]]
    assert not any(s in caplog.text for s in signatures)
