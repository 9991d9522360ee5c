"""`/v1/refunds`: part or all of a charge given back to the customer. What happens to a refund
afterwards (it succeeds late, fails or is canceled) is `refunds`."""

from __future__ import annotations

import copy

from stripe_fake import disputes
from stripe_fake.accounts import metadata, parse_int
from stripe_fake.api_money import opt_str
from stripe_fake.api_payments import CHARGES, PAYMENT_INTENTS
from stripe_fake.core import Ctx
from stripe_fake.errors import invalid_request
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.resources import Resource
from stripe_fake.store import JSON, PLATFORM

REFUNDS = Resource("refund", "/v1/refunds", lambda state: state.refunds)


def create_refund(ctx: Ctx) -> JSON:
    if "charge" in ctx.params:
        charge = CHARGES.find(ctx, str(ctx.params["charge"]), param="charge")
    elif "payment_intent" in ctx.params:
        intent_id = str(ctx.params["payment_intent"])
        intent = PAYMENT_INTENTS.find(ctx, intent_id, param="payment_intent")
        if intent["latest_charge"] is None:
            raise invalid_request(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge = ctx.state.charges[intent["latest_charge"]]
    else:
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if disputes.open_dispute_of(ctx.fake, charge["id"]) is not None:
        raise invalid_request(
            f"Charge {charge['id']} has been charged back; it cannot be refunded.",
            code="charge_disputed",
        )
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = left
    if "amount" in ctx.params:
        amount = parse_int(ctx.params["amount"], "amount", minimum=1)
    if amount > left:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
            param="amount",
            code="amount_too_large",
        )
    refund: JSON = {
        "id": new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "metadata": metadata(ctx.params),
        "payment_intent": charge["payment_intent"],
        "reason": opt_str(ctx.params.get("reason")),
        "status": "pending" if charge["id"] in ctx.state.pending_refund_charges else "succeeded",
    }
    before = copy.deepcopy(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    bucket = ctx.state.charge_bucket.get(charge["id"], "available")
    ctx.state.balance_of(PLATFORM, charge["currency"])[bucket] -= amount
    ctx.state.refunds[refund["id"]] = refund
    ctx.fake.events.emit("refund.created", refund)
    ctx.fake.events.emit("charge.refunded", charge, previous=previous_attributes(before, charge))
    return copy.deepcopy(refund)


def retrieve_refund(ctx: Ctx) -> JSON:
    return REFUNDS.retrieve(ctx, "refund")


def list_refunds(ctx: Ctx) -> JSON:
    """The platform's refunds, filtered by `charge` / `payment_intent`."""
    return REFUNDS.listed(ctx, equal=("charge", "payment_intent"), ranges=("created",))
