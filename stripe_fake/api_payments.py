"""`/v1/payment_intents` and the charges they create: a customer pays the platform (its own
charge, or a destination charge that transfers amount − fee onward) or, with `Stripe-Account`, a
connected account directly (the platform keeps its application fee)."""

from __future__ import annotations

import copy

from stripe_fake.accounts import metadata, parse_bool, parse_int
from stripe_fake.api_money import amount_of, currency_of, opt_str
from stripe_fake.api_transfers import check_destination, transfer_object
from stripe_fake.core import Ctx
from stripe_fake.errors import StripeFakeError, invalid_request, resource_missing
from stripe_fake.ids import new_id, now
from stripe_fake.resources import Resource
from stripe_fake.store import JSON, PLATFORM

PAYMENT_INTENTS = Resource(
    "payment_intent",
    "/v1/payment_intents",
    lambda state: state.payment_intents,
    owner=lambda ctx, intent: ctx.state.payment_intent_owner.get(intent["id"]),
)
# A charge is its PaymentIntent's owner's (charges are only created by confirming one).
CHARGES = Resource(
    "charge",
    "/v1/charges",
    lambda state: state.charges,
    owner=lambda ctx, charge: ctx.state.payment_intent_owner.get(charge["payment_intent"] or ""),
)

SUCCEEDING_METHODS = {"pm_card_visa", "pm_card_mastercard", "pm_card_bypassPending"}
DECLINING_METHODS = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}


def create_payment_intent(ctx: Ctx) -> JSON:
    amount = amount_of(ctx, minimum=1)
    currency = currency_of(ctx)
    fee = None
    if "application_fee_amount" in ctx.params:
        fee = parse_int(ctx.params["application_fee_amount"], "application_fee_amount", minimum=0)
        if fee > amount:
            raise invalid_request(
                "The application fee amount cannot be greater than the amount.",
                param="application_fee_amount",
            )
    transfer_data = ctx.params.get("transfer_data")
    destination = None
    if isinstance(transfer_data, dict):
        destination = check_destination(ctx, str(transfer_data["destination"]))["id"]
        if ctx.stripe_account is not None:
            raise invalid_request(
                "You cannot use `transfer_data` on a direct charge (Stripe-Account header).",
                param="transfer_data",
            )
    if fee is not None and destination is None and ctx.stripe_account is None:
        raise invalid_request(
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination payment "
            "(using `transfer_data[destination]`).",
            param="application_fee_amount",
        )
    payment_method = opt_str(ctx.params.get("payment_method"))
    confirm = parse_bool(ctx.params.get("confirm", "false"), "confirm")
    intent_id = new_id("pi_")
    intent: JSON = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application_fee_amount": fee,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('', 24)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": opt_str(ctx.params.get("customer")),
        "description": opt_str(ctx.params.get("description")),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata(ctx.params),
        "on_behalf_of": opt_str(ctx.params.get("on_behalf_of")),
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "transfer_data": {"destination": destination} if destination else None,
        "transfer_group": opt_str(ctx.params.get("transfer_group")),
    }
    ctx.state.payment_intents[intent_id] = intent
    ctx.state.payment_intent_owner[intent_id] = ctx.owner
    account = ctx.stripe_account
    ctx.fake.events.emit("payment_intent.created", intent, account=account)
    if confirm:
        _confirm(ctx, intent)
    return copy.deepcopy(intent)


