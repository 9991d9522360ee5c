"""The four duration histograms (server, Worker call, Stripe call, Stripe attempt), aggregated
here and handed to the SDK's metric reader at each collection, not by the SDK's `Histogram.record`.

Why: the SDK's `record` costs ~9 µs measured alone and ~16 µs in a request's path
(`python -m bench.otel_floor`): cleaning and hashing the attributes, a `Measurement`, the exemplar
filter, two locks. The status route records two: a tenth of its CPU, the whole budget issue 26
gives telemetry. Here a measurement is a `frozenset` of its attributes, a bisect and four updates
under one lock (~1.5 µs).

What the SDK's explicit-bucket histogram exports is exported the same: name, unit, buckets, count,
sum, min and max per attribute set; cumulative, or delta when the exporter prefers it
(`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`); at the reader's interval and at its final
collection on shutdown; at most 2000 attribute sets, then `otel.metric.overflow` (as the SDK).
What it does not keep: exemplars (a sampled trace's id on a bucket) on these three.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

CARDINALITY_LIMIT = 2000  # the SDK's default per metric
_OVERFLOW: frozenset[tuple[str, Any]] = frozenset({("otel.metric.overflow", True)})

Key = frozenset[tuple[str, Any]]


class _Point:
    __slots__ = ("counts", "max", "min", "start", "sum")

    def __init__(self, buckets: int, start: int) -> None:
        self.counts = [0] * buckets
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.start = start


class DurationHistogram:
    """One histogram instrument: `record(seconds, attributes)` as the SDK's."""

    def __init__(self, name: str, unit: str, boundaries: Sequence[float]) -> None:
        self.name, self.unit = name, unit
        self._bounds = tuple(boundaries)
        self._lock = threading.Lock()
        self._points: dict[Key, _Point] = {}
        self._since = time.time_ns()  # start of the current delta interval

    def record(self, amount: float, attributes: Mapping[str, Any]) -> None:
        if not 0.0 <= amount < math.inf:  # the SDK drops these too (a duration never is)
            return
        key = frozenset(attributes.items())
        index = bisect_left(self._bounds, amount)
        with self._lock:
            point = self._points.get(key)
            if point is None:
                if len(self._points) >= CARDINALITY_LIMIT:
                    key = _OVERFLOW
                point = self._points.get(key) or self._points.setdefault(
                    key, _Point(len(self._bounds) + 1, self._since)
                )
            point.counts[index] += 1
            point.sum += amount
            if amount < point.min:
                point.min = amount
            if amount > point.max:
                point.max = amount

    def collect(self, temporality: AggregationTemporality, now: int) -> Metric | None:
        """The points since the start (cumulative) or since the last collection (delta)."""
        with self._lock:
            if temporality is AggregationTemporality.DELTA:
                taken = self._points
                self._points, self._since = {}, now
                points = [(key, p.start, p.counts, p.sum, p.min, p.max) for key, p in taken.items()]
            else:
                points = [
                    (key, p.start, list(p.counts), p.sum, p.min, p.max)
                    for key, p in self._points.items()
                ]
        if not points:
            return None
        data = [
            HistogramDataPoint(
                attributes=dict(key),
                start_time_unix_nano=start,
                time_unix_nano=now,
                count=sum(counts),
                sum=total,
                bucket_counts=tuple(counts),
                explicit_bounds=self._bounds,
                min=low,
                max=high,
            )
            for key, start, counts, total, low, high in points
        ]
        return Metric(self.name, "", self.unit, Histogram(data, temporality))


class Durations:
    """The histograms, and how a collection's `MetricsData` gets their points."""

    def __init__(
        self, scope: str, resource: Resource, histograms: Sequence[DurationHistogram]
    ) -> None:
        self._scope = InstrumentationScope(scope)
        self._resource = resource
        self.histograms = tuple(histograms)

    def merged(self, data: MetricsData, temporality: AggregationTemporality) -> MetricsData:
        """The SDK's collection with these histograms' points in its resource, under this scope.
        (The SDK hands a reader nothing when its instruments have nothing: the observable
        `connect.server.active_requests` always has a point, so every collection comes here.)"""
        now = time.time_ns()
        ours = [m for h in self.histograms if (m := h.collect(temporality, now)) is not None]
        if not ours:
            return data
        if not data.resource_metrics:
            scope = ScopeMetrics(self._scope, ours, "")
            return MetricsData([ResourceMetrics(self._resource, [scope], "")])
        first, *rest = data.resource_metrics
        scopes = list(first.scope_metrics)
        for index, scope in enumerate(scopes):
            if scope.scope.name == self._scope.name:
                scopes[index] = ScopeMetrics(scope.scope, [*scope.metrics, *ours], scope.schema_url)
                break
        else:
            scopes.append(ScopeMetrics(self._scope, ours, ""))
        return MetricsData([ResourceMetrics(first.resource, scopes, first.schema_url), *rest])


def histogram_temporality(
    preferred: Mapping[type, AggregationTemporality] | None,
) -> AggregationTemporality:
    return (preferred or {}).get(HistogramInstrument, AggregationTemporality.CUMULATIVE)


class PeriodicReader(PeriodicExportingMetricReader):
    """The SDK's periodic exporting reader, each collection with the durations in it."""

    def __init__(self, exporter: MetricExporter, durations: Durations, **options: Any) -> None:
        super().__init__(exporter, **options)
        self._durations = durations
        # The histograms' temporality: what the SDK's reader takes from its exporter, as it does.
        self._temporality = histogram_temporality(exporter._preferred_temporality)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        merged = self._durations.merged(metrics_data, self._temporality)
        super()._receive_metrics(merged, timeout_millis=timeout_millis, **kwargs)
