"""What reconciliation (`python -m backend.reconciliation.reconcile`) reads and records in D1: the
ledger rows whose outcome at Stripe is not known yet, the connected accounts whose events it
replays, and `connect_reconciliation_checkpoint`, how far that replay got per scope.

Settling a row goes through the ledgers' own routes (`transfers/sync`, `transfers/complete`,
`payouts/upsert`, `payouts/refuse`), and replaying an event through the webhook claim: this
module never changes money rows itself.
"""

from __future__ import annotations

from typing import NamedTuple

from connect_worker import payouts, transfers
from connect_worker.clock import iso_ms
from connect_worker.deps import Deps
from connect_worker.route import ID, UNIX_TIME, Body, Params, Route, from_row
from connect_worker.validation import required, string

# Oldest first, a bounded page: a run settles what it can and the next run takes the rest.
UNSETTLED_LIMIT = 200
_PENDING_TRANSFERS = (
    f"{transfers.LEDGER.select} WHERE \"status\" = 'pending' "
    f'ORDER BY "created_at", "id" LIMIT {UNSETTLED_LIMIT}'
)
# A `reserved` payout has no Stripe id: its request died before Stripe's answer was stored.
# (`pending` / `in_transit` payouts exist at Stripe; their events bring the rest.)
_RESERVED_PAYOUTS = (
    f"{payouts.LEDGER.select} WHERE \"status\" = 'reserved' "
    f'ORDER BY "updated_at", "id" LIMIT {UNSETTLED_LIMIT}'
)
_ACCOUNTS = (
    'SELECT CAST("id" AS TEXT) AS "organization_id", '
    '"stripe_connect_account_id" AS "stripe_account_id", '
    '"stripe_connect_status", "onboarding_rejection_reason" '
    'FROM "organization" WHERE "stripe_connect_account_id" IS NOT NULL '
    'ORDER BY "stripe_connect_account_id"'
)
_COLUMNS = '"scope", "event_created", "event_id", "updated_at"'
_CHECKPOINTS = f'SELECT {_COLUMNS} FROM "connect_reconciliation_checkpoint" ORDER BY "scope"'
_CHECKPOINT = f'SELECT {_COLUMNS} FROM "connect_reconciliation_checkpoint" WHERE "scope" = ?'
# A checkpoint only moves forward: two runs racing cannot move it back past events one settled.
_ADVANCE = (
    'INSERT INTO "connect_reconciliation_checkpoint" ("scope", "event_created", "event_id", '
    '"updated_at") VALUES (?, ?, ?, ?) ON CONFLICT ("scope") DO UPDATE SET '
    '"event_created" = excluded."event_created", "event_id" = excluded."event_id", '
    '"updated_at" = excluded."updated_at" '
    'WHERE excluded."event_created" >= "connect_reconciliation_checkpoint"."event_created"'
)


class Unsettled(NamedTuple):
    transfers: list[transfers.Transfer]
    payouts: list[payouts.Payout]


async def unsettled(deps: Deps, params: Params, body: None) -> Unsettled:
    rows = await deps.db.batch(
        [deps.db.prepare(_PENDING_TRANSFERS), deps.db.prepare(_RESERVED_PAYOUTS)]
    )
    return Unsettled(
        [transfers.LEDGER.found(row) for row in rows[0].rows],
        [payouts.LEDGER.found(row) for row in rows[1].rows],
    )


class Account(NamedTuple):
    organization_id: str
    stripe_account_id: str
    stripe_connect_status: str | None
    onboarding_rejection_reason: str | None


async def accounts(deps: Deps, params: Params, body: None) -> list[Account]:
    rows = await deps.db.prepare(_ACCOUNTS).all()
    return [from_row(Account, row) for row in rows]


class Checkpoint(NamedTuple):
    """How far the replay of one scope's events got."""

    scope: str
    event_created: int
    event_id: str
    updated_at: str


async def checkpoints(deps: Deps, params: Params, body: None) -> list[Checkpoint]:
    rows = await deps.db.prepare(_CHECKPOINTS).all()
    return [from_row(Checkpoint, row) for row in rows]


ADVANCE_FIELDS = {
    "scope": required(string(pattern=r"platform|acct_[A-Za-z0-9]{1,100}")),
    "event_created": required(UNIX_TIME),
    "event_id": required(ID),
}


class Advanced(NamedTuple):
    advanced: bool
    checkpoint: Checkpoint | None


async def advance_checkpoint(deps: Deps, params: Params, body: Body) -> Advanced:
    scope = body["scope"]
    advance = deps.db.prepare(_ADVANCE).bind(
        scope, body["event_created"], body["event_id"], iso_ms(deps.now())
    )
    results = await deps.db.batch([advance, deps.db.prepare(_CHECKPOINT).bind(scope)])
    row = results[1].first_row
    return Advanced(results[0].changes > 0, from_row(Checkpoint, row) if row else None)


ROUTES = {
    ("GET", "/reconciliation/unsettled"): Route(unsettled),
    ("GET", "/reconciliation/accounts"): Route(accounts, reply="accounts"),
    ("GET", "/reconciliation/checkpoints"): Route(checkpoints, reply="checkpoints"),
    ("POST", "/reconciliation/checkpoints"): Route(advance_checkpoint, ADVANCE_FIELDS),
}
