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

from backend.core import telemetry
from backend.core.errors import ApiError
from backend.ledger.return_flow import send
from backend.services import Services

logger = logging.getLogger("backend.returns")


@dataclass(frozen=True, slots=True)
class Recovered:
    paid: int = 0  # minor units taken back
    owed: int = 0  # debts still owed after the attempt (rows)


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
        retried, row = await svc.worker.retry_return(
            debt.idempotency_key, taking=(transfer_id, take)
        )
        if not retried:
            continue  # another caller is paying it now
        # Stripe's answer recorded; an unknown one raises, leaving the attempt for reconciliation.
        [paid] = await send(svc, [row], None)
        if paid.status == "done" or paid.amount_recovered > row.amount_recovered:
            telemetry.count_money("recovered", take, currency)
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
                telemetry.count_money("recovered", row.amount_reversed, row.currency)
    return Recovered(paid=paid, owed=owed)
