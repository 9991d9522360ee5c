"""The platform fee, in integer minor units: the one place money is divided.

The percentage arrives from D1 as a REAL; it goes through `Decimal(str(x))` so that 2.9 stays 2.9
and not 2.899999…, and the result rounds half-up (the rule the design fixes) to a whole minor unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from backend.core.models import MAX_AMOUNT

# Stripe's zero-decimal currencies: the amount is already in whole units (¥100 is 100).
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# Stripe's three-decimal currencies: amounts must end in 0 (rounded to the nearest ten).
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

_CURRENCY = re.compile(r"[a-z]{3}")


class FeeError(ValueError):
    """The amount or currency cannot be charged a fee (the message is safe to show)."""


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str


def minor_unit_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def normalise_currency(currency: str) -> str:
    code = currency.strip().lower()
    if not _CURRENCY.fullmatch(code):
        raise FeeError("currency must be a three-letter ISO code")
    return code


def validate_amount(amount: int, currency: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise FeeError("amount must be an integer in the currency's minor unit")
    if not 0 < amount <= MAX_AMOUNT:
        raise FeeError(f"amount must be between 1 and {MAX_AMOUNT}")
    if currency in THREE_DECIMAL_CURRENCIES and amount % 10:
        raise FeeError("amounts in three-decimal currencies must be a multiple of 10")


def _to_decimal(percent: Decimal | float | int | str) -> Decimal:
    value = percent if isinstance(percent, Decimal) else Decimal(str(percent))
    if not value.is_finite() or value < 0 or value > 100:
        raise FeeError("the platform fee percentage must lie between 0 and 100")
    return value


def compute_fee(
    gross_amount: int,
    *,
    percent: Decimal | float | int | str,
    fixed_amount: int = 0,
    currency: str,
) -> FeeBreakdown:
    """fee = half_up(gross × percent / 100 + fixed), clamped to 0..gross; net = gross − fee.

    In three-decimal currencies the fee rounds half-up to a multiple of 10 *after* the fixed part
    is added: the fixed part is a platform-wide count of minor units that need not end in 0, and
    a fee that does not leaves a net amount Stripe refuses to transfer.

    The fee floor: a fee that is owed at all (percent or fixed part above 0) is at least one step
    of the currency, so splitting a payment into crumbs never makes its fee round to 0 (25
    transfers of 4 öre out of 10.00 SEK at 10% used to cost nothing). A floor rather than a
    per-currency minimum transfer derived from Stripe's minimum charge amounts: Stripe publishes
    those for its settlement currencies only (a charge in any other currency must be worth about
    $0.50 at the day's rate, which no constant can say), while the floor needs no table and no
    rate and holds in every currency, zero- and three-decimal ones included. `MIN_TRANSFER_AMOUNTS`
    stays, for the currencies it lists, as the smallest transfer the platform wants to make.
    """
    code = normalise_currency(currency)
    validate_amount(gross_amount, code)
    if isinstance(fixed_amount, bool) or not isinstance(fixed_amount, int) or fixed_amount < 0:
        raise FeeError("the fixed platform fee must be a non-negative integer")
    step = Decimal(10) if code in THREE_DECIMAL_CURRENCIES else Decimal(1)
    unrounded = Decimal(gross_amount) * _to_decimal(percent) / 100 + fixed_amount
    rounded = (unrounded / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    fee = min(max(int(rounded), 0), gross_amount)
    if fee == 0 and (unrounded > 0):
        # No free crumbs: while the organization pays a fee at all, no transfer's fee rounds to
        # nothing — one step of the currency (1 minor unit; 10 in three-decimal currencies).
        fee = min(int(step), gross_amount)
    return FeeBreakdown(
        gross_amount=gross_amount, fee_amount=fee, net_amount=gross_amount - fee, currency=code
    )
