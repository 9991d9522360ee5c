"""An organization's debts to the platform (reversals Stripe refused: the money was paid out) are
paid first out of its next transfers, and retried by reconciliation.

Each attempt takes the debt's row back to `pending` (`returns/retry`, which only one caller can
win), reverses with a Stripe key of its own (`<key>:<attempt>`: Stripe replays a refusal for a
key) and records the answer: a line for the part paid (`recovered` from a later transfer, or
`reversed` from its own), or the row `owed` again. Nothing is lost between owed and paid: the row
holds what is still owed until a line says it was paid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from backend.errors import ApiError
from backend.return_flow import send, stripe_key
from backend.return_models import ReturnRow
from backend.services import Services
from backend.stripe_errors import is_definitive

logger = logging.getLogger("backend.returns")


@dataclass(frozen=True, slots=True)
class Recovered:
    paid: int = 0  # minor units taken back
    owed: int = 0  # debts still owed after the attempt (rows)


async def _reverse_part(
    svc: Services, row: ReturnRow, *, transfer_id: str, amount: int
) -> dict[str, object] | None:
    """One Stripe reversal of `amount` of `transfer_id` for the debt `row` (already `pending`):
    the `returns/complete` result, or None when Stripe's answer is unknown."""
    try:
        reversal = await svc.stripe.reverse_transfer(
            transfer_id,
            amount=amount,
            key=stripe_key(row),
            metadata={
                "organization_id": row.organization_id,
                "source_transaction": row.source_transaction,
                "return_key": row.idempotency_key,
                "debt_of_transfer": row.stripe_transfer_id,
            },
        )
    except ApiError as exc:
        if not is_definitive(exc):
            return None
        message = f"{exc.code}: {exc.message}"[:500]
        return {
            "idempotency_key": row.idempotency_key,
            "status": "owed",
            "failure_message": message,
        }
    return {
        "idempotency_key": row.idempotency_key,
        "status": "done",
        "stripe_object_id": reversal.id,
        "recovered_from": transfer_id,
        "amount": amount,
    }


async def recover_from_transfer(
    svc: Services, organization_id: str, *, transfer_id: str, currency: str, room: int
) -> int:
    """A transfer of `room` (net) just reached the organization: its debts in that currency are
    paid out of it first, oldest first. Returns what was taken back."""
    debts = await svc.worker.organization_debts(organization_id)
    taken = 0
    for debt in debts.debts:
        take = min(debt.amount_owed, room - taken)
        if debt.currency != currency or take <= 0:
            continue
        retried, row = await svc.worker.retry_return(debt.idempotency_key)
        if not retried:
            continue  # another caller is paying it now
        result = await _reverse_part(svc, row, transfer_id=transfer_id, amount=take)
        if result is None:
            logger.warning("debt %s: Stripe's answer unknown; left pending", row.idempotency_key)
            break
        await svc.worker.complete_returns([result])
        if result["status"] == "done":
            taken += take
            logger.info(
                "debt %s: %d taken from transfer %s", row.idempotency_key, take, transfer_id
            )
    return taken


async def retry_debts(svc: Services) -> Recovered:
    """Reconciliation: every debt tried again against its own transfer (the account may hold the
    money again), and any part whose Stripe answer was never heard sent again with its key."""
    paid = owed = 0
    for debt in await svc.worker.all_debts():
        try:
            if debt.status == "pending":
                rows = await send(svc, [debt], None)
            else:
                retried, row = await svc.worker.retry_return(debt.idempotency_key)
                if not retried:
                    continue
                rows = await send(svc, [row], None)
        except ApiError as exc:
            logger.warning("debt %s: not retried (%s)", debt.idempotency_key, exc.code)
            owed += 1
            continue
        for row in rows:
            if row.status == "owed":
                owed += 1
            else:
                paid += row.amount_reversed
    return Recovered(paid=paid, owed=owed)
