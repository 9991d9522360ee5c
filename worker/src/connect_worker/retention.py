"""The retention rule for every ledger, shared by the prune route and the daily cron."""

from __future__ import annotations

from typing import NamedTuple

from connect_worker import payouts, transfers, webhook_events
from connect_worker.clock import iso_ms
from connect_worker.config import MAX_RETENTION_DAYS, MIN_LEDGER_RETENTION_DAYS, MIN_RETENTION_DAYS
from connect_worker.deps import Deps
from connect_worker.route import Body, Params, Route
from connect_worker.validation import integer, optional


async def prune_expired(
    deps: Deps, *, webhook_event_days: int | None = None, ledger_days: int | None = None
) -> dict[str, int]:
    """Processed webhook events only need to outlive Stripe's 3 days of retries. Transfer and
    payout rows answer a client's retry with the first result, so they are kept far longer, and
    only once final (see `Ledger.prune`)."""
    now = deps.now()
    event_days = webhook_event_days or deps.config.webhook_event_retention_days
    row_days = ledger_days or deps.config.ledger_retention_days
    events_before = iso_ms(now - event_days * 86400)
    rows_before = iso_ms(now - row_days * 86400)
    return {
        "webhook_events": await webhook_events.prune(deps.db, received_before=events_before),
        "transfers": await transfers.LEDGER.prune(deps.db, updated_before=rows_before),
        "payouts": await payouts.LEDGER.prune(deps.db, updated_before=rows_before),
    }


PRUNE_FIELDS = {
    "webhook_event_retention_days": optional(
        integer(min_value=MIN_RETENTION_DAYS, max_value=MAX_RETENTION_DAYS)
    ),
    "ledger_retention_days": optional(
        integer(min_value=MIN_LEDGER_RETENTION_DAYS, max_value=MAX_RETENTION_DAYS)
    ),
}


class Pruned(NamedTuple):
    deleted: dict[str, int]


async def prune_ledgers(deps: Deps, params: Params, body: Body) -> Pruned:
    deleted = await prune_expired(
        deps,
        webhook_event_days=body.get("webhook_event_retention_days"),
        ledger_days=body.get("ledger_retention_days"),
    )
    return Pruned(deleted)


ROUTES = {("POST", "/ledgers/prune"): Route(prune_ledgers, PRUNE_FIELDS)}
