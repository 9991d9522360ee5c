"""One request id end to end, and the story's spans and metrics through the real OpenTelemetry SDK.

The backend runs under uvicorn with a `Telemetry` over the SDK's in-memory exporter and reader (and
once over real OTLP/HTTP to `devstack.otlp_receiver`); the Worker host and the Stripe fake are the
real servers. Log lines are captured with the formatters the processes use (`LOG_FORMAT=json`).
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from connect_worker.request_log import JsonFormatter as WorkerJsonFormatter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from backend.app import create_app
from backend.core.log_format import JsonFormatter, configure_logging
from backend.core.settings import load_settings
from backend.core.telemetry import Telemetry
from backend.edge.http_guard import protocol_for
from backend.stripe_side.webhook_verification import sign_header
from devstack.otlp_receiver import start_receiver
from devstack.serving import serve_in_thread
from tests.backend.conftest import eventually, onboard, status_of
from tests.fixtures.backend import BackendStack, backend_env, serve_app_in_thread
from tests.fixtures.stripe import StripeFake
from tests.fixtures.telemetry import in_memory
from tests.fixtures.worker import WorkerStack

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Lines(logging.Handler):
    """Every log line of both processes' loggers, formatted as `LOG_FORMAT=json` writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.backend = JsonFormatter()
        self.worker = WorkerJsonFormatter()
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self.worker if record.name.startswith("connect_worker") else self.backend
        self.text.append(formatter.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    request_log = logging.getLogger("connect_worker.request")
    before = root.level, request_log.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    request_log.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(before[0])
    request_log.setLevel(before[1])


class Observed:
    def __init__(self, stack: BackendStack, spans: InMemorySpanExporter, reader: Any) -> None:
        self.stack, self.exporter, self.reader = stack, spans, reader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    async def span(self, name: str) -> ReadableSpan:
        """The finished span named `name`: a route's span ends just after its reply is sent, so
        the client may read the reply first."""

        async def ended() -> bool:
            return any(s.name == name for s in self.spans())

        await eventually(ended, within=3, what=f"the span {name!r}")
        return next(s for s in self.spans() if s.name == name)

    def points(self) -> list[tuple[str, dict[str, Any], float]]:
        """(metric name, attributes, count or value) of every data point collected so far."""
        found = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "count", None)
                        if value is None:
                            value = point.value
                        found.append((metric.name, dict(point.attributes), float(value)))
        return found


@pytest.fixture
def observed(worker_stack: WorkerStack, stripe_fake: StripeFake) -> Iterator[Observed]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry, reader = in_memory(tracer_provider)
    yield from _serve(worker_stack, stripe_fake, telemetry, lambda s: Observed(s, exporter, reader))


def _serve(
    worker: WorkerStack,
    stripe: StripeFake,
    telemetry: Telemetry,
    wrap: Callable[[BackendStack], Any],
) -> Iterator[Any]:
    env = backend_env(worker, stripe)
    settings = load_settings(env)
    running = serve_app_in_thread(create_app(settings, telemetry=telemetry), settings)
    stack = BackendStack(
        url=running.url,
        webhook_url=f"{running.url}/api/connect/webhook",
        settings=settings,
        env=env,
        worker=worker,
        stripe=stripe,
        org_id=worker.acme_org_id,
        other_org_id=worker.globex_org_id,
        tokens={"owner": worker.owner.token, "member": worker.member.token},
        _running=running,
    )
    stripe.configure_webhooks(
        stack.webhook_url, stripe.webhook_secret, stripe.connect_webhook_secret
    )
    try:
        yield wrap(stack)
    finally:
        running.stop()


