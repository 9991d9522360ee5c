"""Retention of every ledger table: the `ledgers/prune` route and the daily cron's function."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connect_worker.config import ConfigError, load_config
from connect_worker.retention import prune_expired

from devstack.migrate import apply_migrations
from tests.fixtures.worker import ShiftableClock
from tests.worker.conftest import Core, make_core
from tests.worker.test_organizations import make_org
from tests.worker.test_transfers_and_payouts import payout, reserve_body
from tests.worker.test_webhook_events import claim_body

DAY = 86400
NOTHING = {"webhook_events": 0, "transfers": 0, "payouts": 0}


async def _event(core: Core, event_id: str, outcome: str | None) -> None:
    _, claim = await core.post("webhook-events/claim", claim_body(event_id))
    if outcome is not None:
        done = {"event_id": event_id, "claim_id": claim["claim_id"], "outcome": outcome}
        assert (await core.post("webhook-events/complete", done))[0] == 200


async def _transfer(core: Core, org_id: str, key: str, outcome: str | None) -> None:
    status, _ = await core.post("transfers/reserve", reserve_body(org_id, idempotency_key=key))
    assert status == 201
    if outcome in ("succeeded", "reversed"):
        done = {
            "organization_id": org_id,
            "idempotency_key": key,
            "status": "succeeded",
            "stripe_transfer_id": f"tr_{key}",
        }
        assert (await core.post("transfers/complete", done))[0] == 200
    if outcome == "reversed":
        sync = {"stripe_transfer_id": f"tr_{key}", "amount_reversed": 9000, "reversed": True}
        assert (await core.post("transfers/sync", sync))[1]["transfer"]["status"] == "reversed"
    if outcome == "failed":
        done = {"organization_id": org_id, "idempotency_key": key, "status": "failed"}
        assert (await core.post("transfers/complete", done))[0] == 200


async def _payout(core: Core, org_id: str, key: str, status: str) -> None:
    """A payout reserved under `key`, then left `reserved`, refused, or given Stripe's `status`."""
    reserve = {
        "organization_id": org_id,
        "idempotency_key": key,
        "request_hash": "h" * 64,
        "amount": 5000,
        "currency": "eur",
        "stripe_account_id": "acct_A1",
    }
    assert (await core.post("payouts/reserve", reserve))[0] == 201
    if status == "refused":
        refuse = {"organization_id": org_id, "idempotency_key": key}
        assert (await core.post("payouts/refuse", refuse))[1]["payout"]["status"] == "refused"
    elif status != "reserved":
        body = payout(org_id, stripe_payout_id=f"po_{key}", idempotency_key=key, status=status)
        assert (await core.post("payouts/upsert", body))[1]["payout"]["status"] == status


async def _keys(core: Core, table: str) -> list[str]:
    rows = await core.db.prepare(
        f'SELECT "idempotency_key" FROM "{table}" ORDER BY "idempotency_key"'
    ).all()
    return [str(r["idempotency_key"]) for r in rows]


