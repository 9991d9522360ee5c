"""Where a transfer reversal's money comes from, and when Stripe refuses it.

Stripe reverses a transfer made for a destination charge up to the charge's amount whatever the
connected account holds (its balance may go negative); any other transfer (separate charges and
transfers, `source_transaction` included) "only if the destination account has enough balance to
cover the reversal" — else 400 `balance_insufficient` and nothing moves. Funds are taken from the
account's available balance first, then its pending balance, and return to the platform's in the
same buckets.
"""

from __future__ import annotations

from stripe_fake.core import Ctx
from stripe_fake.errors import balance_insufficient
from stripe_fake.store import JSON, PLATFORM

INSUFFICIENT_REVERSAL = (
    "Insufficient funds in the destination account {account} to reverse this transfer: its "
    "balance ({held} {currency}) is lower than the amount of the reversal ({amount} {currency})."
)


def _for_destination_charge(ctx: Ctx, transfer: JSON) -> bool:
    charge = ctx.state.charges.get(transfer["source_transaction"] or "")
    if charge is None:
        return False
    destination = (charge.get("transfer_data") or {}).get("destination")
    return bool(destination == transfer["destination"])


def take_back(ctx: Ctx, transfer: JSON, amount: int) -> None:
    """Move `amount` from the transfer's destination back to the platform, or refuse."""
    currency = transfer["currency"]
    held = ctx.state.balance_of(transfer["destination"], currency)
    covered = max(held["available"], 0) + max(held["pending"], 0)
    if covered < amount and not _for_destination_charge(ctx, transfer):
        raise balance_insufficient(
            INSUFFICIENT_REVERSAL.format(
                account=transfer["destination"], amount=amount, currency=currency, held=covered
            )
        )
    from_pending = min(max(held["pending"], 0), max(amount - max(held["available"], 0), 0))
    from_available = amount - from_pending
    platform = ctx.state.balance_of(PLATFORM, currency)
    held["available"] -= from_available
    held["pending"] -= from_pending
    platform["available"] += from_available
    platform["pending"] += from_pending
