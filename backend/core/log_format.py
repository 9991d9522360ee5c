"""Log lines for people (`LOG_FORMAT=text`, the default) or for a log pipeline (`LOG_FORMAT=json`:
one JSON object per line), both naming the request they belong to.

JSON fields, stable (docs/operations.md queries them): `time` (UTC, ISO-8601), `level`, `logger`,
`message`, and when known `request_id` (the W3C trace id, as in error bodies and the Worker's
lines), `span_id`, `route` (the template), `organization` (the path's organization), `event_id` /
`event_type` (the Stripe event being processed), `stripe_request_id`, and for an access line
`method`, `path`, `status`. Nothing is read per request: the fields come from the request's context
when a line is written.

Never a secret: messages are written not to hold one, and as a second guard every line is scrubbed
of what looks like a Stripe key, a webhook secret, a bearer token or an API key header before it is
written; an access line drops the query string (a client may put anything there).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

from backend.core.request_context import CURRENT

LogFormat = Literal["text", "json"]

_SECRETS = re.compile(
    r"(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z]+"
    r"|whsec_[0-9A-Za-z+/=]+"
    r"|(?i:bearer)\s+[^\s\"',;]+"
    r"|(?i:x-api-key)\s*[:=]\s*[^\s\"',;]+"
)
# Fields a caller may add with `extra=` that the JSON line carries.
_EXTRA_FIELDS = ("stripe_request_id", "status", "duration_ms", "outcome")


def scrub(text: str) -> str:
    return _SECRETS.sub("[redacted]", text) if text else text


def _context_fields() -> dict[str, Any]:
    ctx = CURRENT.get()
    if ctx is None:
        return {}
    fields: dict[str, Any] = {"request_id": ctx.trace_id, "span_id": ctx.span_id}
    scope = ctx.scope
    if scope is not None:
        route = getattr(scope.get("route"), "path", None)
        if isinstance(route, str):
            fields["route"] = route
        org = (scope.get("path_params") or {}).get("org_id")
        if isinstance(org, str):
            fields["organization"] = org
    if ctx.event_id is not None:
        fields["event_id"] = ctx.event_id
        fields["event_type"] = ctx.event_type
    return fields


def _access_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """uvicorn's access line (`client, method, full path, HTTP version, status`) as fields."""
    if record.name != "uvicorn.access" or not isinstance(record.args, tuple):
        return None
    if len(record.args) != 5:
        return None
    client, method, full_path, _version, status = record.args
    path = str(full_path).split("?", 1)[0]
    return {"client": str(client), "method": str(method), "path": path, "status": status}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = _access_fields(record)
        if access is not None:
            line["message"] = f"{access['method']} {access['path']} {access['status']}"
            line.update(access)
        else:
            line["message"] = scrub(record.getMessage())
        line.update(_context_fields())
        for name in _EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """Today's text lines, with the request's id (and event) appended when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        access = _access_fields(record)
        if access is not None:
            record.msg, record.args = (
                "%s %s %s",
                (access["method"], access["path"], access["status"]),
            )
        text = scrub(super().format(record))
        ctx = CURRENT.get()
        if ctx is None:
            return text
        suffix = f" request_id={ctx.trace_id}"
        if ctx.event_id is not None:
            suffix += f" event_id={ctx.event_id}"
        stripe_request = record.__dict__.get("stripe_request_id")
        if stripe_request:
            suffix += f" stripe_request_id={stripe_request}"
        return text + suffix


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so configuring again replaces it and leaves other handlers be."""


def configure_logging(level: str, fmt: LogFormat, *, stream: IO[str] | None = None) -> None:
    """One handler on the root logger, for our loggers and uvicorn's alike (uvicorn is started
    with `log_config=None`, so its error and access loggers propagate here).

    The Stripe SDK logs whole response bodies at DEBUG (a PaymentIntent's `client_secret`
    included), so its logger stays at INFO or above whatever `LOG_LEVEL` says."""
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("stripe").setLevel(max(logging.INFO, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