async def _story(stack: BackendStack) -> None:
    """Onboard, a signed account.updated makes the account active, a payment is transferred."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        account_id = await onboard(client, stack)
        await stack.stripe.aio.complete_onboarding(account_id)

        async def active() -> bool:
            return bool((await status_of(client, stack))["stripe_connect_status"] == "active")

        await eventually(active, what="the signed account.updated")
        charge = await stack.stripe.paid(stack.org_id, 20_000)
        sent = await client.post(
            "/api/connect/transfer",
            json={"organization_id": stack.org_id, "source_transaction": charge},
            headers=stack.auth("owner", Idempotency_Key="observed-1"),
        )
        assert sent.status_code == 201, sent.text


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


async def test_a_story_is_traced_route_to_worker_to_stripe_with_its_metrics(
    observed: Observed,
) -> None:
    await _story(observed.stack)
    spans = observed.spans()
    onboard_span = next(s for s in spans if s.name == "POST /api/connect/onboard")
    assert onboard_span.attributes is not None
    assert onboard_span.attributes["http.response.status_code"] == 200

    def under(root: ReadableSpan) -> list[ReadableSpan]:
        return [
            s
            for s in spans
            if s.context.trace_id == root.context.trace_id and s is not root and s.parent
        ]

    children = under(onboard_span)
    worker_calls = [s for s in children if s.name.startswith("worker ")]
    stripe_calls = [s for s in children if s.name.startswith("stripe ")]
    assert {s.name for s in stripe_calls} >= {"stripe create account", "stripe create account link"}
    assert any(s.name == "worker POST /api/internal/create-connect-account" for s in worker_calls)
    for span in worker_calls + stripe_calls:
        assert span.parent is not None
        assert span.parent.span_id == onboard_span.context.span_id
    # The Stripe SDK's HTTP attempts are events on our span (ObservedHttpClient), no spans.
    create = next(s for s in stripe_calls if s.name == "stripe create account")
    assert [(e.name, dict(e.attributes or {})) for e in create.events] == [
        ("stripe attempt", {"http.request.method": "POST", "http.response.status_code": 200})
    ]
    assert not [s for s in spans if s.parent and s.parent.span_id == create.context.span_id]
    # A webhook's processing is a span of its own, with the event named.
    event_spans = [s for s in spans if s.name == "webhook event"]
    assert any(
        (s.attributes or {}).get("stripe.event.type") == "account.updated" for s in event_spans
    )
    # Every parent is exported too (a parent in another process — the caller's `traceparent` —
    # is remote, not ours). A webhook's server span ends just after its reply: wait for it.

    async def whole() -> bool:
        known = {span.context.span_id for span in observed.spans()}
        return all(
            s.parent is None or s.parent.is_remote or s.parent.span_id in known
            for s in observed.spans()
        )

    await eventually(whole, within=3, what="every span's parent")

    points = observed.points()

    def seen(name: str, **attributes: Any) -> bool:
        return any(
            n == name and all(a.get(k) == v for k, v in attributes.items()) and value > 0
            for n, a, value in points
        )

    assert seen("http.server.request.duration", **{"http.route": "/api/connect/onboard"})
    assert seen(
        "http.server.request.duration",
        **{"http.route": "/api/connect/status/{org_id}", "http.response.status_code": 200},
    )
    assert seen(
        "connect.worker.call.duration",
        **{"connect.worker.route": "/api/internal/verify-user-context", "connect.outcome": "200"},
    )
    # A filled path is measured under its template: a new key's lookup finds no ledger row.
    assert seen(
        "connect.worker.call.duration",
        **{"connect.worker.route": "/api/internal/transfers/{}/{}", "connect.outcome": "404"},
    )
    assert seen(
        "connect.stripe.call.duration",
        **{"connect.stripe.operation": "create transfer", "connect.outcome": "ok"},
    )
    assert seen(
        "connect.webhook.events",
        **{"stripe.event.type": "account.updated", "connect.outcome": "processed"},
    )
    assert seen("connect.money.operations", **{"connect.kind": "transfer"})
    # Route templates only: no metric attribute holds an organization's id.
    org = observed.stack.org_id
    assert not [p for p in points if any(org in str(v) for v in p[1].values())]


async def test_a_stripe_429_is_visible_on_the_operations_span_its_attempt_and_the_durations(
    observed: Observed,
) -> None:
    stack = observed.stack
    await stack.stripe.aio.set_faults("rate_limit", count=1, path="/v1/accounts")
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        refused = await client.post(
            "/api/connect/onboard",
            json={"organization_id": stack.org_id},
            headers=stack.auth("owner"),
        )
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "stripe_rate_limited")
    spans = observed.spans()
    operation = next(s for s in spans if s.name == "stripe create account")
    assert (operation.attributes or {})["connect.outcome"] == "stripe_rate_limited"
    assert operation.status.status_code is StatusCode.ERROR
    attempts = [dict(e.attributes or {}) for e in operation.events if e.name == "stripe attempt"]
    assert [a.get("http.response.status_code") for a in attempts] == [429]
    route = await observed.span("POST /api/connect/onboard")
    assert (route.attributes or {})["http.response.status_code"] == 503
    assert route.status.status_code is StatusCode.ERROR
    assert operation.parent is not None
    assert operation.parent.span_id == route.context.span_id
    durations = [
        (attributes, value)
        for name, attributes, value in observed.points()
        if name == "connect.stripe.call.duration"
    ]
    assert durations == [
        (
            {
                "connect.stripe.operation": "create account",
                "connect.outcome": "stripe_rate_limited",
            },
            1.0,
        )
    ]
    # Each attempt is measured by its status: a 429 the SDK retried would show here too.
    assert (
        "http.client.request.duration",
        {"http.request.method": "POST", "http.response.status_code": 429},
        1.0,
    ) in observed.points()


async def test_a_stripe_attempt_without_an_answer_is_measured_by_its_error_type(
    observed: Observed,
) -> None:
    stack = observed.stack
    await stack.stripe.aio.set_faults("down", count=1, path="/v1/accounts")
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        refused = await client.post(
            "/api/connect/onboard",
            json={"organization_id": stack.org_id},
            headers=stack.auth("owner"),
        )
    assert refused.json()["error"]["code"] == "stripe_unavailable"
    operation = next(s for s in observed.spans() if s.name == "stripe create account")
    attempt = {"http.request.method": "POST", "error.type": "APIConnectionError"}
    assert [dict(e.attributes or {}) for e in operation.events if e.name == "stripe attempt"] == [
        attempt
    ]
    assert ("http.client.request.duration", attempt, 1.0) in observed.points()


async def test_the_callers_traceparent_is_continued_and_names_the_error_body(
    observed: Observed,
) -> None:
    stack = observed.stack
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        refused = await client.get(
            f"/api/connect/status/{stack.other_org_id}",
            headers=stack.auth("member", traceparent=TRACEPARENT),
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["request_id"] == TRACE_ID
    server = await observed.span("GET /api/connect/status/{org_id}")
    assert _hex(server.context.trace_id, 32) == TRACE_ID
    assert server.parent is not None
    assert _hex(server.parent.span_id, 16) == PARENT_ID


async def test_a_webhooks_backend_and_worker_lines_share_its_request_id_and_event_id(
    backend_stack: BackendStack, lines: Lines
) -> None:
    """A validly signed event the backend must reject: its warning line, and the Worker's line
    for each call made for it (claim, then complete as rejected), carry the id the caller's
    `traceparent` started and the Stripe event's id."""
    event = {
        "id": "evt_1ObservedRejected",
        "object": "event",
        "type": "payout.paid",
        "created": int(time.time()),
        "account": "acct_1Observed",
        "data": {"object": {"id": "po_1", "object": "payout", "amount": 1.5}},
    }
    raw = json.dumps(event).encode()
    header = sign_header(raw, secret=backend_stack.stripe.connect_webhook_secret)
    async with httpx.AsyncClient(base_url=backend_stack.url, timeout=20) as client:
        r = await client.post(
            "/api/connect/webhook",
            content=raw,
            headers={
                "Stripe-Signature": header,
                "Content-Type": "application/json",
                "traceparent": TRACEPARENT,
            },
        )
    assert r.status_code == 200, r.text
    found = [line for line in lines.parsed() if line.get("request_id") == TRACE_ID]
    backend = [line for line in found if line["logger"].startswith("backend")]
    worker = [line for line in found if line["logger"] == "connect_worker.request"]
    assert any("rejected" in line["message"] for line in backend), found
    assert all(line["event_id"] == event["id"] for line in backend)
    assert {line["route"] for line in worker} >= {
        "/api/internal/webhook-events/claim",
        "/api/internal/webhook-events/complete",
    }
    for line in worker:
        assert line["event_id"] == event["id"]
        assert line["status"] == 200
        assert line["d1_calls"] >= 1
        assert line["d1_ms"] >= 0


