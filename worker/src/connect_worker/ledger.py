"""The money ledgers' one mechanism, with two instances (`transfers.LEDGER`, `payouts.LEDGER`).

A row is reserved under (organization, idempotency key) exactly once before Stripe is called,
settled once Stripe answered, looked up by a replay, and pruned only once final. The tables differ
only in their columns, their insert and settle statements and which statuses are final.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from connect_worker.d1 import D1Database, D1Statement, Row, SqlValue, quoted
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.organizations import organization_not_found
from connect_worker.route import ID, IDEMPOTENCY_KEY, M, Params, Reply, from_row, path_param
from connect_worker.validation import required, string

# What every ledger route's body starts with: the row's key, and for a reservation the hash of
# the request that a replay under the same key must match.
KEY_FIELDS = {"organization_id": required(ID), "idempotency_key": required(IDEMPOTENCY_KEY)}
RESERVE_FIELDS = {**KEY_FIELDS, "request_hash": required(string(max_len=128))}
ORG_EXISTS = 'SELECT 1 AS "found" FROM "organization" WHERE "id" = ?'

C = TypeVar("C", bound=Reply)  # `{"created": bool, "transfer": Transfer}`


@dataclass(frozen=True, slots=True)
class Reservation:
    created: bool
    row: Row | None  # the row under (organization, idempotency key), new or earlier
    organization_exists: bool


@dataclass(frozen=True, slots=True)
class Ledger(Generic[M, C]):
    table: str  # "connect_transfer"
    model: type[M]  # the row as the contract shows it; its fields are the columns read
    created_reply: Callable[[bool, M], C]
    final_statuses: tuple[str, ...]
    name: str = field(init=False)  # "transfer": the not-found error's code and message
    select: str = field(init=False)  # the model's columns, from the table

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.table.removeprefix("connect_"))
        select = f'SELECT {quoted(self.model._fields)} FROM "{self.table}"'
        object.__setattr__(self, "select", select)

    def not_found(self) -> ApiError:
        return ApiError(f"{self.name}_not_found", f"{self.name.capitalize()} not found.")

    def found(self, row: Row | None) -> M:
        if row is None:
            raise self.not_found()
        return from_row(self.model, row)

    def lookup(self, db: D1Database, organization_id: str, key: str) -> D1Statement:
        by_key = f'{self.select} WHERE "organization_id" = ? AND "idempotency_key" = ?'
        return db.prepare(by_key).bind(organization_id, key)

    async def reserve(
        self, db: D1Database, insert: D1Statement, *, organization_id: str, key: str
    ) -> Reservation:
        """The insert-if-absent, the row as now stored and the organization check in one batch,
        so a concurrent reservation of the same key reads the winner's row."""
        results = await db.batch(
            [
                insert,
                self.lookup(db, organization_id, key),
                db.prepare(ORG_EXISTS).bind(organization_id),
            ]
        )
        return Reservation(results[0].changes > 0, results[1].first_row, bool(results[2].rows))

    def reserved(self, reservation: Reservation, body: Mapping[str, Any]) -> C:
        """201 for a new row; 200 replaying the first request's row; 409 for a reused key."""
        row = reservation.row
        if not reservation.organization_exists or row is None:
            raise organization_not_found()
        if not reservation.created and row["request_hash"] != body["request_hash"]:
            raise ApiError(
                "idempotency_key_reused", "This idempotency key was used for a different request."
            )
        return self.created_reply(reservation.created, self.found(row))

    async def settle(
        self, db: D1Database, update: D1Statement, *, organization_id: str, key: str
    ) -> M:
        """Apply Stripe's answer (the update only touches a row still waiting for it), then reply
        with the row as stored: a finished row is unchanged and answered as it is."""
        results = await db.batch([update, self.lookup(db, organization_id, key)])
        return self.found(results[1].first_row)

    async def get(self, deps: Deps, params: Params, body: None) -> M:
        """A replay's lookup: the row reserved under (organization, idempotency key), if any."""
        org_id = path_param(params, "organization_id")
        key = path_param(params, "idempotency_key")
        row = None
        if org_id and key:
            row = await self.lookup(deps.db, org_id, key).first()
        return self.found(row)

    async def prune(self, db: D1Database, *, updated_before: str) -> int:
        """Retention: only final rows; any other is money whose outcome is not known yet."""
        marks = ", ".join("?" for _ in self.final_statuses)
        sql = f'DELETE FROM "{self.table}" WHERE "status" IN ({marks}) AND "updated_at" < ?'
        bound: list[SqlValue] = [*self.final_statuses, updated_before]
        return (await db.prepare(sql).bind(*bound).run()).changes