async def test_finished_transfers_go_after_the_window_and_pending_ones_never(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    for outcome in ("pending", "succeeded", "failed", "reversed"):
        await _transfer(fresh_core, org_id, f"old-{outcome}", outcome)
    fresh_core.clock.advance(120)
    await _transfer(fresh_core, org_id, "newer-succeeded", "succeeded")

    fresh_core.clock.advance(400 * DAY - 180)  # 60 s inside the window for the oldest rows
    assert await fresh_core.post("ledgers/prune", {}) == (200, {"deleted": NOTHING})

    fresh_core.clock.advance(120)  # the old rows are now 60 s outside it; the newer one is not
    assert await fresh_core.post("ledgers/prune", {}) == (
        200,
        {"deleted": {"webhook_events": 0, "transfers": 3, "payouts": 0}},
    )
    assert await _keys(fresh_core, "connect_transfer") == ["newer-succeeded", "old-pending"]

    fresh_core.clock.advance(100 * 365 * DAY)  # a pending row is never deleted, however old
    await fresh_core.post("ledgers/prune", {})
    assert await _keys(fresh_core, "connect_transfer") == ["old-pending"]


async def test_finished_payouts_go_after_the_window_and_unfinished_ones_never(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    statuses = ("reserved", "refused", "pending", "in_transit", "paid", "failed", "canceled")
    for status in statuses:
        await _payout(fresh_core, org_id, f"old-{status}", status)
    fresh_core.clock.advance(120)
    await _payout(fresh_core, org_id, "newer-paid", "paid")

    fresh_core.clock.advance(400 * DAY - 180)
    assert await fresh_core.post("ledgers/prune", {}) == (200, {"deleted": NOTHING})

    fresh_core.clock.advance(120)
    assert await fresh_core.post("ledgers/prune", {}) == (
        200,
        {"deleted": {"webhook_events": 0, "transfers": 0, "payouts": 4}},
    )
    assert await _keys(fresh_core, "connect_payout") == [
        "newer-paid",
        "old-in_transit",
        "old-pending",
        "old-reserved",
    ]


async def test_a_late_update_restarts_the_window_of_a_row(fresh_core: Core) -> None:
    """Age counts from `updated_at`: a reversal a year on keeps the transfer for another window."""
    org_id = make_org(fresh_core)
    await _transfer(fresh_core, org_id, "order-1", "succeeded")
    fresh_core.clock.advance(300 * DAY)
    sync = {"stripe_transfer_id": "tr_order-1", "amount_reversed": 100, "reversed": False}
    assert (await fresh_core.post("transfers/sync", sync))[0] == 200
    fresh_core.clock.advance(200 * DAY)
    assert await fresh_core.post("ledgers/prune", {}) == (200, {"deleted": NOTHING})
    assert await _keys(fresh_core, "connect_transfer") == ["order-1"]


async def test_only_old_processed_webhook_events_go(fresh_core: Core) -> None:
    await _event(fresh_core, "evt_old_done", "processed")
    await _event(fresh_core, "evt_old_failed", "failed")
    await _event(fresh_core, "evt_old_processing", None)
    fresh_core.clock.advance(30 * DAY - 60)
    await _event(fresh_core, "evt_new", "processed")
    assert await fresh_core.post("ledgers/prune", {}) == (200, {"deleted": NOTHING})
    fresh_core.clock.advance(120)
    assert await fresh_core.post("ledgers/prune", {}) == (
        200,
        {"deleted": {"webhook_events": 1, "transfers": 0, "payouts": 0}},
    )
    rows = await fresh_core.db.prepare(
        "SELECT event_id FROM connect_webhook_event ORDER BY event_id"
    ).all()
    assert [r["event_id"] for r in rows] == ["evt_new", "evt_old_failed", "evt_old_processing"]


async def test_the_route_takes_shorter_windows_within_the_minimums(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transfer(fresh_core, org_id, "t", "succeeded")
    await _payout(fresh_core, org_id, "p", "paid")
    await _event(fresh_core, "evt_1", "processed")
    fresh_core.clock.advance(31 * DAY)
    assert await fresh_core.post(
        "ledgers/prune", {"webhook_event_retention_days": 40, "ledger_retention_days": 30}
    ) == (200, {"deleted": {"webhook_events": 0, "transfers": 1, "payouts": 1}})
    assert await fresh_core.post("ledgers/prune", {"webhook_event_retention_days": 4}) == (
        200,
        {"deleted": {"webhook_events": 1, "transfers": 0, "payouts": 0}},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"webhook_event_retention_days": 3},
        {"ledger_retention_days": 29},
        {"ledger_retention_days": 36501},
        {"ledger_retention_days": 45.5},
        {"ledger_retention_days": True},
        {"older_than_days": 30},
        [],
    ],
)
async def test_the_route_refuses_windows_below_the_minimums(fresh_core: Core, body: Any) -> None:
    org_id = make_org(fresh_core)
    await _transfer(fresh_core, org_id, "t", "succeeded")
    fresh_core.clock.advance(4000 * DAY)
    status, reply = await fresh_core.post("ledgers/prune", body)
    assert (status, reply["error"]["code"]) == (400, "invalid_request")
    assert await _keys(fresh_core, "connect_transfer") == ["t"]


async def test_prune_is_one_route(fresh_core: Core) -> None:
    status, reply = await fresh_core.post("webhook-events/prune", {})
    assert (status, reply["error"]["code"]) == (404, "not_found")
    status, reply = await fresh_core.call("GET", "/api/internal/ledgers/prune")
    assert (status, reply["error"]["code"]) == (405, "method_not_allowed")
    status, _ = await fresh_core.call("POST", "/api/internal/ledgers/prune", {}, key=None)
    assert status == 401


@pytest.fixture
def short_retention_core(tmp_path: Path) -> Iterator[Core]:
    path = tmp_path / "short.sqlite3"
    apply_migrations(path)
    core = make_core(
        path, ShiftableClock(), LEDGER_RETENTION_DAYS="45", WEBHOOK_EVENT_RETENTION_DAYS="7"
    )
    yield core
    core.db.close()


async def test_the_cron_function_applies_the_configured_windows(
    short_retention_core: Core,
) -> None:
    core = short_retention_core
    org_id = make_org(core)
    await _transfer(core, org_id, "t-done", "succeeded")
    await _transfer(core, org_id, "t-pending", "pending")
    await _payout(core, org_id, "p-done", "failed")
    await _payout(core, org_id, "p-reserved", "reserved")
    await _event(core, "evt_done", "processed")
    core.clock.advance(7 * DAY + 60)
    assert await prune_expired(core.deps) == {"webhook_events": 1, "transfers": 0, "payouts": 0}
    core.clock.advance(38 * DAY)
    assert await prune_expired(core.deps) == {"webhook_events": 0, "transfers": 1, "payouts": 1}
    assert await _keys(core, "connect_transfer") == ["t-pending"]
    assert await _keys(core, "connect_payout") == ["p-reserved"]


BASE_ENV = {"INTERNAL_API_KEYS": f"v1:{'a' * 32}", "BETTER_AUTH_SECRET": "s" * 32}


def test_ledger_retention_defaults_to_400_days() -> None:
    config = load_config(BASE_ENV)
    assert (config.ledger_retention_days, config.webhook_event_retention_days) == (400, 30)
    assert load_config({**BASE_ENV, "LEDGER_RETENTION_DAYS": "30"}).ledger_retention_days == 30
    assert load_config({**BASE_ENV, "LEDGER_RETENTION_DAYS": " "}).ledger_retention_days == 400


@pytest.mark.parametrize(
    "env",
    [
        {"LEDGER_RETENTION_DAYS": "29"},
        {"LEDGER_RETENTION_DAYS": "30.5"},
        {"LEDGER_RETENTION_DAYS": "-400"},
        {"LEDGER_RETENTION_DAYS": "forever"},
        {"LEDGER_RETENTION_DAYS": "nan"},
        {"LEDGER_RETENTION_DAYS": "inf"},
        {"LEDGER_RETENTION_DAYS": "36501"},
        {"WEBHOOK_EVENT_RETENTION_DAYS": "nan"},
    ],
)
def test_bad_ledger_retention_is_refused_at_startup(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config({**BASE_ENV, **env})
    assert next(iter(env)) in str(excinfo.value)
