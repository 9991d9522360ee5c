"""A webhook delivery whose signature fails is anyone's bytes: nothing of it is parsed, the header
is judged before the body is read, and the log line says only what a bounded scan of the first
4 KB finds (backend/edge/unverified_peek.py)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from backend.edge.unverified_peek import PEEK_WINDOW, peek_event
from tests.backend.raw_socket import exchange, request
from tests.fixtures.backend import BackendStack

WEBHOOK = "/api/connect/webhook"


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "backend.webhooks" and "signature rejected" in r.getMessage()
    ]


def test_peek_finds_the_top_level_id_and_type_only() -> None:
    body = b'{"id": "evt_1", "object": "event", "type": "payout.paid", "data": {}}'
    assert peek_event(body) == {"id": "evt_1", "type": "payout.paid"}
    nested = b'{"data": {"object": {"type": "payout.paid", "id": "evt_inner"}}}'
    assert peek_event(nested) == {}
    in_a_list = b'{"items": [{"type": "payout.paid"}], "x": ["type", "id"]}'
    assert peek_event(in_a_list) == {}


def test_peek_is_not_fooled_by_quotes_keys_in_values_or_odd_values() -> None:
    tricky = rb'{"note": "\"type\": \"payout.paid\" \\", "type": "account.updated"}'
    assert peek_event(tricky) == {"type": "account.updated"}
    assert peek_event(b'{"a": "type", "b": "x"}') == {}  # "type" as a value is no key
    assert peek_event(b'{"type": 5, "id": "evt_ok"}') == {"id": "evt_ok"}
    hostile = b'{"type": "Payout Paid\\u0000", "id": "evt_<script>"}'
    assert peek_event(hostile) == {}  # not Stripe-shaped: left out, never echoed
    assert peek_event(b'["type", "x"]') == {}
    assert peek_event(b'{"type": "unterminated') == {}
    assert peek_event(b"") == {}


def test_peek_reads_nothing_past_its_window() -> None:
    head = b'{"id": "evt_w", "pad": "' + b"x" * PEEK_WINDOW + b'", '
    assert peek_event(head + b'"type": "payout.paid"}') == {"id": "evt_w"}


async def test_a_refused_body_is_not_parsed_for_its_log_line(
    backend_stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    """~500 KB of harmless nesting with the event's type at the very end: today's parse found it
    (and spent ~150 ms of CPU per such request finding it); the scan stops at 4 KB."""
    bulk = b",".join([b'[[{"k": [1, 2, {"type": "x"}]}]]'] * 15_000)
    body = (
        b'{"id": "evt_big", "data": {"object": {"blob": [' + bulk + b']}}, "type": "payout.paid"}'
    )
    assert 400_000 < len(body) < 512 * 1024
    caplog.set_level(logging.INFO)
    signature = f"t={int(time.time())},v1={'0' * 64}"
    answer = exchange(
        backend_stack.url,
        request(
            "POST",
            WEBHOOK,
            f"Stripe-Signature: {signature}",
            f"Content-Length: {len(body)}",
            body=body,
        ),
    )
    assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_signature")
    (line,) = _refusal_lines(caplog)
    assert "reason=no_matching_signature" in line
    assert "id=evt_big" in line
    assert "type=-" in line
    assert "payout.paid" not in line


async def test_a_deeply_nested_type_is_not_taken_for_the_events(
    backend_stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    inner = b'{"type": "account.updated", "id": "evt_inner"}'
    body = b'{"data": ' + b'{"x": ' * 40 + inner + b"}" * 40 + b"}"
    caplog.set_level(logging.INFO)
    answer = exchange(
        backend_stack.url,
        request(
            "POST",
            WEBHOOK,
            f"Stripe-Signature: t={int(time.time())},v1=00",
            f"Content-Length: {len(body)}",
            body=body,
        ),
    )
    assert answer.status == 400
    (line,) = _refusal_lines(caplog)
    assert "id=- type=-" in line


@pytest.mark.parametrize(
    "signature",
    [None, "t=1,v1=00", "v1=00", "t=x,v1=00", f"t={int(time.time())}"],
    ids=["missing", "stale", "no timestamp", "bad timestamp", "no v1"],
)
async def test_a_bad_header_is_refused_before_the_body_is_read(
    backend_stack: BackendStack, caplog: pytest.LogCaptureFixture, signature: str | None
) -> None:
    """The headers promise 200 KB that never come: the answer must not wait for them (today it
    waited for the body deadline, holding the connection)."""
    caplog.set_level(logging.INFO)
    headers = ["Content-Length: 200000", "Content-Type: application/json"]
    if signature is not None:
        headers.append(f"Stripe-Signature: {signature}")
    answer = exchange(backend_stack.url, request("POST", WEBHOOK, *headers), timeout=5)
    assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_signature")
    assert answer.seconds < 2
    (line,) = _refusal_lines(caplog)
    assert "id=- type=-" in line


async def test_a_non_ascii_signature_is_a_400_not_a_500(backend_stack: BackendStack) -> None:
    body = json.dumps({"id": "evt_x", "type": "payout.paid"}).encode()
    header = f"Stripe-Signature: t={int(time.time())},v1=\u00e9\u00e9"
    answer = exchange(
        backend_stack.url,
        request("POST", WEBHOOK, header, f"Content-Length: {len(body)}", body=body),
    )
    assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_signature")


def _cpu_for(stack: BackendStack, body: bytes, times: int) -> float:
    """CPU seconds this process (the in-thread backend; the client only writes bytes) spent
    answering `times` refused deliveries of `body`."""
    started = time.process_time()
    for _ in range(times):
        answer = exchange(
            stack.url,
            request(
                "POST",
                WEBHOOK,
                f"Stripe-Signature: t={int(time.time())},v1={'0' * 64}",
                f"Content-Length: {len(body)}",
                "Connection: close",
                body=body,
            ),
        )
        assert answer.status == 400
    return time.process_time() - started


def test_a_deeply_nested_unsigned_body_costs_what_a_flat_one_does(
    backend_stack: BackendStack,
) -> None:
    """Before: ~150 ms of CPU for 500 KB of nesting within the depth bound (a Python scan of
    every byte, then a parse, to log a type) against ~3.5 ms for a flat body. Now both are one
    HMAC per secret and a 4 KB scan."""
    unit = b"[" * 30 + b"1" + b"]" * 30
    nested = b'{"type": "x", "data": [' + b",".join([unit] * 8000) + b"]}"
    flat = b'{"type": "' + b"a" * len(nested) + b'"}'
    _cpu_for(backend_stack, flat, 1)  # warm up the connection paths
    flat_cpu = _cpu_for(backend_stack, flat, 5)
    nested_cpu = _cpu_for(backend_stack, nested, 5)
    assert nested_cpu < 3 * flat_cpu + 0.05, (nested_cpu, flat_cpu)
