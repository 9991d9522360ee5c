"""What "pay out everything" means: the whole available balance in one currency, or exactly why
not.

The payout route makes *standard* payouts (never instant ones, so Stripe's `instant_available`
is not looked at) from the connected account's `available` balance. That balance can fail to be
one payable amount for several reasons, each answered with its own 409 code and a message that
says what the balance holds: funds still pending, funds only in other currencies, a negative
balance, funds of several source types (Stripe pays each source type with its own payout and
takes `card` funds by default), more than one payout may carry, or a three-decimal amount that is
not a multiple of 10. A balance below Stripe's own minimum is left to Stripe, whose refusal the
route records and returns (`payout_failed`, Stripe's message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backend.core.errors import Conflict
from backend.core.models import MAX_AMOUNT
from backend.money.fees import THREE_DECIMAL_CURRENCIES, minor_unit_exponent


@dataclass(frozen=True, slots=True)
class Funds:
    """One currency of a Stripe balance (`available` or `pending`)."""

    amount: int
    currency: str
    source_types: Mapping[str, int] = field(default_factory=dict)


def format_money(amount: int, currency: str) -> str:
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**exponent)
    text = f"{whole}.{part:0{exponent}d}" if exponent else str(whole)
    return f"{sign}{text} {currency.upper()}"


def _total(funds: Sequence[Funds], currency: str) -> int:
    return sum(f.amount for f in funds if f.currency == currency)


def _cannot(code: str, message: str) -> Conflict:
    return Conflict(code=code, message=message)


def full_available_balance(
    available: Sequence[Funds], pending: Sequence[Funds], *, currency: str
) -> int:
    """The amount of a payout of everything available in `currency`, or a 409 saying why not."""
    amount = _total(available, currency)
    if amount > 0:
        _check_payable(available, amount, currency)
        return amount
    if amount < 0:
        raise _cannot(
            "negative_balance",
            f"The available {currency.upper()} balance is negative "
            f"({format_money(amount, currency)}): refunds or disputes exceed settled funds, so "
            "nothing can be paid out until it is positive again.",
        )
    waiting = _total(pending, currency)
    if waiting > 0:
        raise _cannot(
            "balance_pending",
            f"No {currency.upper()} is available yet: {format_money(waiting, currency)} is "
            "pending and can be paid out once Stripe makes it available.",
        )
    elsewhere = sorted({f.currency for f in available if f.currency != currency and f.amount > 0})
    if elsewhere:
        listed = ", ".join(format_money(_total(available, c), c) for c in elsewhere)
        raise _cannot(
            "balance_in_other_currencies",
            f"No {currency.upper()} balance is available; the available balance is {listed}. "
            "A payout is in one currency: send one of those.",
        )
    raise _cannot("insufficient_balance", f"No available {currency} balance to pay out.")


def _check_payable(available: Sequence[Funds], amount: int, currency: str) -> None:
    by_type: dict[str, int] = {}
    for funds in available:
        if funds.currency == currency:
            for source_type, part in funds.source_types.items():
                by_type[source_type] = by_type.get(source_type, 0) + part
    others = {t: v for t, v in by_type.items() if t != "card" and v > 0}
    if others:
        parts = ", ".join(
            f"{format_money(v, currency)} {t}"
            for t, v in sorted({**by_type, **others}.items())
            if v
        )
        raise _cannot(
            "balance_needs_several_payouts",
            f"The available {currency.upper()} balance is {parts} funds; Stripe pays each "
            "source type with its own payout. Send an amount up to the card funds.",
        )
    if amount > MAX_AMOUNT:
        raise _cannot(
            "balance_above_payout_maximum",
            f"The available balance ({format_money(amount, currency)}) is more than one payout "
            f"may carry ({format_money(MAX_AMOUNT, currency)}): send an amount.",
        )
    if currency in THREE_DECIMAL_CURRENCIES and amount % 10:
        raise _cannot(
            "balance_not_payable",
            f"The available balance ({format_money(amount, currency)}) is not a multiple of 10 "
            f"minor units, which Stripe requires for {currency.upper()}: send an amount.",
        )
