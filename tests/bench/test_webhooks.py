from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import stripe

from backend.stripe_side.stripe_events import Envelope, TransferObject, parse_as, parse_envelope
from bench.webhooks import (
    account_updated_event,
    audit_events,
    percentile,
    signature_header,
    transfer_burst,
)

SECRET = "whsec_bench_test_secret"


def test_signature_is_accepted_by_the_official_stripe_sdk() -> None:
    account = {"id": "acct_123", "object": "account", "charges_enabled": True}
    payload = account_updated_event("evt_bench_1", account, created=1_795_794_424)
    now = 1_795_794_500
    header = signature_header(payload, SECRET, timestamp=now)
    assert stripe.WebhookSignature.verify_header(payload.decode(), header, SECRET, tolerance=None)
    event = json.loads(payload)
    assert event["type"] == "account.updated"
    assert event["account"] == "acct_123"
    assert event["data"]["object"]["id"] == "acct_123"


def test_signature_with_another_secret_is_refused_by_the_sdk() -> None:
    payload = account_updated_event("evt_bench_2", {"id": "acct_1"}, created=1)
    header = signature_header(payload, "whsec_other", timestamp=1)
    try:
        stripe.WebhookSignature.verify_header(payload.decode(), header, SECRET, tolerance=None)
    except stripe.SignatureVerificationError:
        return
    raise AssertionError("a signature made with another secret was accepted")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([], 0.99) == 0.0


def _d1(tmp_path: Path, rows: list[tuple[str, str, int]]) -> Path:
    path = tmp_path / "d1.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "connect_webhook_event" ("event_id" TEXT PRIMARY KEY, "status" TEXT, '
            '"attempts" INTEGER)'
        )
        conn.executemany('INSERT INTO "connect_webhook_event" VALUES (?, ?, ?)', rows)
    return path


def test_audit_of_a_clean_run(tmp_path: Path) -> None:
    ids = ["evt_b_1", "evt_b_2"]
    path = _d1(tmp_path, [("evt_b_1", "processed", 1), ("evt_b_2", "processed", 1)])
    audit = audit_events(path, ids, prefix="evt_b_")
    assert audit.clean
    assert audit.losses == 0


def test_audit_catches_losses_double_application_and_strays(tmp_path: Path) -> None:
    ids = ["evt_b_1", "evt_b_2", "evt_b_3"]
    rows = [("evt_b_1", "processed", 2), ("evt_b_2", "failed", 1), ("evt_b_9", "processed", 1)]
    audit = audit_events(_d1(tmp_path, rows), ids, prefix="evt_b_")
    assert not audit.clean
    assert audit.found == 2
    assert audit.processed == 1
    assert audit.losses == 2
    assert audit.claimed_more_than_once == 1
    assert audit.unknown_rows == 1


def test_a_transfer_burst_reverses_each_transfer_a_little_more_and_ends_fully_reversed() -> None:
    ledger = [
        {"stripe_transfer_id": f"tr_bench{n}", "destination": f"acct_B{n}", "amount": 9_000}
        for n in range(3)
    ]
    bodies = transfer_burst(ledger, events=12, prefix="evt_trb_", base=1_800_000_000)
    parsed = [parse_envelope(body) for body in bodies]
    events = [e for e in parsed if isinstance(e, Envelope)]
    assert len(events) == len({e.id for e in events}) == 12
    for n in range(3):
        mine = [e for e in events if e.data.object["id"] == f"tr_bench{n}"]
        reversals = [parse_as(TransferObject, e.data.object).amount_reversed for e in mine]
        assert reversals == sorted(reversals)
        assert reversals[-1] == 9_000
        assert [e.created for e in mine] == sorted({e.created for e in mine})
        assert [e.type for e in mine][-1] == "transfer.reversed"
        assert all(e.account is None for e in mine)  # platform events
