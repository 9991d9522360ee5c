"""A Worker call's span and duration with telemetry on, against the real Worker host (and a port
nothing listens on): the span is started without being made current, so its outcome, error and
parent are checked here where the whole story's test cannot reach them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from backend.core import telemetry
from backend.worker_side.worker_client import WorkerClient
from devstack.ports import free_port
from tests.fixtures.telemetry import InMemoryReader, in_memory
from tests.fixtures.worker import WorkerStack

HEALTH = "worker GET /api/internal/health"


class Observed:
    def __init__(self, sampler: Any = None) -> None:
        self.spans = InMemorySpanExporter()
        provider = TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
        provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tel, self.reader = in_memory(provider)

    def durations(self) -> list[dict[str, Any]]:
        return [
            {**dict(point.attributes or {}), "count": point.count}
            for point in _histogram_points(self.reader, telemetry.WORKER_DURATION)
        ]


def _histogram_points(reader: InMemoryReader, name: str) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]


@pytest.fixture
def observed() -> Iterator[Observed]:
    found = Observed()
    telemetry.install(found.tel)
    yield found
    telemetry.install(telemetry.OFF)
    found.tel.shutdown()


@pytest.fixture
async def client(worker_stack: WorkerStack) -> AsyncIterator[WorkerClient]:
    worker = WorkerClient(worker_stack.url, worker_stack.api_key, timeout_seconds=3)
    yield worker
    await worker.close()


async def test_a_worker_call_is_a_child_span_with_its_status(
    observed: Observed, client: WorkerClient
) -> None:
    with observed.tel.tracer.start_as_current_span("GET /api/connect/status/{org_id}") as route:
        assert await client.health()
    (span,) = [s for s in observed.spans.get_finished_spans() if s.name == HEALTH]
    assert span.parent is not None
    assert span.parent.span_id == route.get_span_context().span_id
    assert span.kind is trace.SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "connect.worker.route": "/api/internal/health",
        "http.response.status_code": 200,
    }
    assert span.status.is_ok
    assert observed.durations() == [
        {"connect.worker.route": "/api/internal/health", "connect.outcome": "200", "count": 1}
    ]


async def test_an_unreachable_worker_makes_an_error_span_and_an_unavailable_duration(
    observed: Observed,
) -> None:
    nowhere = WorkerClient(f"http://127.0.0.1:{free_port()}", "key", timeout_seconds=0.5)
    try:
        assert not await nowhere.health()  # WorkerUnavailable, after its retries
    finally:
        await nowhere.close()
    (span,) = [s for s in observed.spans.get_finished_spans() if s.name == HEALTH]
    assert (span.attributes or {})["connect.outcome"] == "unavailable"
    assert "http.response.status_code" not in (span.attributes or {})
    assert span.status.status_code is trace.StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert observed.durations() == [
        {
            "connect.worker.route": "/api/internal/health",
            "connect.outcome": "unavailable",
            "count": 1,
        }
    ]


async def test_under_a_trace_not_sampled_the_call_makes_no_span_but_is_measured(
    client: WorkerClient,
) -> None:
    """The caller's trace is not sampled; the sampler here (always on, not parent-based) would
    record a child anyway: no span is made for the call, as none of its parent's would be kept."""
    found = Observed(sampler=ALWAYS_ON)
    telemetry.install(found.tel)
    unsampled = trace.NonRecordingSpan(
        trace.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True)
    )
    try:
        with trace.use_span(unsampled):
            assert await client.health()
        durations = found.durations()
    finally:
        telemetry.install(telemetry.OFF)
        found.tel.shutdown()
    assert found.spans.get_finished_spans() == ()
    assert durations == [
        {"connect.worker.route": "/api/internal/health", "connect.outcome": "200", "count": 1}
    ]
