from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from backend.app import ROUTES
from backend.core.errors import EXCEPTION_HANDLERS
from backend.core.models import HealthReply, StatusReply
from backend.edge.endpoints import Endpoint
from backend.routes import ENDPOINTS
from tests.fixtures.backend import FRONTEND_ORIGIN, BackendStack


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"ok": True}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["worker"] is True


async def test_readiness_fails_when_the_worker_is_unreachable(
    make_backend: Callable[..., BackendStack],
) -> None:
    stack = make_backend(env={"WORKER_URL": "http://127.0.0.1:9"}, webhooks=False)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["error"]["code"]) == (503, "not_ready")
        r = await http.get(f"/api/connect/status/{stack.org_id}", headers=stack.auth())
        assert (r.status_code, r.json()["error"]["code"]) == (503, "worker_unavailable")


async def test_cors_allows_only_the_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
    }
    ok = await client.options(
        "/api/connect/transfer", headers={"Origin": FRONTEND_ORIGIN, **preflight}
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    bad = await client.options(
        "/api/connect/transfer", headers={"Origin": "https://evil.example", **preflight}
    )
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers
    simple = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_malformed_json_and_wrong_types_are_400_never_500(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    headers = {**backend_stack.auth(), "Content-Type": "application/json"}
    for raw, code in (
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_request"),
        (b'"x"', "invalid_request"),
        (b'{"organization_id": 5}', "invalid_request"),
        (b'{"organization_id": "x", "return_url": ["a"]}', "invalid_request"),
    ):
        r = await client.post("/api/connect/onboard", content=raw, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), raw


async def test_oversized_bodies_are_413(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    big = b'{"organization_id": "' + b"x" * (70 * 1024) + b'"}'
    r = await client.post("/api/connect/onboard", content=big, headers=backend_stack.auth())
    assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    streamed = await client.post(
        "/api/connect/onboard", content=chunks(), headers=backend_stack.auth()
    )
    assert streamed.status_code == 413
    webhook = await client.post("/api/connect/webhook", content=b"x" * (600 * 1024))
    assert webhook.status_code == 413


async def test_unknown_paths_and_methods_answer_json_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/connect/nothing")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = await client.get("/api/connect/transfer")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


async def test_openapi_describes_every_route_with_schemas(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    served = {
        (method.lower(), route.path)
        for route in ROUTES
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served == described
    assert len(served) == len(ENDPOINTS) >= 14
    for endpoint in ENDPOINTS:
        op = spec["paths"][endpoint.path][endpoint.method.lower()]
        reply = op["responses"][str(endpoint.status)]["content"]["application/json"]["schema"]
        name = endpoint.reply.__name__
        assert reply == {"$ref": f"#/components/schemas/{name}"}
        schema = endpoint.reply.model_json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        schema.pop("$defs", None)  # nested models are components of their own
        assert spec["components"]["schemas"][name] == schema
    transfer = spec["components"]["schemas"]["TransferRequest"]
    assert transfer["additionalProperties"] is False
    assert {"type": "integer", "exclusiveMinimum": 0, "maximum": 99_999_999} in transfer[
        "properties"
    ]["amount"]["anyOf"]
    assert "source_transaction" in transfer["properties"]
    security = spec["paths"]["/api/connect/transfer"]["post"]["security"]
    assert security == [{"bearer": []}, {"platform": []}, {"operator": []}]


async def test_openapi_names_the_org_path_first_and_x_user_id_last_on_every_route_taking_them(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            names = [(p["in"], p["name"]) for p in op["parameters"]]
            org_in_path = "{org_id}" in path
            assert (("path", "org_id") in names) == org_in_path, (method, path)
            assert not org_in_path or names[0] == ("path", "org_id"), (method, path)
            bearer = {"bearer": []} in op["security"]
            assert (("header", "X-User-ID") in names) == bearer, (method, path)
            assert not bearer or names[-1] == ("header", "X-User-ID"), (method, path)
            assert len(set(names)) == len(names), (method, path)


async def test_tokens_never_reach_logs_or_error_bodies(
    client: httpx.AsyncClient, backend_stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = backend_stack.tokens["owner"]
    bad = token[:-4] + "AAA="
    for t in (token, bad):
        r = await client.post(
            "/api/connect/transfer",
            json={"organization_id": backend_stack.org_id, "source_transaction": "ch_1"},
            headers={"Authorization": f"Bearer {t}", "Idempotency-Key": "k"},
        )
        assert t not in r.text
    assert token not in caplog.text
    assert bad not in caplog.text
    assert backend_stack.worker.api_key not in caplog.text


async def test_operator_sets_the_platform_fee_and_members_cannot(
    make_backend: Callable[..., BackendStack], backend_stack: BackendStack
) -> None:
    operator_key = "o" * 40
    stack = make_backend(env={"OPERATOR_API_KEY": operator_key}, webhooks=False)
    body = {"organization_id": stack.org_id, "platform_fee_percent": 2.5, "platform_fee_fixed": 30}
    async with httpx.AsyncClient(base_url=stack.url) as http:
        refused = await http.post("/api/operator/platform-fee", json=body, headers=stack.auth())
        assert refused.status_code == 401
        r = await http.post(
            "/api/operator/platform-fee", json=body, headers={"X-Operator-Key": operator_key}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["platform_fee_percent"], r.json()["platform_fee_fixed"]) == (2.5, 30)
    async with httpx.AsyncClient(base_url=backend_stack.url) as http:  # no operator key set
        off = await http.post(
            "/api/operator/platform-fee", json=body, headers={"X-Operator-Key": operator_key}
        )
        assert off.status_code == 404


async def test_an_endpoint_never_answers_another_model_than_the_one_it_documents() -> None:
    async def wrong(request: Request) -> HealthReply:
        return HealthReply()

    endpoint = Endpoint("GET", "/x", wrong, "x", StatusReply, security=None)
    app = Starlette(routes=[endpoint.route()], exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        r = await client.get("/x")
    assert (r.status_code, r.json()["error"]["code"]) == (500, "internal_error")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_a_head_past_the_default_bound_is_431_json_on_every_route(
    backend_stack: BackendStack, endpoint: Endpoint
) -> None:
    """A 40 KiB bearer token (over HTTP_MAX_HEADER_BYTES, 32 KiB by default): refused before any
    route, authenticator or Worker call sees it."""
    path = endpoint.path.replace("{org_id}", backend_stack.org_id).encode()
    head = (
        endpoint.method.encode() + b" " + path + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n"
        b"Authorization: Bearer " + b"t" * 40 * 1024 + b"\r\n\r\n{}"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", backend_stack._running.port)
    writer.write(head)
    said = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status_line, _, rest = said.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large", said[:200]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "header_too_large"
