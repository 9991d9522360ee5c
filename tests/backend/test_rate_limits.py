"""Rate limits (backend/edge/rate_limits.py over backend/edge/token_bucket.py): per user, per
organization and a platform-wide user share of the Stripe budget on the routes that spend Stripe
requests; per address on unauthenticated routes; 429 with `Retry-After`. Webhook processing and the
platform's own calls never wait on user traffic."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from starlette.requests import Request

from backend.core.settings import load_settings
from backend.edge.rate_limits import RateLimited, RateLimits, client_address
from backend.edge.token_bucket import Buckets, Rate
from bench.soak_events import sign
from tests.backend.conftest import eventually
from tests.fixtures.backend import BackendStack

PLATFORM_KEY = "platform-key-for-rate-limit-tests-0123456789"
SLOW = "0.001"  # per minute: nothing refills within a test


class ShiftableClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_bucket_holds_its_burst_and_refills_at_its_rate() -> None:
    clock = ShiftableClock(1000.0)
    buckets = Buckets(Rate(per_second=2.0, burst=3), max_keys=10, clock=clock)
    for _ in range(3):
        assert buckets.wait("a") == 0
        buckets.take("a")
    assert buckets.wait("a") == pytest.approx(0.5)
    assert buckets.wait("b") == 0  # keys are independent
    clock.advance(0.5)
    assert buckets.wait("a") == 0
    buckets.take("a")
    clock.advance(3600)
    for _ in range(3):  # refilled to the burst, never past it
        buckets.take("a")
    assert buckets.wait("a") > 0


def test_forgetting_a_key_only_ever_lets_it_through_and_memory_stays_bounded() -> None:
    clock = ShiftableClock(0.0)
    buckets = Buckets(Rate(per_second=0.001, burst=1), max_keys=2, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert len(buckets) == 2
    assert buckets.wait("a") == 0  # forgotten: full again
    assert buckets.wait("c") > 0
    off = Buckets(Rate(per_second=0, burst=1), clock=clock)
    off.take("x")
    off.take("x")
    assert off.wait("x") == 0
    assert len(off) == 0


def _limits(clock: ShiftableClock, **env: str) -> RateLimits:
    base = {
        "STRIPE_SECRET_KEY": "sk_test_123456",
        "STRIPE_WEBHOOK_SECRETS": "whsec_x",
        "WORKER_URL": "http://127.0.0.1:1",
        "INTERNAL_API_KEY": "k" * 40,
        "FRONTEND_ORIGINS": "http://localhost:5173",
    }
    return RateLimits.from_settings(load_settings({**base, **env}), clock=clock)


def test_a_stripe_action_takes_from_all_three_buckets_or_from_none() -> None:
    clock = ShiftableClock(0.0)
    limits = _limits(
        clock,
        RATE_LIMIT_USER_PER_MINUTE="60",
        RATE_LIMIT_USER_BURST="2",
        RATE_LIMIT_ORGANIZATION_PER_MINUTE="60",
        RATE_LIMIT_ORGANIZATION_BURST="3",
        STRIPE_USER_BUDGET_PER_SECOND="1",
        STRIPE_USER_BUDGET_BURST="4",
    )
    limits.spend_stripe(user_id="u1", organization_id="o1")
    limits.spend_stripe(user_id="u1", organization_id="o1")
    with pytest.raises(RateLimited) as info:
        limits.spend_stripe(user_id="u1", organization_id="o1")
    assert (info.value.status, info.value.code, info.value.headers) == (
        429,
        "rate_limited",
        {"Retry-After": "1"},
    )
    assert "user" in info.value.message
    limits.spend_stripe(user_id="u2", organization_id="o1")  # the refusal took nothing
    with pytest.raises(RateLimited) as info:
        limits.spend_stripe(user_id="u3", organization_id="o1")
    assert "organization" in info.value.message
    limits.spend_stripe(user_id="u4", organization_id="o2")  # the platform's 4th token
    with pytest.raises(RateLimited) as info:
        limits.spend_stripe(user_id="u5", organization_id="o3")
    assert info.value.code == "platform_busy"
    clock.advance(1.0)
    limits.spend_stripe(user_id="u5", organization_id="o3")


def test_an_ipv6_client_counts_by_its_64() -> None:
    def of(host: str) -> str:
        return client_address(Request({"type": "http", "client": (host, 1), "headers": []}))

    assert of("2001:db8:1:2:aaaa::1") == of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert of("2001:db8:1:3::1") != of("2001:db8:1:2::1")
    assert of("203.0.113.5") == "203.0.113.5"


@pytest.fixture
def tight(make_backend: Callable[..., BackendStack]) -> Callable[..., BackendStack]:
    def make(**env: str) -> BackendStack:
        return make_backend(env={"PLATFORM_API_KEY": PLATFORM_KEY, **env})

    return make


async def _accounts(stack: BackendStack) -> int:
    async with stack.stripe.client() as sdk:
        return len((await sdk.v1.accounts.list_async()).data)


def _limited(r: httpx.Response, code: str = "rate_limited") -> bool:
    return (
        r.status_code == 429
        and r.json()["error"]["code"] == code
        and int(r.headers["retry-after"]) >= 1
    )


async def test_one_user_then_one_organization_is_held_to_its_share(
    tight: Callable[..., BackendStack],
) -> None:
    stack = tight(
        RATE_LIMIT_USER_PER_MINUTE=SLOW,
        RATE_LIMIT_USER_BURST="2",
        RATE_LIMIT_ORGANIZATION_PER_MINUTE=SLOW,
        RATE_LIMIT_ORGANIZATION_BURST="3",
    )
    onboard = {"organization_id": stack.org_id}
    async with httpx.AsyncClient(base_url=stack.url) as http:
        for _ in range(2):
            r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("owner"))
            assert r.status_code == 200, r.text
        r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("owner"))
        assert _limited(r), r.text
        assert "user" in r.json()["error"]["message"]
        status = f"/api/connect/status/{stack.org_id}"
        r = await http.get(status, params={"refresh": "true"}, headers=stack.auth("owner"))
        assert _limited(r), r.text
        for _ in range(20):  # reading D1 spends no Stripe request: never limited
            assert (await http.get(status, headers=stack.auth("owner"))).status_code == 200
        r = await http.get(status, params={"refresh": "true"}, headers=stack.auth("member"))
        assert r.status_code == 200, r.text  # the organization's 3rd
        r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("admin"))
        assert _limited(r), r.text
        assert "organization" in r.json()["error"]["message"]
        other = {"organization_id": stack.other_org_id}
        r = await http.post("/api/connect/onboard", json=other, headers=stack.auth("outsider"))
        assert r.status_code == 200, r.text
    assert await _accounts(stack) == 2  # one per organization; no refusal reached Stripe


async def test_user_traffic_never_holds_webhooks_or_the_platforms_own_calls(
    tight: Callable[..., BackendStack],
) -> None:
    """The platform-wide user budget is spent; Stripe's deliveries are still processed and the
    platform's checkout still creates payments."""
    stack = tight(STRIPE_USER_BUDGET_PER_SECOND="0.0001", STRIPE_USER_BUDGET_BURST="1")
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.post(
            "/api/connect/onboard",
            json={"organization_id": stack.org_id},
            headers=stack.auth("owner"),
        )
        assert r.status_code == 200, r.text
        account_id = r.json()["account_id"]
        r = await http.post(
            "/api/connect/onboard",
            json={"organization_id": stack.other_org_id},
            headers=stack.auth("outsider"),
        )
        assert _limited(r, "platform_busy"), r.text
        await stack.stripe.aio.complete_onboarding(account_id)

        async def active() -> bool:
            r = await http.get(f"/api/connect/status/{stack.org_id}", headers=stack.auth())
            return bool(r.json()["stripe_connect_status"] == "active")

        await eventually(active, what="account.updated processed while users are held")
        r = await http.post(
            "/api/platform/payment-intents",
            json={"organization_id": stack.org_id, "amount": 2_500, "currency": "usd"},
            headers={"X-Platform-Key": PLATFORM_KEY, "Idempotency-Key": "sale-1"},
        )
        assert r.status_code == 201, r.text
        charge = await stack.stripe.paid(stack.org_id, 5_000)
        claim = {"organization_id": stack.org_id, "source_transaction": charge}
        r = await http.post(
            "/api/connect/transfer",
            json=claim,
            headers={**stack.auth("owner"), "Idempotency-Key": "claim-1"},
        )
        assert _limited(r, "platform_busy"), r.text  # a member's claim waits its turn
        r = await http.post(
            "/api/connect/transfer",
            json=claim,
            headers={"X-Platform-Key": PLATFORM_KEY, "Idempotency-Key": "claim-2"},
        )
        assert r.status_code == 201, r.text  # the platform's own transfer does not


