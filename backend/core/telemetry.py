"""OpenTelemetry traces and metrics, configured only by the standard `OTEL_*` variables.

Off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the `_TRACES_`/`_METRICS_`
one) and `OTEL_SDK_DISABLED` is not `true`. Off, nothing is imported from the SDK and every hook is
one type test (`isinstance(current(), Telemetry)`, 0.1 µs; two per status request), so the hot
path pays nothing measurable (docs/operations.md has the figures). On, the SDK's own exporters,
batch span processor, periodic metric reader, sampler and resource read the rest of `OTEL_*`
themselves (headers, timeouts, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`, export intervals); the four duration histograms are aggregated
by `telemetry_durations` and handed to that reader (the SDK's `record` is too dear per request).

Spans: the route (server), each Worker call (client, around its retries), each Stripe operation
(client; each HTTP attempt the Stripe SDK makes within it is an event on it and a measurement,
`stripe_telemetry.ObservedHttpClient`). The Worker client is our own pool, so its span is ours.
The metric names and attributes are the alerting contract of docs/operations.md.

One `Telemetry` is active per process (`install`): OpenTelemetry's own providers are process-wide
too, and the hooks sit in modules that have no request at hand (the Stripe gateway, the ledger).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from backend.core import request_context

if TYPE_CHECKING:  # the SDK is imported only when telemetry is on
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

    from backend.core.telemetry_durations import Durations

SERVICE_NAME = "connect-backend"
_ENDPOINTS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)

# Metric names: docs/operations.md alerts on these (with these attributes).
# (Each attribute costs ~3 µs per measurement in the SDK: a route's method is not one of them, as
# every route, ours and the Worker's, takes one method.)
SERVER_DURATION = "http.server.request.duration"  # http.route, http.response.status_code
WORKER_DURATION = "connect.worker.call.duration"  # connect.worker.route, connect.outcome
STRIPE_DURATION = "connect.stripe.call.duration"  # connect.stripe.operation, connect.outcome
# Each HTTP attempt to Stripe: http.request.method, http.response.status_code (or error.type)
STRIPE_ATTEMPT_DURATION = "http.client.request.duration"
WEBHOOK_EVENTS = "connect.webhook.events"  # stripe.event.type, connect.outcome
MONEY_OPERATIONS = "connect.money.operations"  # connect.kind (transfer | payout), connect.outcome
RECONCILIATION_ROWS = "connect.reconciliation.rows"  # connect.kind, connect.outcome
RECONCILIATION_EVENTS = "connect.reconciliation.events"  # connect.outcome
RECONCILIATION_ERRORS = "connect.reconciliation.errors"  # (a call that failed during a run)
RATE_LIMIT_REFUSALS = "connect.rate_limit.refusals"  # connect.limit, error.code
# Money the organizations owe the platform (reversals Stripe refused), in minor units: what became
# owed and what was recovered from later transfers; the difference over time is what is owed.
MONEY_OWED = "connect.money.owed"  # connect.currency
MONEY_RECOVERED = "connect.money.recovered"  # connect.currency
# Requests the backend is serving at the moment a collection reads it.
ACTIVE_REQUESTS = "connect.server.active_requests"
# The four durations' buckets, in seconds (the semantic conventions' advice for
# `http.server.request.duration`). Without them the SDK's default boundaries (0, 5, 10, 25 … 10000)
# are milliseconds' and would put every call in the first bucket: no latency percentile at all.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


# Without OTEL_TRACES_SAMPLER, 1 trace in 100 is recorded (and every trace a caller sampled):
# a recorded span costs ~50 µs of CPU with its export and ~8 µs more per attribute
# (`python -m bench.otel_floor`), a whole status route ~170 µs, and the budget for telemetry is
# 10% (docs/operations.md). Metrics count every request regardless.
DEFAULT_SAMPLE_RATIO = 0.01


def default_sampler(environ: Mapping[str, str]) -> Any:
    """None (the SDK reads OTEL_TRACES_SAMPLER / _ARG itself) when set, else parent-based 1%."""
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ParentBased(TraceIdRatioBased(DEFAULT_SAMPLE_RATIO))


def configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for telemetry: an OTLP endpoint, and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINTS)


class Telemetry:
    """A tracer and the instruments, over providers this object owns (and shuts down)."""

    enabled = True

    def __init__(
        self, tracer_provider: TracerProvider, meter_provider: MeterProvider, durations: Durations
    ) -> None:
        """`durations` (`new_durations`) are in `meter_provider`'s reader
        (`telemetry_durations.PeriodicReader`; in tests, `tests.fixtures.telemetry`)."""
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind

        from backend.core.trace_ids import ChosenTraceIds

        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self.tracer = tracer_provider.get_tracer("backend")
        # The API's functions, bound once: an import inside a per-request method costs ~1 µs.
        self._attach, self._detach = context.attach, context.detach
        self._in_context, self._current_span = trace.set_span_in_context, trace.get_current_span
        self._remote_parent = _remote_parent_factory()
        # The sampler is asked before a request's span is made only when the span can then take
        # the trace id it decided on (`trace_ids`): the provider's ids are ours.
        ids = getattr(tracer_provider, "id_generator", None)
        self._chosen_ids = ids if isinstance(ids, ChosenTraceIds) else None
        self._sampler = tracer_provider.sampler
        self.error_status = trace.Status(trace.StatusCode.ERROR)
        self._client_kind = SpanKind.CLIENT
        self._server_kind = SpanKind.SERVER
        self._internal_kind = SpanKind.INTERNAL
        meter = meter_provider.get_meter("backend")
        (
            self.server_duration,
            self.worker_duration,
            self.stripe_duration,
            self.stripe_attempt_duration,
        ) = durations.histograms
        # Requests in flight, read at each collection (the middleware counts them: an int).
        self.active_requests = 0
        meter.create_observable_up_down_counter(
            ACTIVE_REQUESTS, callbacks=[self._observe_active], unit="{request}"
        )
        self.webhook_events = meter.create_counter(WEBHOOK_EVENTS, unit="{event}")
        self.money_operations = meter.create_counter(MONEY_OPERATIONS, unit="{operation}")
        self.reconciliation_rows = meter.create_counter(RECONCILIATION_ROWS, unit="{row}")
        self.reconciliation_events = meter.create_counter(RECONCILIATION_EVENTS, unit="{event}")
        self.reconciliation_errors = meter.create_counter(RECONCILIATION_ERRORS, unit="{error}")
        self.rate_limit_refusals = meter.create_counter(RATE_LIMIT_REFUSALS, unit="{request}")
        self.money_owed = meter.create_counter(MONEY_OWED, unit="{minor_unit}")
        self.money_recovered = meter.create_counter(MONEY_RECOVERED, unit="{minor_unit}")

    @classmethod
    def from_env(cls) -> Telemetry | Off:
        """OTLP/HTTP exporters for traces and metrics, or `OFF` when `os.environ` does not ask
        for them (the SDK's parts read the rest of `OTEL_*` from there themselves)."""
        if not configured(os.environ):
            return OFF
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from backend.core.telemetry_durations import PeriodicReader

        # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; ours is the
        # default name only when neither names the service.
        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", ""
        )
        resource = Resource.create() if named else Resource.create({"service.name": SERVICE_NAME})
        from backend.core.trace_ids import ChosenTraceIds

        tracer_provider = TracerProvider(
            resource=resource,
            sampler=default_sampler(os.environ),
            # None: the SDK reads OTEL_PYTHON_ID_GENERATOR, the platform's own choice.
            id_generator=None if os.environ.get("OTEL_PYTHON_ID_GENERATOR") else ChosenTraceIds(),
        )
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        durations = new_durations(resource)
        reader = PeriodicReader(OTLPMetricExporter(), durations)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        return cls(tracer_provider, meter_provider, durations)

    def _observe_active(self, options: CallbackOptions) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        yield Observation(self.active_requests)

    def shutdown(self) -> None:
        """Flush what is buffered and stop the exporters (the lifespan's end)."""
        self._tracer_provider.shutdown()
        self._meter_provider.shutdown()

    def force_flush(self) -> None:
        self._tracer_provider.force_flush()
        self._meter_provider.force_flush()

    # --- spans ---------------------------------------------------------------------------------

    def start_server_span(
        self, name: str, parent: tuple[str, str, bool] | None, attributes: Mapping[str, Any]
    ) -> tuple[int, Span | None]:
        """The request's trace id and its span, a child of the caller's `traceparent` (trace id,
        parent id, sampled) when it sent a valid one — or no span when the sampler drops the
        trace: it is asked first (`trace_ids` says why and when)."""
        context = None if parent is None else self._remote_parent(parent)
        ids = self._chosen_ids
        if ids is not None:
            trace_id = ids.draw() if parent is None else int(parent[0], 16)
            kind = self._server_kind
            result = self._sampler.should_sample(context, trace_id, name, kind, attributes)
            if not result.decision.is_recording():  # type: ignore[no-untyped-call]
                return trace_id, None
            if parent is None:
                ids.choose(trace_id)
        span = self.tracer.start_span(
            name, context=context, kind=self._server_kind, attributes=attributes
        )
        return span.get_span_context().trace_id, span

    def start_child_span(self, name: str, attributes: Mapping[str, Any]) -> Span | None:
        """A client span under the current one, not made current (nothing nests in a Worker
        call: its client is our own pool), or None inside a trace not sampled (its children
        would not be either; the SDK's sampler would still cost a span's making)."""
        if self._in_unsampled_trace(self._current_span()):
            return None
        return self.tracer.start_span(name, kind=self._client_kind, attributes=attributes)

    @contextlib.contextmanager
    def client_span(
        self, name: str, attributes: Mapping[str, Any], *, internal: bool = False
    ) -> Iterator[Span]:
        """A client span (`internal`: a step of our own), current while the call runs (the
        Stripe SDK's HTTP spans nest in it); an exception is recorded on it and marks it an
        error, as the SDK's `start_as_current_span` does."""
        parent = self._current_span()
        if self._in_unsampled_trace(parent):
            yield parent
            return
        kind = self._internal_kind if internal else self._client_kind
        span = self.tracer.start_span(name, kind=kind, attributes=attributes)
        token = self._attach(self._in_context(span))
        try:
            yield span
        except Exception as exc:  # not BaseException: a cancellation is no error (as the SDK)
            failed(span, exc)
            raise
        finally:
            self._detach(token)
            span.end()

    def current_span(self) -> Span:
        return self._current_span()

    @staticmethod
    def _in_unsampled_trace(parent: Span) -> bool:
        """Whether spans made now belong to a trace the sampler dropped (their children would not
        be recorded either, and the SDK's sampler would still cost a span's making): a request's
        dropped trace has no current span (`RequestTrace`), so its context says it; elsewhere the
        current span does."""
        ctx = request_context.CURRENT.get()
        if ctx is not None and not ctx.sampled:
            return True
        return not parent.is_recording() and parent.get_span_context().is_valid

    def attach(self, span: Span) -> Token[Context]:
        """Make `span` current (the token is for `detach`)."""
        return self._attach(self._in_context(span))

    def detach(self, token: Token[Context]) -> None:
        self._detach(token)


