"""The outermost middleware: every request gets its request id (`request_context`) before anything
else runs — so even a body-size refusal or a CORS preflight's error names it — and, when telemetry
is on, its server span and its `http.server.request.duration` by route and status.

Off, the cost is one header scan, two random numbers and a `ContextVar` set per request (measured
in docs/operations.md); the span, the status capture and the clock run only when on.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core import telemetry
from backend.core.request_context import (
    CURRENT,
    RequestContext,
    new_span_id,
    new_trace_id,
    parse_traceparent,
)


def _traceparent(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"traceparent":
            return str(value.decode("latin-1"))
    return None


def route_of(scope: Scope) -> str:
    """The route template routing chose (`/api/connect/status/{org_id}`), never the raw path: a
    metric attribute must not take one value per organization."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestTrace:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = parse_traceparent(_traceparent(scope))
        tel = telemetry.current()
        if isinstance(tel, telemetry.Telemetry):
            await self._traced(tel, parent, scope, receive, send)
            return
        if parent is None:
            ctx = RequestContext(new_trace_id(), new_span_id(), scope=scope)
        else:
            ctx = RequestContext(parent[0], new_span_id(), parent[2], scope=scope)
        token = CURRENT.set(ctx)
        await self.app(scope, receive, send)
        # Reset only after a normal return: an exception goes on to Starlette's server-error
        # handler, outside every middleware but in this same task, and its log line and 500 body
        # must still name the request (the task, and the context with it, ends with the request).
        CURRENT.reset(token)

    async def _traced(
        self,
        tel: telemetry.Telemetry,
        parent: tuple[str, str, bool] | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """The request under its server span: every SDK call here is one the signals need (start,
        the route's attributes once known, end, one measurement), each costing µs of CPU."""
        method = scope["method"]
        started = time.perf_counter()
        trace_id, span = tel.start_server_span(
            method, parent, {"http.request.method": method, "url.path": scope["path"]}
        )
        # A span the sampler dropped (or was never made) is not made current: the request's
        # context says its trace is not sampled, which is all its children ask
        # (`Telemetry.start_child_span`), and the attach/detach pair costs more than it tells.
        if span is not None and not span.is_recording():
            span = None
        if span is not None:
            ids = span.get_span_context()
            ctx = RequestContext(
                f"{trace_id:032x}", f"{ids.span_id:016x}", ids.trace_flags.sampled, scope=scope
            )
        else:
            ctx = RequestContext(f"{trace_id:032x}", new_span_id(), False, scope=scope)
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = CURRENT.set(ctx)
        span_token = None if span is None else tel.attach(span)
        tel.active_requests += 1
        try:
            await self.app(scope, receive, send_status)
            CURRENT.reset(token)  # (on an exception: as above)
        except BaseException as exc:
            if span is not None:
                span.record_exception(exc)
            raise
        finally:
            tel.active_requests -= 1
            if span_token is not None:
                tel.detach(span_token)
            route = route_of(scope)
            attributes: dict[str, str | int] = {
                "http.route": route,
                "http.response.status_code": status,
            }
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attributes(attributes)
                if status >= 500:
                    span.set_status(tel.error_status)
                span.end()
            tel.server_duration.record(telemetry.elapsed(started), attributes)