async def test_unauthenticated_routes_are_limited_per_address_but_valid_deliveries_never(
    tight: Callable[..., BackendStack], caplog: pytest.LogCaptureFixture
) -> None:
    stack = tight(RATE_LIMIT_ADDRESS_PER_MINUTE=SLOW, RATE_LIMIT_ADDRESS_BURST="3")
    caplog.set_level(logging.INFO, logger="backend.webhooks")
    event = {
        "id": "evt_limits_1",
        "object": "event",
        "type": "balance.available",
        "created": int(time.time()),
        "data": {"object": {"object": "balance"}},
    }
    body = json.dumps(event).encode()
    forged = {"Stripe-Signature": sign(body, "whsec_forged"), "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/readyz")).status_code == 200
        for _ in range(2):
            r = await http.post("/api/connect/webhook", content=body, headers=forged)
            assert r.status_code == 400
        r = await http.post("/api/connect/webhook", content=body, headers=forged)
        assert _limited(r), r.text
        assert _limited(await http.get("/readyz"))
        refusals = [m for m in caplog.messages if "signature rejected" in m]
        assert len(refusals) == 2  # past the budget: no log line per forged delivery
        for _ in range(10):
            assert (await http.get("/healthz")).status_code == 200  # liveness is never limited
        genuine = {
            "Stripe-Signature": sign(body, stack.stripe.webhook_secret),
            "Content-Type": "application/json",
        }
        r = await http.post("/api/connect/webhook", content=body, headers=genuine)
        assert r.status_code == 200, r.text
        assert r.json()["received"] is True


