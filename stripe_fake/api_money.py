"""What every money endpoint shares — its `currency` and `amount` parameters — and `/v1/balance`,
where their effects add up.

The platform's balance and each connected account's are kept per currency as available/pending,
so a transfer (`api_transfers`), a payout (`api_payouts`), a charge (`api_payments`) or a refund
(`api_refunds`) always adds up.
"""

from __future__ import annotations

import re

from stripe_fake.accounts import parse_int
from stripe_fake.core import Ctx
from stripe_fake.errors import invalid_request
from stripe_fake.store import JSON, PLATFORM

_CURRENCY = re.compile(r"^[a-z]{3}$")


def currency_of(ctx: Ctx) -> str:
    value = str(ctx.params.get("currency", "")).lower()
    if not _CURRENCY.match(value):
        raise invalid_request(f"Invalid currency: {value}.", param="currency")
    return value


def amount_of(ctx: Ctx, param: str = "amount", *, minimum: int = 1) -> int:
    if param not in ctx.params:
        raise invalid_request(
            f"Missing required param: {param}.", param=param, code="parameter_missing"
        )
    return parse_int(ctx.params[param], param, minimum=minimum)


def opt_str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def retrieve_balance(ctx: Ctx) -> JSON:
    owner = ctx.owner
    per_currency = ctx.state.balances.get(owner, {})
    if not per_currency:
        default = "usd"
        if ctx.stripe_account is not None:
            default = ctx.state.accounts[ctx.stripe_account]["default_currency"]
        per_currency = {default: {"available": 0, "pending": 0}}
    body: JSON = {
        "object": "balance",
        "available": [
            {"amount": b["available"], "currency": c, "source_types": {"card": b["available"]}}
            for c, b in sorted(per_currency.items())
        ],
        "livemode": False,
        "pending": [
            {"amount": b["pending"], "currency": c, "source_types": {"card": b["pending"]}}
            for c, b in sorted(per_currency.items())
        ],
    }
    if owner == PLATFORM:
        body["connect_reserved"] = [{"amount": 0, "currency": c} for c in sorted(per_currency)]
    return body
