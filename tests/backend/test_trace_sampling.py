"""The sampler is asked before a request's span is made (`backend/core/trace_ids.py` says why): the
configured share of traces is still recorded, each under the request id the client saw, a caller's
`traceparent` still decides, and a request in a trace not recorded makes no span at all — not even
a root span for its Worker call, which no current span would otherwise stop.

Real parts: uvicorn, the Worker host, the SDK's samplers and in-memory exporter.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from backend.core.trace_ids import ChosenTraceIds
from tests.backend.test_observability import PARENT_ID, TRACE_ID, Observed, _hex, _serve
from tests.fixtures.stripe import StripeFake
from tests.fixtures.telemetry import in_memory
from tests.fixtures.worker import WorkerStack

STATUS_SPAN = "GET /api/connect/status/{org_id}"


def _observed(worker: WorkerStack, stripe: StripeFake, sampler: Sampler) -> Iterator[Observed]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, id_generator=ChosenTraceIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry, reader = in_memory(provider)
    yield from _serve(worker, stripe, telemetry, lambda s: Observed(s, exporter, reader))


@pytest.fixture
def half(worker_stack: WorkerStack, stripe_fake: StripeFake) -> Iterator[Observed]:
    yield from _observed(worker_stack, stripe_fake, ParentBased(TraceIdRatioBased(0.5)))


@pytest.fixture
def every(worker_stack: WorkerStack, stripe_fake: StripeFake) -> Iterator[Observed]:
    yield from _observed(worker_stack, stripe_fake, ParentBased(ALWAYS_ON))


@pytest.fixture
def none_of_its_own(worker_stack: WorkerStack, stripe_fake: StripeFake) -> Iterator[Observed]:
    yield from _observed(worker_stack, stripe_fake, ParentBased(TraceIdRatioBased(0.0)))


def test_a_chosen_trace_id_goes_to_the_next_span_only() -> None:
    ids = ChosenTraceIds()
    ids.choose(0x1234)
    assert ids.generate_trace_id() == 0x1234
    following = {ids.generate_trace_id() for _ in range(3)}
    assert 0x1234 not in following
    assert len(following) == 3
    assert 0 not in following


async def test_a_ratio_sampler_records_its_share_each_under_the_request_id_the_client_saw(
    half: Observed,
) -> None:
    # Deciding twice, on two trace ids, would record a quarter (mean 75 of 300, sd 7.5); once,
    # half (mean 150, sd 8.7). The bounds are 4.6 sd either side of a half.
    async with httpx.AsyncClient(base_url=half.stack.url, timeout=20) as client:
        replies = [await client.get("/api/no-such-route") for _ in range(300)]
    assert {r.status_code for r in replies} == {404}
    request_ids = {r.json()["error"]["request_id"] for r in replies}
    assert len(request_ids) == 300
    recorded = {_hex(s.context.trace_id, 32) for s in half.spans() if s.name.startswith("GET")}
    assert 110 <= len(recorded) <= 190
    assert recorded <= request_ids


async def test_a_callers_unsampled_trace_makes_no_span_yet_names_the_request(
    every: Observed,
) -> None:
    stack = every.stack
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        refused = await client.get(
            f"/api/connect/status/{stack.other_org_id}",  # one Worker call, which refuses
            headers=stack.auth("member", traceparent=f"00-{TRACE_ID}-{PARENT_ID}-00"),
        )
        answered = await client.get("/healthz")  # a later request still gets its span
    assert refused.status_code == 403
    assert answered.status_code == 200
    assert refused.json()["error"]["request_id"] == TRACE_ID
    await every.span("GET /healthz")
    assert [s for s in every.spans() if _hex(s.context.trace_id, 32) == TRACE_ID] == []
    assert [s.name for s in every.spans()] == ["GET /healthz"]


async def test_a_callers_sampled_trace_is_recorded_whatever_the_ratio(
    none_of_its_own: Observed,
) -> None:
    stack = none_of_its_own.stack
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        refused = await client.get(
            f"/api/connect/status/{stack.other_org_id}",
            headers=stack.auth("member", traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01"),
        )
        await client.get("/healthz")  # a root trace at ratio 0: never recorded
    assert refused.status_code == 403
    server = await none_of_its_own.span(STATUS_SPAN)
    worker = next(s for s in none_of_its_own.spans() if s.name.startswith("worker "))
    assert _hex(server.context.trace_id, 32) == TRACE_ID
    assert worker.parent is not None
    assert worker.parent.span_id == server.context.span_id
    assert {s.name for s in none_of_its_own.spans()} == {STATUS_SPAN, worker.name}
