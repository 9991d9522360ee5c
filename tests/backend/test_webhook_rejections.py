"""Validly signed but unexpected events are recorded as `rejected` with the reason (in D1, through
the Worker), acknowledged with a 2xx so Stripe stops retrying, logged once without a traceback,
and never write an odd value into D1."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest

from backend.stripe_side.webhook_verification import sign_header
from tests.fixtures.backend import BackendStack

ACME_ACCOUNT = "acct_1AcmeRejections"
GLOBEX_ACCOUNT = "acct_1GlobexRejections"


def _payout(**changes: Any) -> dict[str, Any]:
    return {
        "id": "po_1Rej",
        "object": "payout",
        "amount": 5000,
        "currency": "usd",
        "status": "paid",
        "arrival_date": 1_795_800_000,
        "failure_code": None,
        "failure_message": None,
        "metadata": {},
        **changes,
    }


def _transfer(**changes: Any) -> dict[str, Any]:
    return {
        "id": "tr_1Rej",
        "object": "transfer",
        "amount": 900,
        "amount_reversed": 0,
        "currency": "usd",
        "destination": ACME_ACCOUNT,
        "reversed": False,
        "metadata": {},
        **changes,
    }


def _event(n: int, event_type: str, obj: Any, **envelope: Any) -> dict[str, Any]:
    return {
        "id": f"evt_rej_{n}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "account": ACME_ACCOUNT,
        "data": {"object": obj},
        **envelope,
    }


ABSURD: list[tuple[str, dict[str, Any]]] = [
    ("amount 1.5", _event(1, "payout.paid", _payout(amount=1.5))),
    ("amount as text", _event(2, "payout.paid", _payout(amount="5000"))),
    ("amount true", _event(3, "payout.paid", _payout(amount=True))),
    ("negative amount", _event(4, "payout.paid", _payout(amount=-1))),
    ("amount past 10^12", _event(5, "payout.paid", _payout(amount=10**15))),
    ("upper-case currency", _event(6, "payout.paid", _payout(currency="USD"))),
    ("unknown status", _event(7, "payout.updated", _payout(status="exploded"))),
    ("not a payout id", _event(8, "payout.paid", _payout(id="po_1'; DROP TABLE x;--"))),
    ("negative arrival", _event(9, "payout.paid", _payout(arrival_date=-5))),
    ("huge failure message", _event(10, "payout.failed", _payout(failure_message="x" * 5000))),
    ("metadata not text", _event(11, "payout.paid", _payout(metadata={"idempotency_key": 5}))),
    ("reversal negative", _event(12, "transfer.updated", _transfer(amount_reversed=-5))),
    ("reversed as text", _event(13, "transfer.reversed", _transfer(reversed="yes"))),
    ("not a transfer id", _event(14, "transfer.created", _transfer(id="transfer-1"))),
    ("account not Stripe's", _event(15, "account.updated", {"id": "x"}, account="acct_x/../y")),
    ("object not an object", _event(16, "account.updated", ["acct_1"])),
    ("created as text", _event(17, "payout.paid", _payout(), created="now")),
    ("id not Stripe's", _event(18, "payout.paid", _payout(), id="evt-with-dashes")),
    ("no account", _event(19, "account.application.deauthorized", {}, account=None)),
]


@pytest.fixture
def stack(backend_stack: BackendStack) -> BackendStack:
    for org, account in (
        (backend_stack.org_id, ACME_ACCOUNT),
        (backend_stack.other_org_id, GLOBEX_ACCOUNT),
    ):
        backend_stack.worker.execute(
            'UPDATE "organization" SET "stripe_connect_account_id" = ? WHERE "id" = ?', account, org
        )
    return backend_stack


async def _deliver(http: httpx.AsyncClient, stack: BackendStack, raw: bytes) -> httpx.Response:
    header = sign_header(raw, secret=stack.stripe.connect_webhook_secret)
    return await http.post(
        "/api/connect/webhook",
        content=raw,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def _backend_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("backend")]


def _money_rows(stack: BackendStack) -> list[dict[str, Any]]:
    return stack.worker.rows("SELECT * FROM connect_payout") + stack.worker.rows(
        "SELECT * FROM connect_transfer"
    )


@pytest.mark.parametrize(("what", "event"), ABSURD, ids=[what for what, _ in ABSURD])
async def test_an_absurd_signed_event_is_recorded_rejected_acknowledged_and_logged_once(
    stack: BackendStack, caplog: pytest.LogCaptureFixture, what: str, event: dict[str, Any]
) -> None:
    raw = json.dumps(event).encode()
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await _deliver(http, stack, raw)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "received": True,
            "duplicate": False,
            "handled": False,
            "rejected": True,
        }
        lines = _backend_lines(caplog)
        assert len(lines) == 1, [line.getMessage() for line in lines]
        assert lines[0].levelno == logging.WARNING
        assert lines[0].exc_info is None
        assert "rejected" in lines[0].getMessage()
        again = await _deliver(http, stack, raw)
    assert again.json() == {"received": True, "duplicate": True, "handled": False, "rejected": True}
    rows = stack.worker.rows("SELECT event_id, status, last_error FROM connect_webhook_event")
    assert len(rows) == 1
    assert rows[0]["status"] == "rejected"
    assert rows[0]["last_error"]
    assert "5000" not in rows[0]["last_error"]  # the reason names the field, never the value
    assert _money_rows(stack) == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "evt_deep", "data": {"object": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}",
        b'{"id": "evt_bigint", "type": "payout.paid", "created": 1' + b"0" * 20_000 + b"}",
        b"\xff\xfe not utf-8",
    ],
    ids=["nested 200k deep", "20k-digit number", "not UTF-8"],
)
async def test_unparseable_signed_bodies_are_rejected_without_a_traceback(
    stack: BackendStack, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await _deliver(http, stack, raw)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] is True
    lines = _backend_lines(caplog)
    assert len(lines) == 1
    assert lines[0].exc_info is None
    assert [
        row["status"] for row in stack.worker.rows("SELECT status FROM connect_webhook_event")
    ] == ["rejected"]


async def test_deeply_nested_unsigned_bodies_are_400_with_one_line(
    stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    raw = b'{"type": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.post(
            "/api/connect/webhook", content=raw, headers={"Stripe-Signature": "t=1,v1=00"}
        )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_signature")
    lines = _backend_lines(caplog)
    assert len(lines) == 1
    assert lines[0].exc_info is None


async def test_a_payout_recorded_for_another_org_is_rejected_not_retried_for_ever(
    stack: BackendStack, caplog: pytest.LogCaptureFixture
) -> None:
    """The Worker's 409 stripe_id_conflict is final: recorded as rejected, acknowledged."""
    await stack.stripe.aio.events()  # the fake is up; the event below is ours alone
    async with httpx.AsyncClient(base_url=stack.url) as http:
        first = _event(30, "payout.paid", _payout())
        assert (await _deliver(http, stack, json.dumps(first).encode())).json()["handled"] is True
        before = _money_rows(stack)
        caplog.set_level(logging.INFO)
        hostile = _event(31, "payout.failed", _payout(status="failed"), account=GLOBEX_ACCOUNT)
        r = await _deliver(http, stack, json.dumps(hostile).encode())
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] is True
    assert _money_rows(stack) == before  # acme's payout was not rewritten through globex
    row = stack.worker.row(
        "SELECT status, last_error FROM connect_webhook_event WHERE event_id = ?", "evt_rej_31"
    )
    assert row == {"status": "rejected", "last_error": "the Worker refused it: stripe_id_conflict"}
    assert len(_backend_lines(caplog)) == 1
