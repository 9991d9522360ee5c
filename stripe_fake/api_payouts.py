"""`/v1/payouts`: money leaves the caller's (or the `Stripe-Account`'s) available balance for its
bank. How a payout is built, settled and scheduled is `payouts` and `payout_schedule`."""

from __future__ import annotations

import copy

from stripe_fake import payout_schedule, payouts
from stripe_fake.accounts import metadata
from stripe_fake.api_money import amount_of, currency_of, opt_str
from stripe_fake.core import Ctx
from stripe_fake.errors import StripeFakeError, balance_insufficient
from stripe_fake.resources import Resource
from stripe_fake.store import JSON

PAYOUTS = Resource(
    "payout",
    "/v1/payouts",
    lambda state: state.payouts,
    owner=lambda ctx, payout: ctx.state.payout_owner.get(payout["id"]),
)
INSUFFICIENT_PAYOUT = (
    "You have insufficient funds in your Stripe account for this transfer. Your card balance is "
    "too low. You can use the /v1/balance endpoint to view your Stripe balance (for more details, "
    "see stripe.com/docs/api#balance)."
)


def create_payout(ctx: Ctx) -> JSON:
    amount = amount_of(ctx)
    currency = currency_of(ctx)
    owner = ctx.owner
    method = str(ctx.params.get("method", "standard"))
    if ctx.stripe_account is not None:
        account = ctx.state.accounts[ctx.stripe_account]
        if not account["payouts_enabled"]:
            raise StripeFakeError(
                400,
                type="invalid_request_error",
                code="payouts_not_allowed",
                message="Payouts are not enabled on this account. Provide the required "
                "information to enable payouts.",
            )
        schedule = account["settings"]["payouts"]["schedule"]
        if method == "standard" and payout_schedule.is_automatic(schedule):
            raise payout_schedule.refuse_manual_payout()
    balance = ctx.state.balance_of(owner, currency)
    if balance["available"] < amount:
        raise balance_insufficient(INSUFFICIENT_PAYOUT)
    payout = payouts.new_payout(
        amount=amount,
        currency=currency,
        automatic=False,
        description=opt_str(ctx.params.get("description")),
        meta=metadata(ctx.params),
        method=method,
        source_type=str(ctx.params.get("source_type", "card")),
        statement_descriptor=opt_str(ctx.params.get("statement_descriptor")),
    )
    balance["available"] -= amount
    payouts.record(ctx.fake, payout, owner)
    return copy.deepcopy(payout)


def retrieve_payout(ctx: Ctx) -> JSON:
    return PAYOUTS.retrieve(ctx, "payout")


def list_payouts(ctx: Ctx) -> JSON:
    return PAYOUTS.listed(ctx, equal=("status",), ranges=("created", "arrival_date"))