def _confirm(ctx: Ctx, intent: JSON) -> None:
    method = intent["payment_method"]
    if method is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    if method in DECLINING_METHODS:
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": DECLINING_METHODS[method],
            "message": "Your card was declined.",
        }
        ctx.fake.events.emit("payment_intent.payment_failed", intent, account=ctx.stripe_account)
        raise StripeFakeError(
            402,
            type="card_error",
            code="card_declined",
            message="Your card was declined.",
            extra={"decline_code": DECLINING_METHODS[method]},
        )
    if method not in SUCCEEDING_METHODS and not str(method).startswith("pm_"):
        raise resource_missing("payment_method", str(method), param="payment_method")
    bucket = "available" if method == "pm_card_bypassPending" else "pending"
    amount = intent["amount"]
    currency = intent["currency"]
    fee = intent["application_fee_amount"] or 0
    charge = _charge_object(intent)
    charge_id = charge["id"]
    ctx.state.charges[charge_id] = charge
    ctx.state.charge_bucket[charge_id] = bucket
    intent["status"] = "succeeded"
    intent["amount_received"] = amount
    intent["latest_charge"] = charge_id
    destination = (intent["transfer_data"] or {}).get("destination")
    if ctx.stripe_account is not None:
        # Direct charge: the connected account keeps the payment, the platform its fee.
        ctx.state.balance_of(ctx.stripe_account, currency)[bucket] += amount - fee
        ctx.state.balance_of(PLATFORM, currency)[bucket] += fee
    elif destination is not None:
        # Destination charge: the platform is paid, then transfers amount − fee onward.
        ctx.state.balance_of(PLATFORM, currency)[bucket] += fee
        ctx.state.balance_of(destination, currency)[bucket] += amount - fee
        group = intent["transfer_group"] or f"group_{intent['id']}"
        intent["transfer_group"] = group
        transfer = transfer_object(
            amount=amount - fee,
            currency=currency,
            destination=destination,
            transfer_group=group,
            description=None,
            source_transaction=charge_id,
            meta={},
        )
        ctx.state.transfers[transfer["id"]] = transfer
        ctx.fake.events.emit("transfer.created", transfer)
    else:
        ctx.state.balance_of(PLATFORM, currency)[bucket] += amount
    ctx.fake.events.emit("charge.succeeded", charge, account=ctx.stripe_account)
    ctx.fake.events.emit("payment_intent.succeeded", intent, account=ctx.stripe_account)


def retrieve_payment_intent(ctx: Ctx) -> JSON:
    return PAYMENT_INTENTS.retrieve(ctx, "intent")


def confirm_payment_intent(ctx: Ctx) -> JSON:
    intent = PAYMENT_INTENTS.find(ctx, ctx.path["intent"])
    if intent["status"] == "succeeded":
        raise invalid_request(
            "This PaymentIntent's payment_method could not be updated because it has a status of "
            "succeeded.",
            code="payment_intent_unexpected_state",
        )
    if "payment_method" in ctx.params:
        intent["payment_method"] = opt_str(ctx.params["payment_method"])
    _confirm(ctx, intent)
    return copy.deepcopy(intent)


def list_payment_intents(ctx: Ctx) -> JSON:
    return PAYMENT_INTENTS.listed(ctx)


def succeed_payment_intent(ctx: Ctx, intent: JSON) -> JSON:
    """The control API's "the customer paid" (test card 4000000000000077: funds available at
    once), through the same confirmation as the API."""
    if intent["status"] == "succeeded":
        raise invalid_request(
            "This PaymentIntent has already succeeded.", code="payment_intent_unexpected_state"
        )
    intent["payment_method"] = "pm_card_bypassPending"
    _confirm(ctx, intent)
    return copy.deepcopy(intent)


def _charge_object(intent: JSON) -> JSON:
    created = now()
    return {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "application_fee_amount": intent["application_fee_amount"],
        "balance_transaction": new_id("txn_"),
        "captured": True,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "livemode": False,
        "metadata": copy.deepcopy(intent["metadata"]),
        "on_behalf_of": intent["on_behalf_of"],
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "refunded": False,
        "status": "succeeded",
        "transfer_data": copy.deepcopy(intent["transfer_data"]),
        "transfer_group": intent["transfer_group"],
    }


def retrieve_charge(ctx: Ctx) -> JSON:
    return CHARGES.retrieve(ctx, "charge")
