"""The request id: W3C trace context (`traceparent`), one per request, end to end.

A request that arrives with a valid `traceparent` keeps its trace id; any other gets a new random
one. That trace id *is* the request id: it is in every log line written while the request runs
(`log_format.py`), in every error body (`errors.error_body`), and it travels to the Worker on every
call (`traceparent`, plus W3C `baggage` naming the Stripe event a webhook is handling), whose log
lines carry it too. So support can take the `request_id` a user's browser saw and find the
backend's and the Worker's lines for that one request.

The context lives in a `ContextVar`: asyncio copies it into every task the request starts, and a
webhook replayed by reconciliation (no HTTP request) opens its own (`event_context`).
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

from starlette.types import Scope

# version 00: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; an all-zero id is invalid.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
# Stripe event ids are `evt_` + alphanumerics; anything else is not sent on (baggage is a header).
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_]{1,200}$")


@dataclass(slots=True)
class RequestContext:
    """What the log lines and the Worker calls of one request (or one replayed event) share."""

    trace_id: str  # 32 lower-case hex digits: the request id
    span_id: str  # 16 hex digits: this process's span, the parent of its Worker calls
    sampled: bool = True
    # The request's ASGI scope: routing writes the route and its path parameters into it, and a
    # log line reads them from there only when it is written (nothing is copied per request).
    scope: Scope | None = None
    event_id: str | None = None  # the Stripe event a webhook request is handling
    event_type: str | None = None


CURRENT: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current() -> RequestContext | None:
    return CURRENT.get()


def request_id() -> str | None:
    ctx = CURRENT.get()
    return None if ctx is None else ctx.trace_id


def new_trace_id() -> str:
    return f"{random.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """(trace id, parent id, sampled) from a valid `traceparent`, else None (then a new trace
    starts: W3C says a receiver must not continue a trace it cannot parse)."""
    if not value or len(value) > 512:
        return None
    found = _TRACEPARENT.match(value.strip())
    if found is None:
        return None
    version, trace_id, parent_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE:
        return None
    if parent_id == _ZERO_SPAN:
        return None
    return trace_id, parent_id, bool(int(flags, 16) & 1)


def from_traceparent(value: str | None) -> RequestContext:
    """The context of a request that sent `value` (its trace continued, or a new one)."""
    parsed = parse_traceparent(value)
    if parsed is None:
        return RequestContext(trace_id=new_trace_id(), span_id=new_span_id())
    return RequestContext(trace_id=parsed[0], span_id=new_span_id(), sampled=parsed[2])


def format_traceparent(trace_id: str, span_id: str, sampled: bool) -> str:
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def baggage(ctx: RequestContext) -> str | None:
    """W3C `baggage` for a Worker call: the Stripe event id, when there is one to name."""
    if ctx.event_id is None or _EVENT_ID.match(ctx.event_id) is None:
        return None
    return f"stripe.event_id={ctx.event_id}"


@contextlib.contextmanager
def event_context(event_id: str, event_type: str) -> Iterator[RequestContext]:
    """The context while one Stripe event is processed: the request's trace (a new one for a
    replay outside any request) naming the event, so its log lines and Worker calls carry it."""
    outer = CURRENT.get()
    ctx = (
        RequestContext(trace_id=new_trace_id(), span_id=new_span_id())
        if outer is None
        else replace(outer)
    )
    ctx.event_id, ctx.event_type = event_id, event_type
    token = CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        CURRENT.reset(token)


@contextlib.contextmanager
def run_context() -> Iterator[RequestContext]:
    """The context of work no request started (a reconciliation run from the cron): one new
    trace for all of it, so its log lines and Worker calls share an id. Inside a request, the
    request's own."""
    ctx = CURRENT.get()
    if ctx is not None:
        yield ctx
        return
    ctx = RequestContext(trace_id=new_trace_id(), span_id=new_span_id())
    token = CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        CURRENT.reset(token)
