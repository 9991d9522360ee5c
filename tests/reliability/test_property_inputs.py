"""Property-based hostile input (hypothesis): every backend request model, every Worker route's
JSON parsing, and the webhook's event parsing. Whatever arrives, the answer is a 2xx or a 4xx
with the JSON error shape — never a 5xx, never a stack trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from connect_worker.app import ROUTES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.core.models import (
    LoginLinkRequest,
    OnboardRequest,
    PayoutRequest,
    PlatformFeeRequest,
    TransferRequest,
)
from backend.routes import ENDPOINTS
from bench.soak_events import sign
from tests.fixtures.backend import BackendStack
from tests.fixtures.worker import WorkerStack

EXAMPLES = 150
GET_PATHS = [e.path for e in ENDPOINTS if e.method == "GET" and e.path != "/readyz"]
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
OPERATOR_KEY = "operator-key-for-reliability-tests-0123456789"

# Strings an attacker reaches for: SQL, paths, unicode tricks, control characters, sheer length.
NASTY = st.sampled_from(
    [
        "' OR '1'='1",
        "1; DROP TABLE organization; --",
        '"); DELETE FROM "member"; --',
        "../../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "acct_/../../v1/balance",
        "\u202eevil\u202c",
        "a\u200bb",
        "ÅçmÉ 🦄 组织",
        "\x00",
        "line\r\nX-Injected: 1",
        "%00%0d%0a",
        "${jndi:ldap://x}",
        "{{7*7}}",
        "x" * 5000,
        "",
        " ",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | NASTY
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _model_shaped(
    fields: list[str], *, known: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Dicts over a model's own field names (plausible values or junk), sometimes an extra key."""
    values = {name: known.get(name, SCALARS) | JSON for name in fields}
    shaped = st.fixed_dictionaries({}, optional=values)
    with_extra = st.tuples(shaped, st.text(min_size=1, max_size=12), JSON).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    return shaped | with_extra | JSON


def _assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "request_id"}, body
    assert "Traceback" not in response.text


@pytest.fixture
def stack(make_backend: Any) -> BackendStack:
    stack: BackendStack = make_backend(env={"OPERATOR_API_KEY": OPERATOR_KEY})
    return stack


@pytest.fixture
def http(stack: BackendStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        yield client


def _backend_strategies(stack: BackendStack) -> dict[str, st.SearchStrategy[Any]]:
    org_ids = st.sampled_from([stack.org_id, stack.other_org_id]) | NASTY | st.text(max_size=200)
    urls = (
        st.sampled_from(
            [
                "http://localhost:5173/settings",
                "https://evil.example/phish",
                "javascript:alert(1)",
                "//evil.example",
                "/settings/../../x",
                "http://localhost:5173@evil.example/",
            ]
        )
        | NASTY
    )
    return {
        "organization_id": org_ids,
        "amount": st.integers(min_value=-10, max_value=10**12)
        | st.sampled_from([0, 1, 99_999_999, 10**8]),
        "currency": st.sampled_from(["usd", "USD", "jpy", "eur", "us", "usdd", "💵$"])
        | st.text(max_size=4),
        "return_url": urls,
        "refresh_url": urls,
        "return_path": urls,
        "refresh_path": urls,
        "platform_fee_percent": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "platform_fee_fixed": st.integers(),
        "metadata": st.dictionaries(
            st.text(max_size=50), st.text(max_size=600) | JSON, max_size=25
        ),
        "description": st.text(max_size=600),
        "transfer_group": st.text(max_size=300),
    }


ROUTES_AND_MODELS = [
    ("/api/connect/onboard", OnboardRequest),
    ("/api/connect/transfer", TransferRequest),
    ("/api/connect/payout", PayoutRequest),
    ("/api/connect/login-link", LoginLinkRequest),
    ("/api/operator/platform-fee", PlatformFeeRequest),
]


@pytest.mark.parametrize(
    ("path", "model"), ROUTES_AND_MODELS, ids=[p for p, _ in ROUTES_AND_MODELS]
)
def test_every_backend_request_model_answers_any_body_with_2xx_or_json_4xx(
    path: str, model: Any, stack: BackendStack, http: httpx.Client
) -> None:
    fields = list(model.model_fields)
    strategy = _model_shaped(fields, known=_backend_strategies(stack))
    sent: list[int] = []

    @SETTINGS
    @given(
        body=strategy,
        key=st.text(max_size=300) | st.just("order-1"),
        who=st.sampled_from(["owner", "member", "outsider"]),
    )
    def check(body: Any, key: str, who: str) -> None:
        headers = stack.auth(who)
        headers["X-Operator-Key"] = OPERATOR_KEY
        # httpx itself refuses to send a value with leading/trailing whitespace (" ").
        if key.isprintable() and key.isascii() and key == key.strip():
            headers["Idempotency-Key"] = key
        _assert_clean(http.post(path, json=body, headers=headers))
        sent.append(1)

    check()
    assert len(sent) >= EXAMPLES


@SETTINGS
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_backend_routes_answer_bytes_that_are_not_json_with_400(
    raw: bytes, stack: BackendStack, http: httpx.Client
) -> None:
    headers = {**stack.auth("owner"), "Content-Type": "application/json", "Idempotency-Key": "k"}
    for path, _ in ROUTES_AND_MODELS:
        response = http.post(path, content=raw, headers={**headers, "X-Operator-Key": OPERATOR_KEY})
        _assert_clean(response)


QUERY_NAMES = st.sampled_from(["limit", "cursor", "refresh", "Limit", "limit[]", ""]) | st.text(
    max_size=20
)
QUERY_VALUES = (
    st.integers(min_value=-(10**30), max_value=10**30).map(str)
    | st.text(alphabet="0123456789", min_size=1, max_size=1100)
    | st.integers(min_value=4301, max_value=6000).map(lambda n: "9" * n)  # int()'s digit limit
    | st.text(alphabet=st.characters(categories=["Nd", "No"]), max_size=8)
    | st.sampled_from(["true", "FALSE", "1", "", "%", "%ff", "+", "\x00"])
    | NASTY
    | st.text(max_size=80)
)


@SETTINGS
@given(pairs=st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), min_size=1, max_size=4))
def test_any_query_string_on_any_get_route_is_2xx_or_json_4xx(
    pairs: list[tuple[str, str]], stack: BackendStack, http: httpx.Client
) -> None:
    """No query string makes a 5xx (backend/edge/query.py): thousands of digits, digits of other
    scripts, repeated or unknown names, broken percent-encoding."""
    query = "&".join(f"{quote(name, safe='%')}={quote(value, safe='%')}" for name, value in pairs)
    for path in GET_PATHS:
        url = httpx.URL(path.format(org_id=stack.org_id), query=query.encode())
        _assert_clean(http.get(url, headers=stack.auth("owner")))