async def test_onboarding_needs_a_verified_email_unless_configured_otherwise(
    make_backend: Callable[..., BackendStack],
) -> None:
    stack = make_backend()
    stack.worker.execute(
        'UPDATE "user" SET "emailVerified" = 0 WHERE "id" = ?', stack.worker.owner.user_id
    )
    onboard = {"organization_id": stack.org_id}
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("owner"))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "email_not_verified")
        assert await _accounts(stack) == 0
        r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("admin"))
        assert r.status_code == 200, r.text  # a verified admin of the same organization
    relaxed = make_backend(env={"ONBOARDING_REQUIRES_VERIFIED_EMAIL": "false"}, webhooks=False)
    async with httpx.AsyncClient(base_url=relaxed.url) as http:
        r = await http.post("/api/connect/onboard", json=onboard, headers=stack.auth("owner"))
        assert r.status_code == 200, r.text


async def test_openapi_documents_429_with_retry_after_on_every_limited_route(
    backend_stack: BackendStack,
) -> None:
    async with httpx.AsyncClient(base_url=backend_stack.url) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    limited = {
        ("post", "/api/connect/onboard"),
        ("get", "/api/connect/status"),
        ("get", "/api/connect/status/{org_id}"),
        ("post", "/api/connect/transfer"),
        ("get", "/api/connect/balance/{org_id}"),
        ("post", "/api/connect/payout"),
        ("post", "/api/connect/payout-schedule"),
        ("post", "/api/connect/login-link"),
        ("get", "/readyz"),
        ("post", "/api/connect/webhook"),
    }
    for method, path in limited:
        answer = paths[path][method]["responses"]["429"]
        assert "Retry-After" in answer["headers"], path
    assert "429" not in paths["/healthz"]["get"]["responses"]
    for path, operations in paths.items():  # every route refuses a query it does not declare
        for method, operation in operations.items():
            assert "400" in operation["responses"], (method, path)


def test_a_refusal_is_counted_by_the_limit_that_refused_it() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from backend.core import telemetry
    from tests.fixtures.telemetry import in_memory

    tel, reader = in_memory(TracerProvider())
    telemetry.install(tel)
    try:
        limits = _limits(
            ShiftableClock(0.0), RATE_LIMIT_USER_BURST="1", RATE_LIMIT_USER_PER_MINUTE=SLOW
        )
        limits.spend_stripe(user_id="u1", organization_id="o1")
        for _ in range(2):
            with pytest.raises(RateLimited):
                limits.spend_stripe(user_id="u1", organization_id="o1")
        data = reader.get_metrics_data()
    finally:
        telemetry.install(telemetry.OFF)
        tel.shutdown()
    assert data is not None
    points = [
        (dict(point.attributes or {}), getattr(point, "value", None))
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == telemetry.RATE_LIMIT_REFUSALS
        for point in metric.data.data_points
    ]
    assert points == [({"connect.limit": "user", "error.code": "rate_limited"}, 2)]
