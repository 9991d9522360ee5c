"""W3C trace context as the request id: which `traceparent` values are continued, and what a
Worker call and a webhook's event carry."""

from __future__ import annotations

import logging
import re

import pytest

from backend.core.request_context import (
    CURRENT,
    RequestContext,
    baggage,
    event_context,
    format_traceparent,
    from_traceparent,
    parse_traceparent,
    request_id,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"00-{TRACE}-{SPAN}-01", (TRACE, SPAN, True)),
        (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN, False)),
        # A later version may append fields: its first four are read as version 00's.
        (f"cc-{TRACE}-{SPAN}-01-what-the-future-holds", (TRACE, SPAN, True)),
        (f" 00-{TRACE}-{SPAN}-01 ", (TRACE, SPAN, True)),
    ],
)
def test_a_valid_traceparent_is_continued(value: str, expected: tuple[str, str, bool]) -> None:
    assert parse_traceparent(value) == expected
    assert from_traceparent(value).trace_id == TRACE


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{TRACE.upper()}-{SPAN}-01",  # upper case is not W3C
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{SPAN}-01",
        "00-" + "a" * 600,
        "x" * 40,
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(value: str | None) -> None:
    assert parse_traceparent(value) is None
    ctx = from_traceparent(value)
    assert re.fullmatch(r"[0-9a-f]{32}", ctx.trace_id)
    assert ctx.trace_id != TRACE
    assert re.fullmatch(r"[0-9a-f]{16}", ctx.span_id)


def test_the_outgoing_traceparent_round_trips() -> None:
    assert parse_traceparent(format_traceparent(TRACE, SPAN, True)) == (TRACE, SPAN, True)
    assert format_traceparent(TRACE, SPAN, False).endswith("-00")


def test_only_a_stripe_event_id_travels_as_baggage() -> None:
    ctx = RequestContext(TRACE, SPAN)
    assert baggage(ctx) is None
    ctx.event_id = "evt_1Abc_def"
    assert baggage(ctx) == "stripe.event_id=evt_1Abc_def"
    ctx.event_id = "evt_1, other=x"  # never a header injection
    assert baggage(ctx) is None


def test_an_event_inside_a_request_keeps_its_trace_and_a_replay_gets_its_own() -> None:
    assert request_id() is None
    with event_context("evt_replayed", "payout.paid") as replay:
        assert request_id() == replay.trace_id != TRACE
        assert replay.event_id == "evt_replayed"
    assert CURRENT.get() is None
    token = CURRENT.set(RequestContext(TRACE, SPAN))
    try:
        with event_context("evt_1", "account.updated") as inner:
            assert (inner.trace_id, inner.event_id) == (TRACE, "evt_1")
        outer = CURRENT.get()
        assert outer is not None
        assert outer.event_id is None
    finally:
        CURRENT.reset(token)


async def test_a_crash_is_answered_and_logged_under_the_request_id() -> None:
    """Starlette answers an unexpected exception outside every middleware: the 500 body and the
    `unhandled` line still name the request."""
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from backend.core.errors import EXCEPTION_HANDLERS
    from backend.core.log_format import TextFormatter
    from backend.edge.request_trace import RequestTrace

    async def crash(request: Request) -> Response:
        raise RuntimeError("boom")

    app = Starlette(
        routes=[Route("/crash", crash)],
        middleware=[Middleware(RequestTrace)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    lines: list[str] = []

    class AtEmit(logging.Handler):  # formats as a StreamHandler does: when the line is written
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(TextFormatter().format(record))

    handler = AtEmit()
    logging.getLogger("backend.errors").addHandler(handler)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/crash", headers={"traceparent": f"00-{TRACE}-{SPAN}-01"})
    finally:
        logging.getLogger("backend.errors").removeHandler(handler)
    assert r.status_code == 500
    assert r.json()["error"] == {
        "code": "internal_error",
        "message": "Internal error.",
        "request_id": TRACE,
    }
    (line,) = [x for x in lines if "unhandled RuntimeError" in x]
    assert f"request_id={TRACE}" in line


def test_a_run_no_request_started_gets_one_id_and_a_request_keeps_its_own() -> None:
    from backend.core.request_context import run_context

    with run_context() as run:
        assert request_id() == run.trace_id
        with event_context("evt_1", "payout.paid") as event:
            assert event.trace_id == run.trace_id  # the run's events share its id
    assert CURRENT.get() is None
    token = CURRENT.set(RequestContext(TRACE, SPAN))
    try:
        with run_context() as inside:
            assert inside.trace_id == TRACE
    finally:
        CURRENT.reset(token)
