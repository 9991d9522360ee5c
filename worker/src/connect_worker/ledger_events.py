"""`transfer.*` and `payout.*` events on the two ledgers (`ledger.py`'s instances): Stripe's state
of the transfer or payout recorded as `transfers/sync` and `payouts/upsert` record it, and the
event's claim completed, in one D1 batch (`webhook-events/apply-transfer`, `apply-payout`)."""

from __future__ import annotations

from connect_worker import payouts, transfers
from connect_worker.clock import iso_ms
from connect_worker.deps import Deps
from connect_worker.event_claims import CLAIM_KEY_FIELDS, COMPLETE_HELD, HELD_BY_CALLER, claim_lost
from connect_worker.route import Body, Params, Route

# A `payout.*` event's effect and the end of its claim, in one batch: the claim completes only if
# the payout is now stored for the event's organization (a payout recorded for another one leaves
# the claim held, and the route answers 409 as `payouts/upsert` does). A retried call whose first
# attempt committed completes again, harmlessly: the claim is still this caller's.
_COMPLETE_IF_PAYOUT_STORED = (
    'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
    '"lease_expires_at" = NULL, "processed_at" = COALESCE("processed_at", ?) '
    'WHERE "event_id" = ? AND "claim_id" = ? AND "status" IN (\'processing\', \'processed\') '
    'AND EXISTS (SELECT 1 FROM "connect_payout" WHERE "stripe_payout_id" = ? '
    'AND "organization_id" = ?)'
)

APPLY_PAYOUT_FIELDS = {**payouts.UPSERT_FIELDS, **CLAIM_KEY_FIELDS}


async def apply_payout(deps: Deps, params: Params, body: Body) -> payouts.PayoutUpdated:
    now_iso = iso_ms(deps.now())
    statements = payouts.upsert_statements(deps.db, body, now_iso=now_iso)
    statements.append(
        deps.db.prepare(_COMPLETE_IF_PAYOUT_STORED).bind(
            now_iso,
            body["event_id"],
            body["claim_id"],
            body["stripe_payout_id"],
            body["organization_id"],
        )
    )
    results = await deps.db.batch(statements)
    updated, row = payouts.upserted(results)
    owned = payouts.owned_row(row, body)
    if results[-1].changes == 0:
        raise claim_lost()
    return payouts.PayoutUpdated(updated, payouts.LEDGER.found(owned))


# `transfer.*`: the claim completes whatever the ledger said — a transfer not in it, or one whose
# metadata names a row that cannot take it, is settled all the same (no retry can change it).
APPLY_TRANSFER_FIELDS = {**transfers.SYNC_FIELDS, **CLAIM_KEY_FIELDS}


async def apply_transfer(deps: Deps, params: Params, body: Body) -> transfers.Transfer:
    """`transfers/sync` and the claim's completion in one batch; answered as `transfers/sync`
    (404 `transfer_not_found`, 409 `transfer_mismatch`) once the claim is completed."""
    now_iso, event_id, claim_id = iso_ms(deps.now()), body["event_id"], body["claim_id"]
    held = (HELD_BY_CALLER, (event_id, claim_id))
    statements = transfers.sync_statements(deps.db, body, now_iso=now_iso, only_if=held)
    complete = deps.db.prepare(COMPLETE_HELD).bind(now_iso, event_id, claim_id)
    results = await deps.db.batch([*statements, complete])
    if results[-1].changes == 0:
        raise claim_lost()
    return transfers.synced(results[:-1], body)


ROUTES = {
    ("POST", "/webhook-events/apply-payout"): Route(apply_payout, APPLY_PAYOUT_FIELDS),
    ("POST", "/webhook-events/apply-transfer"): Route(
        apply_transfer, APPLY_TRANSFER_FIELDS, reply="transfer"
    ),
}
