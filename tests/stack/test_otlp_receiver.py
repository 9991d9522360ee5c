"""`python -m devstack.otlp_receiver` (`make dev OTEL=1`): the SDK's own OTLP/HTTP exporters send
to it over HTTP, and it prints one line per span and per metric point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from devstack.ports import free_port


@pytest.fixture
def receiver() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.otlp_receiver"],
        env={"OTLP_RECEIVER_PORT": str(port), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "OTLP/HTTP receiver on" in process.stdout.readline()
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(10)


def test_the_receiver_prints_what_the_sdk_exports(
    receiver: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = receiver
    resource = Resource.create({"service.name": "receiver-test"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{url}/v1/traces")))
    with tracer_provider.get_tracer("t").start_as_current_span("GET /api/connect/status/{org_id}"):
        pass
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(f"{url}/v1/metrics"), export_interval_millis=600_000
    )
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meters.get_meter("t").create_counter("connect.webhook.events").add(
        2, {"connect.outcome": "processed"}
    )
    meters.shutdown()
    tracer_provider.shutdown()
    process.terminate()
    out, _ = process.communicate(timeout=10)
    spans = [line for line in out.splitlines() if line.startswith("span")]
    metrics = [line for line in out.splitlines() if line.startswith("metric")]
    assert len(spans) == 1
    assert "'GET /api/connect/status/{org_id}'" in spans[0]
    assert "receiver-test" in spans[0]
    assert metrics == [
        "metric receiver-test connect.webhook.events {'connect.outcome': 'processed'} 2.0"
    ]
