"""Every route that moves money or changes settings refuses bodies that are not `application/json`,
JSON with a repeated key, absurdly nested JSON, and Idempotency-Keys that are not exactly what the
client meant (Stripe's rules)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.fixtures.backend import BackendStack

OPERATOR_KEY = "op-" + "k" * 40
MONEY_AND_SETTINGS = (
    "/api/connect/onboard",
    "/api/connect/transfer",
    "/api/connect/payout",
    "/api/connect/login-link",
    "/api/operator/platform-fee",
)


@pytest.fixture
def stack(make_backend) -> BackendStack:  # type: ignore[no-untyped-def]
    built: BackendStack = make_backend(env={"OPERATOR_API_KEY": OPERATOR_KEY})
    return built


def _headers(stack: BackendStack, **extra: str) -> dict[str, str]:
    return {
        **stack.auth("owner"),
        "Idempotency-Key": "k-1",
        "X-Operator-Key": OPERATOR_KEY,
        **extra,
    }


def _body(stack: BackendStack) -> bytes:
    return json.dumps({"organization_id": stack.org_id, "amount": 100, "currency": "usd"}).encode()


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_a_body_that_is_not_application_json_is_415_on_every_money_and_settings_route(
    stack: BackendStack, content_type: str | None
) -> None:
    extra = {} if content_type is None else {"Content-Type": content_type}
    async with httpx.AsyncClient(base_url=stack.url) as http:
        for path in MONEY_AND_SETTINGS:
            r = await http.post(path, content=_body(stack), headers=_headers(stack, **extra))
            assert (r.status_code, r.json()["error"]["code"]) == (
                415,
                "unsupported_media_type",
            ), path


async def test_json_with_a_charset_parameter_is_accepted(stack: BackendStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.post(
            "/api/connect/login-link",
            content=json.dumps({"organization_id": stack.org_id}).encode(),
            headers=_headers(stack, **{"Content-Type": "application/json; charset=UTF-8"}),
        )
    # Past the body rules: the organization simply has no Stripe account yet.
    assert (r.status_code, r.json()["error"]["code"]) == (409, "no_connect_account")


async def test_a_repeated_json_key_is_400_on_every_money_and_settings_route(
    stack: BackendStack,
) -> None:
    # Python keeps the last value, other parsers the first: the body means two different orgs.
    raw = (
        f'{{"organization_id": "{stack.other_org_id}", "organization_id": "{stack.org_id}", '
        '"amount": 100, "currency": "usd", "platform_fee_percent": 1}'
    ).encode()
    nested = (
        f'{{"organization_id": "{stack.org_id}", "amount": 100, "currency": "usd", '
        '"metadata": {"a": "1", "a": "2"}}'
    ).encode()
    async with httpx.AsyncClient(base_url=stack.url) as http:
        for path in MONEY_AND_SETTINGS:
            for content in (raw, nested):
                r = await http.post(
                    path,
                    content=content,
                    headers=_headers(stack, **{"Content-Type": "application/json"}),
                )
                assert (r.status_code, r.json()["error"]["code"]) == (
                    400,
                    "duplicate_json_key",
                ), path


async def test_deeply_nested_json_is_400_not_a_crash(stack: BackendStack) -> None:
    deep = b'{"metadata": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    async with httpx.AsyncClient(base_url=stack.url) as http:
        for path in MONEY_AND_SETTINGS:
            r = await http.post(
                path, content=deep, headers=_headers(stack, **{"Content-Type": "application/json"})
            )
            assert (r.status_code, r.json()["error"]["code"]) == (400, "json_too_deep"), path


async def _raw_post(url: str, path: str, head: list[bytes], body: bytes) -> tuple[int, bytes]:
    """HTTP/1.1 by hand: clients refuse to send a header value with trailing whitespace, but the
    server's parser (httptools) keeps it, so a hostile or sloppy client can."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + b"".join(line + b"\r\n" for line in head)
        + b"\r\n"
        + body
    )
    writer.write(request)
    reply = await reader.read()
    writer.close()
    head_part, _, payload = reply.partition(b"\r\n\r\n")
    return int(head_part.split(b" ")[1]), payload


@pytest.mark.parametrize("path", ["/api/connect/transfer", "/api/connect/payout"])
async def test_an_idempotency_key_with_trailing_whitespace_is_400_never_another_key(
    stack: BackendStack, path: str
) -> None:
    auth = f"Authorization: Bearer {stack.tokens['owner']}".encode()
    status, payload = await _raw_post(
        stack.url, path, [auth, b"Idempotency-Key: order-1   "], _body(stack)
    )
    assert status == 400
    assert json.loads(payload)["error"]["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize("key", ["x" * 256, "caf\u00e9"])
async def test_idempotency_keys_beyond_stripes_rules_are_400(stack: BackendStack, key: str) -> None:
    auth = f"Authorization: Bearer {stack.tokens['owner']}".encode()
    status, payload = await _raw_post(
        stack.url,
        "/api/connect/transfer",
        [auth, b"Idempotency-Key: " + key.encode()],
        _body(stack),
    )
    assert status == 400
    assert json.loads(payload)["error"]["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize("path", ["/api/connect/transfer", "/api/connect/payout"])
@pytest.mark.parametrize("key", [".", ".."])
async def test_a_dot_key_that_would_not_survive_the_url_to_the_worker_is_400(
    stack: BackendStack, path: str, key: str
) -> None:
    """A replay looks the key up in a Worker URL path, where Cloudflare resolves `.`/`..` away
    (as `%2e` too): such a key could never be found again, so it is refused up front."""
    auth = f"Authorization: Bearer {stack.tokens['owner']}".encode()
    status, payload = await _raw_post(
        stack.url, path, [auth, b"Idempotency-Key: " + key.encode()], _body(stack)
    )
    assert status == 400
    assert json.loads(payload)["error"]["code"] == "invalid_idempotency_key"


async def test_a_255_character_key_with_inner_spaces_is_accepted(stack: BackendStack) -> None:
    key = "order " + "x" * 249
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.post(
            "/api/connect/transfer",
            content=_body(stack),
            headers=_headers(stack, **{"Content-Type": "application/json", "Idempotency-Key": key}),
        )
    # Past the key rules: the organization cannot receive transfers yet.
    assert (r.status_code, r.json()["error"]["code"]) == (409, "account_not_ready")
