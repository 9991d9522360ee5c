"""What a payment's transfers must give back after refunds and disputes: one pure function of
the payment and its ledgers (DESIGN decision 6, "Money comes back the way it went").

The organization keeps its net share of what is left of the payment. A refund (or a dispute's
withdrawn funds) takes first from the part of the payment never transferred; only the rest comes
out of the transfers, in proportion to what they paid net of the platform's fee, so the platform
gives up its fee on the refunded part and nothing else. Worked: 100.00 paid, 50.00 gross
transferred as 45.00 net, 80.00 refunded → 20.00 of the transferred gross stays, the organization
keeps 45.00 × 20/50 = 18.00 and 27.00 is reversed; a full refund after a full transfer (90.00 net)
reverses 90.00.

Rounding: what the organization keeps rounds down, so the platform is never short by a minor
unit; and never more than a transfer paid is asked back from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Transferred:
    """A transfer made out of the payment (a ledger row not `failed`)."""

    stripe_transfer_id: str
    gross: int
    net: int
    reversed_at_stripe: int  # the transfer's `amount_reversed`, as the ledger last saw it


@dataclass(frozen=True, slots=True)
class Returned:
    """A return row already reserved for the payment."""

    id: int
    stripe_transfer_id: str
    kind: Literal["reversal", "reinstatement"]
    status: Literal["pending", "done", "owed", "failed"]
    amount: int
    amount_reversed: int
    amount_forgiven: int
    amount_owed: int
    stripe_object_id: str | None = None  # a reinstatement's transfer: reversible in its turn
    amount_recovered: int = 0  # a debt's part paid out of a later transfer (of another payment)
    from_balance: bool = False  # a reinstatement funded by the platform's balance, not the charge


@dataclass(frozen=True, slots=True)
class Part:
    """A return to reserve: a reversal of `stripe_transfer_id` (`owed` when no transfer can
    give it: a debt from the start) or a reinstatement to the organization."""

    kind: Literal["reversal", "reinstatement"]
    stripe_transfer_id: str
    amount: int
    status: Literal["pending", "owed"] = "pending"
    from_balance: bool = False  # a reinstatement the charge cannot fund (see `_held`)


@dataclass(frozen=True, slots=True)
class Forgive:
    return_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class Plan:
    owed_back: int  # what the transfers must have given back in all
    returned: int  # what the return rows give back already (reversals − reinstatements)
    parts: tuple[Part, ...] = ()
    forgive: tuple[Forgive, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.parts and not self.forgive


def kept_net(amount: int, left: int, transfers: Sequence[Transferred]) -> int:
    """The net the organization keeps when `left` of a payment of `amount` remains: its share of
    the transferred gross that is still covered, rounded down (the platform is never short)."""
    gross = sum(t.gross for t in transfers)
    net = sum(t.net for t in transfers)
    if gross <= 0:
        return 0
    stays = min(gross, max(left, 0), amount)
    return net * stays // gross


def returned_by(rows: Sequence[Returned]) -> int:
    """What the return rows give back: reversals (debts included: owed is as good as back, until
    forgiven) less reinstatements (a refused one gave nothing)."""
    back = sum(r.amount - r.amount_forgiven for r in rows if r.kind == "reversal")
    again = sum(r.amount for r in rows if r.kind == "reinstatement" and r.status != "failed")
    return back - again


def _reversible(transfer: Transferred, rows: Sequence[Returned]) -> int:
    """What may still be asked back from one transfer: never more than it paid, counting what
    Stripe shows reversed and what our rows reversed (whichever is more: the ledger learns of
    our reversals from their events, later)."""
    ours = sum(
        r.amount if r.status == "pending" else r.amount_reversed
        for r in rows
        if r.kind == "reversal" and r.stripe_transfer_id == transfer.stripe_transfer_id
    )
    return max(transfer.net - max(transfer.reversed_at_stripe, ours), 0)


def plan(
    *,
    amount: int,
    refunded: int,
    disputed: int,
    transfers: Sequence[Transferred],
    returns: Sequence[Returned],
) -> Plan:
    """The parts that bring the payment's returns to its target: reversals when the transfers
    gave back too little, forgiven debts and then a reinstatement when they gave back too much
    (a dispute won, a refund that failed)."""
    net = sum(t.net for t in transfers)
    owed_back = net - kept_net(amount, amount - refunded - disputed, transfers)
    returned = returned_by(returns)
    delta = owed_back - returned
    if delta > 0:
        return Plan(owed_back, returned, parts=_reversals(delta, transfers, returns))
    if delta < 0:
        forgive, rest = _forgiven(-delta, returns)
        return Plan(
            owed_back, returned, parts=_reinstatements(rest, transfers, returns), forgive=forgive
        )
    return Plan(owed_back, returned)


def _reversals(
    delta: int, transfers: Sequence[Transferred], returns: Sequence[Returned]
) -> tuple[Part, ...]:
    """`delta` spread over the transfers, newest first (each up to what it can still give) —
    the transfers made again after a dispute won or a refund that failed first, since they are
    the newest; what none can give is a debt on the newest."""
    again = [
        Transferred(r.stripe_object_id, r.amount, r.amount, 0)
        for r in returns
        if r.kind == "reinstatement" and r.status == "done" and r.stripe_object_id
    ]
    parts: list[Part] = []
    for transfer in [*reversed(again), *reversed(transfers)]:
        take = min(delta, _reversible(transfer, returns))
        if take > 0:
            parts.append(Part("reversal", transfer.stripe_transfer_id, take))
            delta -= take
    if delta > 0 and transfers:
        parts.append(Part("reversal", transfers[-1].stripe_transfer_id, delta, status="owed"))
    return tuple(parts)


def _forgiven(excess: int, returns: Sequence[Returned]) -> tuple[tuple[Forgive, ...], int]:
    """Debts given up first (newest first: the money they stood for came back), then the rest."""
    forgive: list[Forgive] = []
    for row in sorted(returns, key=lambda r: -r.id):
        if excess <= 0:
            break
        if row.status == "owed" and row.amount_owed > 0:
            take = min(excess, row.amount_owed)
            forgive.append(Forgive(row.id, take))
            excess -= take
    return tuple(forgive), excess


def _held(returns: Sequence[Returned]) -> int:
    """What of the payment's returns the platform holds in its own balance rather than as room on
    the payment's charge: debts paid out of later transfers (another payment's transfer was
    reversed; this charge's transfer never was) and reversals of reinstatements that balance
    funded, less the reinstatements it funded already."""
    from_balance = {r.stripe_object_id for r in returns if r.from_balance and r.stripe_object_id}
    came = sum(
        r.amount_recovered + (r.amount_reversed if r.stripe_transfer_id in from_balance else 0)
        for r in returns
        if r.kind == "reversal"
    )
    went = sum(
        r.amount
        for r in returns
        if r.kind == "reinstatement" and r.from_balance and r.status != "failed"
    )
    return max(came - went, 0)


def _reinstatements(
    rest: int, transfers: Sequence[Transferred], returns: Sequence[Returned]
) -> tuple[Part, ...]:
    """`rest` transferred to the organization again: what the platform holds from debts paid out
    of later transfers from its balance (Stripe refuses it from the charge: nothing of the
    charge's transfers came back), the rest funded by the charge, whose transfers gave it back."""
    if rest <= 0 or not transfers:
        return ()
    first = transfers[0].stripe_transfer_id
    held = min(rest, _held(returns))
    parts = [Part("reinstatement", first, held, from_balance=True)] if held > 0 else []
    if rest > held:
        parts.append(Part("reinstatement", first, rest - held))
    return tuple(parts)
