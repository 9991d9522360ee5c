"""The OpenTelemetry cost benches: route_cost's variants per sampler, and otel_floor's figures
measured through a real OTLP/HTTP receiver (the recorded spans do reach it)."""

from __future__ import annotations

import argparse

from bench.otel_floor import BATCH, measure
from bench.route_cost import _otel_variants
from devstack.otlp_receiver import start_receiver


def test_route_cost_measures_the_backends_default_and_each_sampler_asked_for() -> None:
    args = argparse.Namespace(
        otel=True, otel_samplers="parentbased_always_on,parentbased_traceidratio:0.1"
    )
    assert _otel_variants(args) == {
        "otel": {},
        "otel parentbased_always_on": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
        "otel parentbased_traceidratio:0.1": {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        },
    }
    assert _otel_variants(argparse.Namespace(otel=False, otel_samplers="always_on")) == {}


def test_the_floor_is_measured_with_every_recorded_span_exported() -> None:
    running = start_receiver()
    try:
        found = measure(running.url, count=BATCH, rounds=1)
        received = len(running.receiver.spans)
    finally:
        running.stop()
    assert all(value > 0 for value in found.values()), found
    # Two recorded kinds of span, one batch each, every one exported (none dropped).
    assert received == 2 * BATCH
    # What the floor shows: a recorded, exported span costs more than a dropped one, and the
    # backend's duration record less than the SDK's.
    assert (
        found["recorded span, no attributes, exported"]
        > found["span a sampler dropped (4 attributes)"]
    )
    assert (
        found["backend DurationHistogram.record, 2 attributes"]
        < found["SDK Histogram.record, 2 attributes"]
    )
