"""The two kinds of ledger row reconciliation settles, transfers and payouts: for each, the key
Stripe's object is tagged with, the Stripe list to find it in, and the Worker writes that refuse
the row or let it take the object — the same writes a webhook makes. `Reconciler._settle` owns the
order; these own what differs between the two kinds."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

from backend.ledger.money_operation import LedgerTag
from backend.services import Services
from backend.stripe_side.stripe_events import PayoutObject, TransferObject
from backend.stripe_side.stripe_listing import Page
from backend.worker_side.worker_models import LedgerPayout, LedgerTransfer, TransferOrigin


class Lister(Protocol):
    """One page of a Stripe list, after the object `starting_after` (None: the first page)."""

    def __call__(self, *, starting_after: str | None) -> Awaitable[Page]: ...


Row = TypeVar("Row", LedgerTransfer, LedgerPayout, contravariant=True)


class LedgerKind(Protocol[Row]):
    """One kind of ledger row, as reconciliation settles it; `Reconciler._settle` owns the order
    (the two instances: `TRANSFERS`, `PAYOUTS`)."""

    kind: Literal["transfer", "payout"]
    where: str  # names an account's list in the report's errors
    not_taken: str  # the mismatch's detail

    def key(self, row: Row) -> str: ...

    def lister(self, svc: Services, account: str, since: int) -> Lister: ...

    async def refuse(self, svc: Services, row: Row, message: str) -> bool:
        """Refuse the row; False when it had finished meanwhile."""
        ...

    async def take(self, svc: Services, row: Row, found: dict[str, Any]) -> tuple[str, bool]:
        """Settle the row with the object Stripe made for it: its id, whether the row took it."""
        ...


def by_tag(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Stripe objects by the ledger row their metadata names (objects made elsewhere dropped)."""
    tagged: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        metadata = obj.get("metadata")
        tag = LedgerTag.read(metadata) if isinstance(metadata, dict) else None
        if tag is not None:
            tagged.setdefault((tag.organization_id, tag.idempotency_key), obj)
    return tagged


class Transfers:
    kind: Literal["transfer", "payout"] = "transfer"
    where = "transfers to"
    not_taken = "the row did not take the transfer"

    def key(self, row: LedgerTransfer) -> str:
        return row.idempotency_key

    def lister(self, svc: Services, account: str, since: int) -> Lister:
        return partial(svc.stripe.list_transfers, destination=account, created_gte=since)

    async def refuse(self, svc: Services, row: LedgerTransfer, message: str) -> bool:
        done = await svc.worker.complete_transfer(
            row.organization_id, row.idempotency_key, status="failed", failure_message=message
        )
        return done.status == "failed"

    async def take(
        self, svc: Services, row: LedgerTransfer, found: dict[str, Any]
    ) -> tuple[str, bool]:
        transfer = TransferObject.model_validate(found)
        origin = TransferOrigin(
            organization_id=row.organization_id,
            idempotency_key=row.idempotency_key,
            amount=transfer.amount,
            currency=transfer.currency,
            destination=transfer.destination or "",
        )
        synced = await svc.worker.sync_transfer(
            transfer.id,
            amount_reversed=transfer.amount_reversed,
            reversed=transfer.reversed,
            origin=origin,
        )
        return transfer.id, synced is not None and synced.stripe_transfer_id == transfer.id


class Payouts:
    kind: Literal["transfer", "payout"] = "payout"
    where = "payouts of"
    not_taken = "the reservation did not take the payout"

    def key(self, row: LedgerPayout) -> str:
        return row.idempotency_key or ""

    def lister(self, svc: Services, account: str, since: int) -> Lister:
        return partial(svc.stripe.list_payouts, account, created_gte=since)

    async def refuse(self, svc: Services, row: LedgerPayout, message: str) -> bool:
        done = await svc.worker.refuse_payout(
            row.organization_id, self.key(row), failure_code=None, failure_message=message
        )
        return done.status == "refused"

    async def take(
        self, svc: Services, row: LedgerPayout, found: dict[str, Any]
    ) -> tuple[str, bool]:
        payout = PayoutObject.model_validate(found)
        stored = await svc.worker.upsert_payout(
            payout,
            organization_id=row.organization_id,
            stripe_account_id=row.stripe_account_id or "",
            event_created=int(found["created"]),
            idempotency_key=self.key(row),
        )
        return payout.id, stored.stripe_payout_id == payout.id


TRANSFERS = Transfers()
PAYOUTS = Payouts()