# --- the Worker's JSON parsing, over HTTP to the host ------------------------------------------

WORKER_POST_ROUTES = sorted(path for (method, path), route in ROUTES.items() if method == "POST")
CONTRACT_NAMES = [
    "organization_id", "fields", "synced_at", "stripe_account_id", "platform_fee_percent",
    "platform_fee_fixed", "event_id", "event_type", "event_created", "lease_seconds", "claim_id",
    "outcome", "error", "older_than_days", "idempotency_key", "request_hash", "gross_amount",
    "fee_amount", "net_amount", "currency", "status", "stripe_transfer_id", "failure_message",
    "amount_reversed", "reversed", "stripe_payout_id", "amount", "failure_code", "arrival_date",
    "token",
]  # fmt: skip


def _worker_fields(path: str) -> list[str]:
    route = ROUTES[("POST", path)]
    return list(route.fields) if route.fields is not None else CONTRACT_NAMES


@pytest.mark.parametrize("path", WORKER_POST_ROUTES)
def test_every_worker_route_answers_any_json_with_2xx_or_json_4xx(
    path: str, worker_stack: WorkerStack
) -> None:
    known: dict[str, st.SearchStrategy[Any]] = {
        "organization_id": st.sampled_from([worker_stack.acme_org_id]) | NASTY,
        "token": st.sampled_from([worker_stack.owner.token]) | NASTY,
        "fields": st.dictionaries(
            st.sampled_from(
                ["stripe_connect_status", "charges_enabled", "name", "id", "onboarding_step"]
            )
            | st.text(max_size=10),
            JSON,
            max_size=3,
        ),
        "currency": st.sampled_from(["usd", "jpy", "USD"]) | NASTY,
        "event_id": st.text(max_size=20).map(lambda s: "evt_" + s) | NASTY,
        "outcome": st.sampled_from(["processed", "failed", "other"]),
    }
    strategy = _model_shaped(_worker_fields(path), known=known)

    with httpx.Client(base_url=worker_stack.url, headers=worker_stack.headers, timeout=30) as http:

        @settings(
            max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(body=strategy)
        def check(body: Any) -> None:
            _assert_clean(http.post(path, json=body))

        check()
        # And bytes that are not JSON at all.
        for raw in (
            b"",
            b"{",
            b"[]",
            b"null",
            b'{"a":1}{',
            "\ud800".encode("utf-8", "surrogatepass"),
            b"\xff\xfe",
        ):
            _assert_clean(
                http.post(path, content=raw, headers={"Content-Type": "application/json"})
            )


# --- the webhook's event parsing (correctly signed, so the parser is what is tested) -----------


@SETTINGS
@given(
    event=JSON
    | st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=30).map(lambda s: "evt_" + s) | SCALARS,
            "type": st.sampled_from(
                [
                    "account.updated",
                    "payout.paid",
                    "transfer.updated",
                    "account.application.deauthorized",
                    "capability.updated",
                    "charge.succeeded",
                ]
            )
            | SCALARS,
            "created": st.integers(min_value=-(2**63), max_value=2**63) | SCALARS,
            "account": st.text(max_size=30).map(lambda s: "acct_" + s) | SCALARS,
            "data": st.fixed_dictionaries({}, optional={"object": JSON}) | JSON,
        },
    )
)
def test_signed_webhooks_with_any_json_are_2xx_or_json_4xx(
    event: Any, stack: BackendStack, http: httpx.Client
) -> None:
    payload = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(payload, stack.stripe.connect_webhook_secret),
    }
    _assert_clean(http.post("/api/connect/webhook", content=payload, headers=headers))
