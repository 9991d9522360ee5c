"""`python -m bench.otel_floor`: what the OpenTelemetry Python SDK costs per signal, alone — the
floor under `bench.route_cost --otel` whatever the backend does around it.

Each figure is CPU µs (`time.process_time`, so the batch span processor's export thread is in it)
per operation, the least of `--rounds`, through the SDK as the backend configures it: a batch span
processor with the OTLP/HTTP exporter to a local `devstack.otlp_receiver` on the other core, and
the backend's own duration histograms. Recorded spans are flushed every 512 (the SDK's batch), so
none is dropped and every one's export is counted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.route_cost import _otlp_receiver
from bench.stack import SERVER_CPU

BATCH = 512
SERVER_ATTRIBUTES = {"http.request.method": "GET", "url.path": "/api/connect/status/org_1"}
END_ATTRIBUTES: dict[str, str | int] = {
    "http.route": "/api/connect/status/{org_id}",
    "http.response.status_code": 200,
}


def _least(run: Callable[[], None], *, count: int, rounds: int, flush: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(rounds):
        flush()
        started = time.process_time()
        for _ in range(count // BATCH):
            for _ in range(BATCH):
                run()
            flush()
        best = min(best, (time.process_time() - started) / (count // BATCH * BATCH) * 1e6)
    return best


def measure(endpoint: str, *, count: int, rounds: int) -> dict[str, float]:
    from opentelemetry import context, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from backend.core.telemetry import DURATION_BUCKETS, new_durations

    resource = Resource.create({"service.name": "otel-floor"})
    recorded = TracerProvider(resource=resource)  # the SDK's default: parentbased_always_on
    recorded.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    unsampled = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    on, off = recorded.get_tracer("backend"), unsampled.get_tracer("backend")
    meter = MeterProvider(resource=resource, metric_readers=[InMemoryMetricReader()])
    sdk_histogram = meter.get_meter("backend").create_histogram(
        "h", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
    )
    ours = new_durations(resource).histograms[0]

    def empty_span() -> None:
        on.start_span("GET").end()

    def server_span() -> None:
        span = on.start_span("GET", attributes=SERVER_ATTRIBUTES)
        span.update_name("GET /api/connect/status/{org_id}")
        span.set_attributes(END_ATTRIBUTES)
        span.end()

    def unsampled_span() -> None:
        off.start_span("GET", attributes=SERVER_ATTRIBUTES).end()

    def attach_detach() -> None:
        context.detach(context.attach(trace.set_span_in_context(trace.INVALID_SPAN)))

    def flush() -> None:
        recorded.force_flush()

    def nothing() -> None:
        pass

    figures = {
        "recorded span, no attributes, exported": (empty_span, flush),
        "recorded span as the server's (4 attributes), exported": (server_span, flush),
        "span a sampler dropped (4 attributes)": (unsampled_span, nothing),
        "SDK Histogram.record, 2 attributes": (
            lambda: sdk_histogram.record(0.0002, END_ATTRIBUTES),
            nothing,
        ),
        "backend DurationHistogram.record, 2 attributes": (
            lambda: ours.record(0.0002, END_ATTRIBUTES),
            nothing,
        ),
        "context attach + detach": (attach_detach, nothing),
    }
    try:
        return {
            name: _least(run, count=count, rounds=rounds, flush=after)
            for name, (run, after) in figures.items()
        }
    finally:
        recorded.shutdown()
        meter.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.otel_floor", description=__doc__)
    parser.add_argument("--count", type=int, default=10 * BATCH)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {SERVER_CPU})
    with tempfile.TemporaryDirectory(prefix="otel-floor-") as tmp, _otlp_receiver(Path(tmp)) as url:
        found = measure(url, count=args.count, rounds=args.rounds)
    print(f"CPU µs per operation, the least of {args.rounds} rounds of {args.count}:")
    for name, value in found.items():
        print(f"  {value:7.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
