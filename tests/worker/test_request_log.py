"""The Worker's line per request: the caller's trace id, the route's pattern (never the path's
ids), status, error code, D1 time and the event id from `baggage` — one JSON object."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from connect_worker.app import handle
from connect_worker.http import Request
from connect_worker.request_log import JsonFormatter, parse_traceparent

from tests.worker.conftest import API_KEY, Core

TRACE = "0af7651916cd43dd8448eb211c80319c"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    logger = logging.getLogger("connect_worker")
    request_log = logging.getLogger("connect_worker.request")
    before = logger.level, request_log.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    request_log.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(before[0])
    request_log.setLevel(before[1])


async def _call(core: Core, method: str, path: str, headers: dict[str, str]) -> dict[str, object]:
    response = await handle(Request(method, path, headers, b""), deps=core.deps)
    body: dict[str, object] = json.loads(response.body())
    return body


async def test_a_call_logs_one_line_under_the_callers_trace_id(
    real_core: Core, captured: Captured, ba_fixture: dict[str, object]
) -> None:
    org = str(ba_fixture["org_id"])
    await _call(
        real_core,
        "GET",
        f"/api/internal/organization/{org}",
        {
            "x-api-key": API_KEY,
            "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
            "baggage": "other=1, stripe.event_id=evt_1Logged",
        },
    )
    (line,) = [x for x in captured.lines if x["logger"] == "connect_worker.request"]
    assert line["trace_id"] == line["request_id"] == TRACE
    assert line["parent_span_id"] == "00f067aa0ba902b7"
    assert (line["method"], line["route"], line["status"]) == (
        "GET",
        "/api/internal/organization/{id}",
        200,
    )
    assert org not in json.dumps(line)
    assert line["event_id"] == "evt_1Logged"
    assert int(str(line["d1_calls"])) >= 1
    assert float(str(line["d1_ms"])) >= 0
    assert "code" not in line


async def test_a_refusal_names_its_code_and_a_call_without_trace_context_gets_an_id(
    fresh_core: Core, captured: Captured
) -> None:
    body = await _call(fresh_core, "GET", "/api/internal/health", {"x-api-key": "w" * 40})
    error = body["error"]
    assert isinstance(error, dict)
    request_id = error["request_id"]
    assert isinstance(request_id, str)
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = [x for x in captured.lines if x.get("request_id") == request_id]
    # The key-rejected warning and the request line: both under the same id.
    assert {str(x["logger"]) for x in lines} == {"connect_worker", "connect_worker.request"}
    request = next(x for x in lines if x["logger"] == "connect_worker.request")
    assert (request["status"], request["code"], request["route"]) == (
        401,
        "unauthorized",
        "unmatched",
    )
    assert "w" * 40 not in json.dumps(captured.lines)


def test_the_worker_reads_traceparent_as_the_backend_writes_it() -> None:
    assert parse_traceparent(f"00-{TRACE}-00f067aa0ba902b7-01") == (TRACE, "00f067aa0ba902b7")
    assert parse_traceparent(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None
    assert parse_traceparent("garbage") is None


async def test_a_misconfigured_worker_names_the_request_too(captured: Captured) -> None:
    from connect_worker.app import answer_misconfigured

    response = await answer_misconfigured(
        Request("GET", "/api/internal/health", {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    )
    assert response.status == 500
    assert json.loads(response.body()) == {
        "error": {
            "code": "misconfigured",
            "message": "The Worker is misconfigured.",
            "request_id": TRACE,
        }
    }
    (line,) = [x for x in captured.lines if x["logger"] == "connect_worker.request"]
    assert (line["trace_id"], line["status"], line["code"]) == (TRACE, 500, "misconfigured")