class Off:
    """Telemetry not configured: every hook tests `enabled` and does nothing else."""

    enabled = False

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


OFF = Off()
_active: Telemetry | Off = OFF


def current() -> Telemetry | Off:
    return _active


def count_money(kind: str, amount: int, currency: str) -> None:
    """`kind` "owed" or "recovered": minor units that became owed to the platform, or came back."""
    tel = _active
    if amount > 0 and isinstance(tel, Telemetry):
        counter = tel.money_owed if kind == "owed" else tel.money_recovered
        counter.add(amount, {"connect.currency": currency})


def install(telemetry: Telemetry | Off) -> None:
    """Make `telemetry` the process's (the app's lifespan: on start, and `OFF` at its end)."""
    global _active
    _active = telemetry


def new_durations(resource: Resource) -> Durations:
    """The four duration histograms (`telemetry_durations`: the SDK's `record` costs too much
    for a per-request measurement), for a reader over `resource`."""
    from backend.core.telemetry_durations import DurationHistogram, Durations

    names = (SERVER_DURATION, WORKER_DURATION, STRIPE_DURATION, STRIPE_ATTEMPT_DURATION)
    return Durations(
        "backend", resource, [DurationHistogram(name, "s", DURATION_BUCKETS) for name in names]
    )


def failed(span: Span, exc: BaseException) -> None:
    """`exc` recorded on `span`, which becomes an error (what `start_as_current_span` does)."""
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def _remote_parent_factory() -> Any:
    from opentelemetry import trace

    def remote_parent(parent: tuple[str, str, bool]) -> Any:
        """A context whose span is the caller's (trace id, parent id, sampled)."""
        remote = trace.SpanContext(
            trace_id=int(parent[0], 16),
            span_id=int(parent[1], 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(1 if parent[2] else 0),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(remote))

    return remote_parent


def span_id_of(span: Span) -> str:
    """`span`'s id as the hex string `traceparent` carries."""
    return f"{span.get_span_context().span_id:016x}"


def elapsed(started: float) -> float:
    return time.perf_counter() - started
