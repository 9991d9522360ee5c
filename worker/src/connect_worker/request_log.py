"""One structured log line per request, carrying the caller's W3C trace id.

The backend sends `traceparent` on every call (and `baggage: stripe.event_id=evt_…` while it
handles a webhook); the trace id in it is the backend's request id, so the Worker's line for a call
is found by the same id as the backend's lines and the error body the user saw. A call without a
valid `traceparent` gets a new trace id. Every error body names it too (`app.error_response`).

The line (`connect_worker.request`, INFO) holds: `trace_id` (= `request_id`), `parent_span_id`,
`method`, `route` (the table's pattern, not the path: ids stay out of it), `status`, `code` (an
error's), `duration_ms`, `d1_ms` and `d1_calls` (time spent waiting on D1, which the D1 adapters
report through `add_d1_time`), and `event_id` when one was named. `JsonFormatter` writes it — and
every other line logged during the request, with the request's trace id — as one JSON object:
what Cloudflare's Workers Logs indexes field by field (docs/operations.md).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from connect_worker.http import Request

log = logging.getLogger("connect_worker.request")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_EVENT_ID = re.compile(r"(?:^|,)\s*stripe\.event_id\s*=\s*(evt_[A-Za-z0-9_]{1,200})\s*(?:;|,|$)")


@dataclass(slots=True)
class RequestLog:
    trace_id: str
    parent_span_id: str | None
    event_id: str | None
    method: str
    started: float
    route: str | None = None
    d1_seconds: float = 0.0
    d1_calls: int = 0


CURRENT: ContextVar[RequestLog | None] = ContextVar("connect_worker_request", default=None)


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid W3C `traceparent`, else None."""
    if not value or len(value) > 512:
        return None
    found = _TRACEPARENT.match(value.strip())
    if found is None:
        return None
    version, trace_id, parent_id, _flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id


def begin(request: Request) -> RequestLog:
    parsed = parse_traceparent(request.headers.get("traceparent"))
    baggage = request.headers.get("baggage")
    event = _EVENT_ID.search(baggage) if baggage else None
    return RequestLog(
        trace_id=parsed[0] if parsed else f"{random.getrandbits(128) or 1:032x}",
        parent_span_id=parsed[1] if parsed else None,
        event_id=event.group(1) if event else None,
        method=request.method,
        started=time.perf_counter(),
    )


def request_id() -> str | None:
    entry = CURRENT.get()
    return None if entry is None else entry.trace_id


def add_d1_time(seconds: float) -> None:
    """Called by the D1 adapters after each call to D1 (a statement or a batch)."""
    entry = CURRENT.get()
    if entry is not None:
        entry.d1_seconds += seconds
        entry.d1_calls += 1


def finish(entry: RequestLog, status: int, code: str | None) -> None:
    """Write the request's line (when INFO is on for `connect_worker.request`)."""
    if not log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "trace_id": entry.trace_id,
        "parent_span_id": entry.parent_span_id,
        "method": entry.method,
        "route": entry.route or "unmatched",
        "status": status,
        "code": code,
        "duration_ms": round((time.perf_counter() - entry.started) * 1000, 3),
        "d1_ms": round(entry.d1_seconds * 1000, 3),
        "d1_calls": entry.d1_calls,
        "event_id": entry.event_id,
    }
    log.info("%s %s %s", entry.method, fields["route"], status, extra={"fields": _present(fields)})


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time`, `level`, `logger`, `message`, the request's `trace_id`
    and `request_id` (the same value) when inside one, and the request line's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry = CURRENT.get()
        if entry is not None:
            line["trace_id"] = line["request_id"] = entry.trace_id
            if entry.event_id is not None:
                line["event_id"] = entry.event_id
        fields = record.__dict__.get("fields")
        if isinstance(fields, dict):
            line.update(fields)
            line["request_id"] = line.get("trace_id")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """The CPython host's lines for people, with the request's trace id appended."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(name)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record.__dict__.get("fields")
        if isinstance(fields, dict):
            extra = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("method", "route"))
            return f"{text} {extra}"
        entry = CURRENT.get()
        return text if entry is None else f"{text} trace_id={entry.trace_id}"