async def test_a_worker_refusal_names_the_request_in_both_processes(
    backend_stack: BackendStack, lines: Lines
) -> None:
    async with httpx.AsyncClient(base_url=backend_stack.url, timeout=20) as client:
        r = await client.get(
            f"/api/connect/status/{backend_stack.org_id}",
            headers={"Authorization": "Bearer not-a-session", "traceparent": TRACEPARENT},
        )
    assert r.status_code == 401
    assert r.json()["error"]["request_id"] == TRACE_ID
    worker = [
        line
        for line in lines.parsed()
        if line["logger"] == "connect_worker.request" and line.get("trace_id") == TRACE_ID
    ]
    assert [(w["route"], w["status"], w["code"]) for w in worker] == [
        ("/api/internal/verify-user-context", 401, "invalid_token")
    ]


SECRET_SHAPES = re.compile(r"(?:sk|rk)_(?:test|live)_|whsec_|Bearer\s|_secret_")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The backend's own logging set up as `python -m backend` does with `LOG_FORMAT=json
    LOG_LEVEL=debug`, into a buffer; undone afterwards."""
    saved = {
        name: (logger.level, logger.propagate, list(logger.handlers))
        for name in ("", "stripe", "uvicorn", "uvicorn.error", "uvicorn.access")
        for logger in [logging.getLogger(name)]
    }
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    yield buffer
    for name, (level, propagate, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers[:] = handlers


async def test_a_whole_storys_logs_hold_no_secret(
    worker_stack: WorkerStack, stripe_fake: StripeFake, json_logs: io.StringIO
) -> None:
    """Every line written during a story at DEBUG — both processes' loggers, the Stripe SDK's
    and uvicorn's access lines included — holds no session token, API key, Stripe key, webhook
    secret or PaymentIntent client secret, and each access line names its request."""
    request_log = logging.getLogger("connect_worker.request")
    level_before = request_log.level
    request_log.setLevel(logging.INFO)
    env = backend_env(worker_stack, stripe_fake, ACCESS_LOG="true", LOG_LEVEL="debug")
    settings = load_settings(env)
    # As `python -m backend` runs it: access lines on, uvicorn's loggers left to ours.
    running = serve_in_thread(
        create_app(settings),
        loop="asyncio",
        http=protocol_for(settings),
        access_log=settings.access_log,
        log_config=None,
        log_level=settings.log_level,
    )
    stack = BackendStack(
        url=running.url,
        webhook_url=f"{running.url}/api/connect/webhook",
        settings=settings,
        env=env,
        worker=worker_stack,
        stripe=stripe_fake,
        org_id=worker_stack.acme_org_id,
        other_org_id=worker_stack.globex_org_id,
        tokens={"owner": worker_stack.owner.token, "member": worker_stack.member.token},
        _running=running,
    )
    stripe_fake.configure_webhooks(
        stack.webhook_url, stripe_fake.webhook_secret, stripe_fake.connect_webhook_secret
    )
    try:
        await _story(stack)
        async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
            # A token in a query string (refused) must not reach an access line either.
            await client.get(f"/api/connect/status/{stack.org_id}?token={stack.tokens['owner']}")
    finally:
        running.stop()
        request_log.setLevel(level_before)
    # The test's own HTTP client (httpx) logs the URLs it was asked for: not our processes'.
    parsed = [
        line
        for line in map(json.loads, json_logs.getvalue().splitlines())
        if not line["logger"].startswith(("httpx", "httpcore"))
    ]
    text = "\n".join(json.dumps(line) for line in parsed)
    # (The Stripe fake is served by uvicorn in this process too: its lines are on `/v1/`.)
    access = [
        line
        for line in parsed
        if line["logger"] == "uvicorn.access" and line["path"].startswith("/api/")
    ]
    assert len(access) > 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) for line in access)
    assert not [line for line in access if "?" in line["message"] or "token" in line["path"]]
    assert any(line["logger"] == "connect_worker.request" for line in parsed)
    secrets = [
        worker_stack.owner.token,
        worker_stack.member.token,
        worker_stack.api_key,
        stripe_fake.api_key,
        stripe_fake.webhook_secret,
        stripe_fake.connect_webhook_secret,
    ]
    for secret in secrets:
        assert secret not in text
    assert SECRET_SHAPES.search(text) is None, SECRET_SHAPES.search(text)


async def test_the_story_reaches_an_otlp_http_receiver(
    worker_stack: WorkerStack, stripe_fake: StripeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured only by the standard variables, the real OTLP/HTTP exporters deliver the story's
    spans and metrics (protobuf over HTTP) to a receiver, decoded with opentelemetry-proto."""
    receiver = start_receiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "connect-backend-test")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")  # (the default records 1 in 100)
    telemetry = Telemetry.from_env()
    assert isinstance(telemetry, Telemetry)
    try:
        for stack in _serve(worker_stack, stripe_fake, telemetry, lambda s: s):
            await _story(stack)
        # The lifespan's end shut the providers down: everything buffered was exported.
        got = receiver.receiver
        names = {span.name for span in got.spans}
        assert {"POST /api/connect/onboard", "stripe create transfer"} <= names
        assert {span.service for span in got.spans} == {"connect-backend-test"}
        onboard_span = next(s for s in got.spans if s.name == "POST /api/connect/onboard")
        assert any(
            s.parent_span_id == onboard_span.span_id and s.name.startswith("worker ")
            for s in got.spans
        )
        metrics = {point.name for point in got.points}
        assert {
            "http.server.request.duration",
            "connect.worker.call.duration",
            "connect.stripe.call.duration",
            "http.client.request.duration",
            "connect.webhook.events",
            "connect.money.operations",
        } <= metrics
    finally:
        receiver.stop()


def test_telemetry_is_off_unless_an_otlp_endpoint_is_set() -> None:
    from backend.core.telemetry import configured

    assert not configured({})
    assert not configured({"OTEL_SERVICE_NAME": "x"})
    assert configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"})
    assert not configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    )


def test_without_a_sampler_set_one_trace_in_a_hundred_is_recorded() -> None:
    from backend.core.telemetry import default_sampler

    assert "TraceIdRatioBased{0.01}" in default_sampler({}).get_description()
    assert default_sampler({"OTEL_TRACES_SAMPLER": "always_on"}) is None  # the SDK reads it
