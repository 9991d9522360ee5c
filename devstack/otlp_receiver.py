"""A small OTLP/HTTP receiver for the local stack: it takes what the backend's OpenTelemetry
exporters send (`POST /v1/traces`, `/v1/metrics`, protobuf, gzip or not), decodes it with the
`opentelemetry-proto` messages and prints one line per span and per metric point.

    python -m devstack.otlp_receiver      (OTLP_RECEIVER_PORT, default 4318; make dev OTEL=1)

Not a collector: nothing is stored beyond this process, it is for seeing the telemetry locally
(and for the tests, which read `spans` / `points` of a receiver started in-process).
"""

from __future__ import annotations

import gzip
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OtlpReceiver", "Point", "ReceivedSpan", "main", "start_receiver"]

MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    duration_ms: float
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Point:
    """One data point of a metric: a sum's value or a histogram's count (and sum)."""

    service: str
    name: str
    attributes: dict[str, Any]
    value: float
    sum: float | None = None


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def _service(resource: Any) -> str:
    return str(_attributes(resource.attributes).get("service.name", "?"))


@dataclass
class OtlpReceiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    say: Callable[[str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def traces(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = _service(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received = ReceivedSpan(
                        service=service,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        duration_ms=(span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
                        attributes=_attributes(span.attributes),
                    )
                    with self.lock:
                        self.spans.append(received)
                    self._say(
                        f"span   {received.trace_id} {received.span_id} "
                        f"parent={received.parent_span_id or '-'} {service} {received.name!r} "
                        f"{received.duration_ms:.2f}ms {received.attributes}"
                    )

    def metrics(self, request: ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            service = _service(resource_metrics.resource)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in self._points(service, metric):
                        with self.lock:
                            self.points.append(point)
                        shown = f"count={point.value:g}" if point.sum is not None else point.value
                        self._say(f"metric {service} {point.name} {point.attributes} {shown}")

    @staticmethod
    def _points(service: str, metric: Any) -> list[Point]:
        kind = metric.WhichOneof("data")
        if kind == "histogram":
            return [
                Point(service, metric.name, _attributes(p.attributes), float(p.count), p.sum)
                for p in metric.histogram.data_points
            ]
        if kind in ("sum", "gauge"):
            return [
                Point(
                    service,
                    metric.name,
                    _attributes(p.attributes),
                    float(p.as_int if p.WhichOneof("value") == "as_int" else p.as_double),
                )
                for p in getattr(metric, kind).data_points
            ]
        return []

    def _say(self, line: str) -> None:
        if self.say is not None:
            self.say(line)


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    # path -> (request message type, the serialized answer, what takes the decoded request)
    routes: dict[str, tuple[Callable[[], Any], bytes, Callable[[Any], None]]] = {
        "/v1/traces": (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse().SerializeToString(),
            receiver.traces,
        ),
        "/v1/metrics": (
            ExportMetricsServiceRequest,
            ExportMetricsServiceResponse().SerializeToString(),
            receiver.metrics,
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            length = int(self.headers.get("content-length") or 0)
            if route is None or not 0 <= length <= MAX_BODY:
                self._reply(404 if route is None else 413, b"")
                return
            body = self.rfile.read(length)
            if self.headers.get("content-encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            message_type, answer, take = route
            message = message_type()
            try:
                message.ParseFromString(body)
            except Exception:
                self._reply(400, b"")
                return
            take(message)
            self._reply(200, answer)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per span/metric is the output; no access lines

    return Handler


@dataclass
class RunningReceiver:
    url: str
    receiver: OtlpReceiver
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_receiver(
    host: str = "127.0.0.1", port: int = 0, *, say: Callable[[str], None] | None = None
) -> RunningReceiver:
    """A receiver serving on a background thread (port 0: a free one)."""
    receiver = OtlpReceiver(say=say)
    server = ThreadingHTTPServer((host, port), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    return RunningReceiver(
        url=f"http://{host}:{server.server_address[1]}",
        receiver=receiver,
        server=server,
        thread=thread,
    )


def main() -> int:
    host = os.environ.get("OTLP_RECEIVER_HOST", "127.0.0.1")
    port = int(os.environ.get("OTLP_RECEIVER_PORT", "4318"))
    receiver = OtlpReceiver(say=lambda line: print(line, flush=True))
    try:
        server = ThreadingHTTPServer((host, port), _handler(receiver))
    except OSError as exc:
        print(f"otlp receiver: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    print(f"OTLP/HTTP receiver on http://{host}:{port} (/v1/traces, /v1/metrics)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
