"""An organization's money history: its transfer and payout ledgers read newest first, a page at
a time.

Pages walk the ledger's own `id` backwards (`before_id`), never an offset: a row recorded while
someone pages (a webhook's payout) cannot shift a page and show a row twice or skip one. Reads
only, so POST is used solely because the router takes no query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connect_worker.d1 import D1Database, Row
from connect_worker.deps import Deps
from connect_worker.ledger import ORG_EXISTS, quoted
from connect_worker.organizations import organization_not_found
from connect_worker.route import ID, Result, Route
from connect_worker.validation import MAX_SAFE_INTEGER, integer, optional, required

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class History:
    name: str  # the reply's key: "transfers" / "payouts"
    table: str
    columns: tuple[str, ...]

    def page_sql(self) -> str:
        return (
            f'SELECT "id", {quoted(self.columns)} FROM "{self.table}" '
            'WHERE "organization_id" = ? AND "id" < ? ORDER BY "id" DESC LIMIT ?'
        )

    async def page(
        self, db: D1Database, organization_id: str, *, before_id: int, limit: int
    ) -> tuple[list[Row], int | None, bool]:
        """(rows, next before_id or None, organization exists) in one batch."""
        results = await db.batch(
            [
                db.prepare(self.page_sql()).bind(organization_id, before_id, limit + 1),
                db.prepare(ORG_EXISTS).bind(organization_id),
            ]
        )
        rows = list(results[0].rows)
        more = len(rows) > limit
        rows = rows[:limit]
        next_before = int(rows[-1]["id"]) if more and rows else None
        return rows, next_before, bool(results[1].rows)


TRANSFERS = History(
    name="transfers",
    table="connect_transfer",
    columns=(
        "gross_amount",
        "fee_amount",
        "net_amount",
        "currency",
        "stripe_transfer_id",
        "status",
        "amount_reversed",
        "failure_message",
        "source_transaction",
        "reason",
        "initiated_by",
        "created_at",
        "updated_at",
    ),
)
PAYOUTS = History(
    name="payouts",
    table="connect_payout",
    columns=(
        "stripe_payout_id",
        "amount",
        "currency",
        "status",
        "failure_code",
        "failure_message",
        "arrival_date",
        "event_created",
        "updated_at",
        "idempotency_key",
    ),
)

PAGE_FIELDS = {
    "organization_id": required(ID),
    "limit": required(integer(min_value=1, max_value=MAX_PAGE)),
    # The `id` of the last row of the previous page; absent for the first page.
    "before_id": optional(integer(min_value=1, max_value=MAX_SAFE_INTEGER)),
}


def _payout_to_api(row: Row) -> dict[str, Any]:
    """A payout made through our route carries our idempotency key; one Stripe made on its own
    (an automatic schedule, the Express Dashboard) has none. Members see which, not the key."""
    out = {c: row.get(c) for c in ("id", *PAYOUTS.columns) if c != "idempotency_key"}
    out["automatic"] = row.get("idempotency_key") is None
    return out


def _handler(history: History) -> Any:
    async def page(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
        rows, next_before, exists = await history.page(
            deps.db,
            body["organization_id"],
            before_id=body.get("before_id") or MAX_SAFE_INTEGER,
            limit=body["limit"],
        )
        if not exists:
            raise organization_not_found()
        if history is PAYOUTS:
            items = [_payout_to_api(r) for r in rows]
        else:
            items = [{c: r.get(c) for c in ("id", *history.columns)} for r in rows]
        return 200, {history.name: items, "next_before_id": next_before}

    page.__name__ = f"{history.name}_history"
    return page


ROUTES = {
    ("POST", "/history/transfers"): Route.post(_handler(TRANSFERS), PAGE_FIELDS),
    ("POST", "/history/payouts"): Route.post(_handler(PAYOUTS), PAGE_FIELDS),
}
