"""The duration histograms aggregated outside the SDK export what the SDK's own histogram would,
through the SDK's readers (the in-memory one here; the OTLP/HTTP one in test_observability)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricsData,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from backend.core import telemetry, telemetry_durations
from backend.core.telemetry import DURATION_BUCKETS, SERVER_DURATION, WORKER_DURATION, new_durations
from tests.fixtures.telemetry import InMemoryReader, in_memory

STATUS: dict[str, str | int] = {
    "http.route": "/api/connect/status/{org_id}",
    "http.response.status_code": 200,
}
REFUSED: dict[str, str | int] = {
    "http.route": "/api/connect/status/{org_id}",
    "http.response.status_code": 403,
}
# Inside, on and between the bucket boundaries, and past the last one.
SECONDS = (0.0, 0.0002, 0.005, 0.0051, 0.3, 0.75, 9.9, 10.0, 42.0)


def _points(data: MetricsData | None, name: str) -> list[HistogramDataPoint]:
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


def _shape(point: HistogramDataPoint) -> tuple[Any, ...]:
    return (
        dict(point.attributes or {}),
        point.count,
        pytest.approx(point.sum),
        tuple(point.bucket_counts),
        tuple(point.explicit_bounds),
        point.min,
        point.max,
    )


def _by_attributes(shape: tuple[Any, ...]) -> list[tuple[str, Any]]:
    return sorted(shape[0].items())


def _in_memory(
    temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE,
) -> tuple[telemetry.Telemetry, InMemoryReader]:
    resource = Resource.create()
    durations = new_durations(resource)
    reader = InMemoryReader(durations, {HistogramInstrument: temporality})
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    return telemetry.Telemetry(TracerProvider(), provider, durations), reader


def test_the_durations_export_what_the_sdks_own_histogram_would() -> None:
    sdk_reader = InMemoryMetricReader()
    sdk = (
        MeterProvider(metric_readers=[sdk_reader])
        .get_meter("backend")
        .create_histogram(
            SERVER_DURATION, unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
        )
    )
    tel, reader = in_memory(TracerProvider())
    try:
        for seconds in SECONDS:
            for attributes in (STATUS, REFUSED):
                sdk.record(seconds, attributes)
                tel.server_duration.record(seconds, attributes)
        ours = sorted(
            map(_shape, _points(reader.get_metrics_data(), SERVER_DURATION)), key=_by_attributes
        )
        theirs = sorted(
            map(_shape, _points(sdk_reader.get_metrics_data(), SERVER_DURATION)), key=_by_attributes
        )
    finally:
        tel.shutdown()
    assert len(ours) == 2
    assert ours == theirs
    # Seconds buckets: a 0.2 ms call is in the first bucket (≤ 5 ms), 42 s past the last.
    buckets = next(shape[3] for shape in ours if shape[0] == STATUS)
    assert buckets[0] == 3
    assert buckets[-1] == 1


def test_cumulative_points_keep_counting_and_delta_points_start_over() -> None:
    cumulative, cumulative_reader = _in_memory()
    delta, delta_reader = _in_memory(AggregationTemporality.DELTA)
    try:
        for tel in (cumulative, delta):
            tel.worker_duration.record(
                0.01, {"connect.worker.route": "/r", "connect.outcome": "200"}
            )
        first_cumulative = _points(cumulative_reader.get_metrics_data(), WORKER_DURATION)
        first_delta = _points(delta_reader.get_metrics_data(), WORKER_DURATION)
        for tel in (cumulative, delta):
            tel.worker_duration.record(
                0.02, {"connect.worker.route": "/r", "connect.outcome": "200"}
            )
        second_cumulative = _points(cumulative_reader.get_metrics_data(), WORKER_DURATION)
        second_delta = _points(delta_reader.get_metrics_data(), WORKER_DURATION)
        third_delta = _points(delta_reader.get_metrics_data(), WORKER_DURATION)
    finally:
        cumulative.shutdown()
        delta.shutdown()
    assert [p.count for p in first_cumulative + second_cumulative] == [1, 2]
    assert second_cumulative[0].start_time_unix_nano == first_cumulative[0].start_time_unix_nano
    assert [p.count for p in first_delta + second_delta] == [1, 1]
    assert second_delta[0].sum == pytest.approx(0.02)
    # The second interval starts where the first collection ended; an empty one has no point.
    assert second_delta[0].start_time_unix_nano == first_delta[0].time_unix_nano
    assert third_delta == []


def test_the_durations_are_collected_when_no_sdk_instrument_has_anything() -> None:
    """The SDK hands a reader nothing when its own instruments are empty; the requests-in-flight
    gauge always has a point, so a status-only day still exports its durations."""
    tel, reader = in_memory(TracerProvider())
    try:
        tel.server_duration.record(0.001, STATUS)
        data = reader.get_metrics_data()
    finally:
        tel.shutdown()
    assert [p.count for p in _points(data, SERVER_DURATION)] == [1]


def test_attribute_sets_past_the_limit_are_counted_as_overflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telemetry_durations, "CARDINALITY_LIMIT", 2)
    tel, reader = in_memory(TracerProvider())
    try:
        for code in (200, 403, 404, 500):
            tel.server_duration.record(
                0.001, {"http.route": "/r", "http.response.status_code": code}
            )
        points = _points(reader.get_metrics_data(), SERVER_DURATION)
    finally:
        tel.shutdown()
    counts = {tuple(sorted((p.attributes or {}).items())): p.count for p in points}
    assert counts == {
        (("http.response.status_code", 200), ("http.route", "/r")): 1,
        (("http.response.status_code", 403), ("http.route", "/r")): 1,
        (("otel.metric.overflow", True),): 2,
    }


def test_a_negative_or_infinite_duration_is_dropped_as_the_sdk_drops_it() -> None:
    tel, reader = in_memory(TracerProvider())
    try:
        for seconds in (-1.0, float("inf"), float("nan"), 0.5):
            tel.stripe_duration.record(seconds, {"connect.stripe.operation": "x"})
        points = _points(reader.get_metrics_data(), telemetry.STRIPE_DURATION)
    finally:
        tel.shutdown()
    assert [(p.count, p.sum) for p in points] == [(1, 0.5)]
