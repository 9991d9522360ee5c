"""An organization's debts to the platform (`connect_return` rows Stripe refused to reverse:
`owed`) and the lines that paid them (`connect_debt_line`): what its members and the operator see,
and what reconciliation retries."""

from __future__ import annotations

from typing import NamedTuple

from connect_worker.deps import Deps
from connect_worker.ledger import ORG_EXISTS
from connect_worker.organizations import organization_not_found
from connect_worker.returns import (
    OUTSTANDING,
    SELECT_LINES,
    SELECT_RETURNS,
    DebtLine,
    Return,
    line_of,
    to_model,
)
from connect_worker.route import Params, Route, path_param

MAX_DEBTS = 100
MAX_ALL_DEBTS = 200
_ORG_DEBTS = (
    f'{SELECT_RETURNS} WHERE "organization_id" = ? AND "status" = \'owed\' ORDER BY "id" LIMIT ?'
)
_ORG_OWED = (
    f'SELECT "currency", SUM({OUTSTANDING}) AS "amount" FROM "connect_return" '
    'WHERE "organization_id" = ? AND "status" = \'owed\' GROUP BY "currency" '
    'ORDER BY "currency"'
)
_ORG_LINES = f'{SELECT_LINES} WHERE "organization_id" = ? ORDER BY "id" DESC LIMIT ?'
# Debts, and reversals still waiting for Stripe's answer: what reconciliation finishes.
_ALL_DEBTS = (
    f"{SELECT_RETURNS} WHERE \"status\" = 'owed' "
    'OR ("status" = \'pending\' AND "kind" = \'reversal\') ORDER BY "id" LIMIT ?'
)


class Owed(NamedTuple):
    amount: int
    currency: str


class OrganizationDebts(NamedTuple):
    debts: list[Return]
    owed: list[Owed]
    lines: list[DebtLine]


async def organization_debts(deps: Deps, params: Params, body: None) -> OrganizationDebts:
    org_id = path_param(params, "organization_id")
    if org_id is None:
        raise organization_not_found()
    db = deps.db
    exists, debts, owed, lines = await db.batch(
        [
            db.prepare(ORG_EXISTS).bind(org_id),
            db.prepare(_ORG_DEBTS).bind(org_id, MAX_DEBTS),
            db.prepare(_ORG_OWED).bind(org_id),
            db.prepare(_ORG_LINES).bind(org_id, MAX_DEBTS),
        ]
    )
    if not exists.rows:
        raise organization_not_found()
    return OrganizationDebts(
        [to_model(r) for r in debts.rows],
        [Owed(int(r["amount"]), str(r["currency"])) for r in owed.rows if int(r["amount"]) > 0],
        [line_of(r) for r in lines.rows],
    )


class AllDebts(NamedTuple):
    debts: list[Return]


async def all_debts(deps: Deps, params: Params, body: None) -> AllDebts:
    rows = await deps.db.prepare(_ALL_DEBTS).bind(MAX_ALL_DEBTS).all()
    return AllDebts([to_model(r) for r in rows])


ROUTES = {
    ("GET", "/debts/{organization_id}"): Route(organization_debts),
    ("GET", "/debts"): Route(all_debts),
}
