"""An organization's money history: its transfer, payout and return ledgers read newest first, a
page at a time.

Pages walk the ledger's own `id` backwards (`before_id`), never an offset: a row recorded while
someone pages (a webhook's payout) cannot shift a page and show a row twice or skip one. Reads
only, so POST is used solely because the router takes no query string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from connect_worker import returns
from connect_worker.d1 import Row, quoted
from connect_worker.deps import Deps
from connect_worker.ledger import ORG_EXISTS
from connect_worker.organizations import organization_not_found
from connect_worker.payouts import Payout
from connect_worker.route import ID, Body, Params, Reply, Route
from connect_worker.validation import MAX_SAFE_INTEGER, integer, optional, required

MAX_PAGE = 100


# A page's entries are its rows as read (the contract's `TransferEntry` / `PayoutEntry`): a ledger
# row without the keys and hashes only the backend needs, `id` first.
TRANSFER_COLUMNS = (
    "id",
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
)
_PRIVATE = ("organization_id", "stripe_account_id", "idempotency_key", "request_hash")
PAYOUT_COLUMNS = ("id", *(c for c in Payout._fields if c not in _PRIVATE))


class TransferPage(NamedTuple):
    transfers: list[Row]
    next_before_id: int | None


class PayoutPage(NamedTuple):
    payouts: list[Row]
    next_before_id: int | None


def _payout_page(rows: list[Row], next_before_id: int | None) -> PayoutPage:
    """A payout made through our route carries our idempotency key; one Stripe made on its own
    (an automatic schedule, the Express Dashboard) has none. Members see which, not the key."""
    entries = [
        {**{c: r[c] for c in PAYOUT_COLUMNS}, "automatic": r["idempotency_key"] is None}
        for r in rows
    ]
    return PayoutPage(entries, next_before_id)


@dataclass(frozen=True, slots=True)
class History:
    table: str
    columns: tuple[str, ...]  # read from the table, `id` first
    reply: Callable[[list[Row], int | None], Reply]

    async def page(self, deps: Deps, params: Params, body: Body) -> Reply:
        """The rows below `before_id` (one more, to know whether a next page exists) and whether
        the organization exists, in one batch."""
        limit, org_id = body["limit"], body["organization_id"]
        sql = (
            f'SELECT {quoted(self.columns)} FROM "{self.table}" '
            'WHERE "organization_id" = ? AND "id" < ? ORDER BY "id" DESC LIMIT ?'
        )
        before_id = body.get("before_id") or MAX_SAFE_INTEGER
        results = await deps.db.batch(
            [
                deps.db.prepare(sql).bind(org_id, before_id, limit + 1),
                deps.db.prepare(ORG_EXISTS).bind(org_id),
            ]
        )
        if not results[1].rows:
            raise organization_not_found()
        rows = results[0].rows[:limit]
        more = len(results[0].rows) > limit
        return self.reply(rows, int(rows[-1]["id"]) if more and rows else None)


class ReturnPage(NamedTuple):
    returns: list[Row]
    next_before_id: int | None


def _return_page(rows: list[Row], next_before_id: int | None) -> ReturnPage:
    """Reversals, debts and reinstatements as the contract's `Return`."""
    return ReturnPage([returns.to_model(r)._asdict() for r in rows], next_before_id)


TRANSFERS = History("connect_transfer", TRANSFER_COLUMNS, TransferPage)
RETURNS = History("connect_return", returns.COLUMNS, _return_page)
PAYOUTS = History("connect_payout", (*PAYOUT_COLUMNS, "idempotency_key"), _payout_page)
PAGE_FIELDS = {
    "organization_id": required(ID),
    "limit": required(integer(min_value=1, max_value=MAX_PAGE)),
    # The `id` of the last row of the previous page; absent for the first page.
    "before_id": optional(integer(min_value=1, max_value=MAX_SAFE_INTEGER)),
}
ROUTES = {
    ("POST", "/history/transfers"): Route(TRANSFERS.page, PAGE_FIELDS),
    ("POST", "/history/payouts"): Route(PAYOUTS.page, PAGE_FIELDS),
    ("POST", "/history/returns"): Route(RETURNS.page, PAGE_FIELDS),
}
