"""Balance, transfers (and reversals), payouts, payment intents with their charges, and refunds:
money moves between balances.

The platform's balance and each connected account's are kept per currency as available/pending,
so a transfer, a payout or a destination charge always adds up.
"""

from __future__ import annotations

import copy
import re

from stripe_fake import disputes, payout_schedule, payouts, reversals
from stripe_fake.accounts import metadata, parse_bool, parse_int
from stripe_fake.core import Ctx, in_range, paginate
from stripe_fake.errors import (
    StripeFakeError,
    balance_insufficient,
    invalid_request,
    resource_missing,
)
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON, PLATFORM

_CURRENCY = re.compile(r"^[a-z]{3}$")
INSUFFICIENT_TRANSFER = (
    "You have insufficient available funds in your Stripe account. Try adding funds directly to "
    "your available balance by creating Charges using the 4000000000000077 test card. See: "
    "https://stripe.com/docs/testing#available-balance"
)
INSUFFICIENT_PAYOUT = (
    "You have insufficient funds in your Stripe account for this transfer. Your card balance is "
    "too low. You can use the /v1/balance endpoint to view your Stripe balance (for more details, "
    "see stripe.com/docs/api#balance)."
)


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


def _capability_active(account: JSON, name: str) -> bool:
    return bool(account["capabilities"].get(name) == "active")


# --- balance ----------------------------------------------------------------------------------


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


# --- transfers --------------------------------------------------------------------------------


def _transfer_object(
    *,
    amount: int,
    currency: str,
    destination: str,
    transfer_group: str | None,
    description: str | None,
    source_transaction: str | None,
    meta: JSON,
) -> JSON:
    identifier = new_id("tr_")
    return {
        "id": identifier,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": new_id("txn_"),
        "created": now(),
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": new_id("py_"),
        "livemode": False,
        "metadata": meta,
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/transfers/{identifier}/reversals",
        },
        "reversed": False,
        "source_transaction": source_transaction,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def _check_destination(ctx: Ctx, destination: str) -> JSON:
    account = ctx.connected_account(destination, param="destination")
    if not _capability_active(account, "transfers"):
        raise StripeFakeError(
            400,
            type="invalid_request_error",
            code="insufficient_capabilities_for_transfer",
            param="destination",
            message=(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments"
            ),
        )
    return account


def create_transfer(ctx: Ctx) -> JSON:
    if ctx.stripe_account is not None:
        raise invalid_request(
            "Transfers can only be created by the platform, not on behalf of a connected account.",
        )
    amount = amount_of(ctx)
    currency = currency_of(ctx)
    destination = _check_destination(ctx, str(ctx.params["destination"]))
    source = _opt_str(ctx.params.get("source_transaction"))
    bucket = "available"
    if source is not None:
        bucket = _check_source(ctx, source, amount=amount, currency=currency)
    balance = ctx.state.balance_of(PLATFORM, currency)
    if source is None and balance["available"] < amount:
        raise balance_insufficient(INSUFFICIENT_TRANSFER)
    transfer = _transfer_object(
        amount=amount,
        currency=currency,
        destination=destination["id"],
        transfer_group=_opt_str(ctx.params.get("transfer_group")),
        description=_opt_str(ctx.params.get("description")),
        source_transaction=_opt_str(source),
        meta=metadata(ctx.params),
    )
    # A transfer funded by a charge takes the charge's funds where they are (pending until they
    # settle); the destination receives them in the same state.
    balance[bucket] -= amount
    ctx.state.balance_of(destination["id"], currency)[bucket] += amount
    ctx.state.transfers[transfer["id"]] = transfer
    ctx.fake.events.emit("transfer.created", transfer)
    return copy.deepcopy(transfer)


def transferred_from(ctx: Ctx, charge_id: str) -> int:
    """What transfers funded by this charge still hold (reversals give it back)."""
    return sum(
        t["amount"] - t["amount_reversed"]
        for t in ctx.state.transfers.values()
        if t["source_transaction"] == charge_id
    )


def _check_source(ctx: Ctx, charge_id: str, *, amount: int, currency: str) -> str:
    """Stripe's refusals for `source_transaction`: it must be a charge of the platform (a
    PaymentIntent id is not one), succeeded, in the transfer's currency, with enough of it left
    after refunds and earlier transfers. Returns the balance bucket its funds are in."""
    charge = ctx.state.charges.get(charge_id)
    if charge is None:
        raise resource_missing("charge", charge_id, param="source_transaction")
    if charge["status"] != "succeeded":
        raise invalid_request(
            f"The source_transaction {charge_id} has status '{charge['status']}'; only a "
            "succeeded charge can fund a transfer.",
            param="source_transaction",
        )
    if charge["currency"] != currency:
        raise invalid_request(
            f"The currency of source_transaction {charge_id} ({charge['currency']}) must match "
            f"the currency of the transfer ({currency}).",
            param="currency",
        )
    left = charge["amount"] - charge["amount_refunded"] - transferred_from(ctx, charge_id)
    if amount > left:
        raise invalid_request(
            f"The transfer amount ({amount}) is greater than the amount available from "
            f"source_transaction {charge_id} ({max(left, 0)}).",
            param="amount",
        )
    return ctx.state.charge_bucket.get(charge_id, "available")


def _opt_str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _platform_transfer(ctx: Ctx) -> JSON:
    transfer_id = ctx.path["transfer"]
    transfer = ctx.state.transfers.get(transfer_id)
    if transfer is None or ctx.stripe_account is not None:
        raise resource_missing("transfer", transfer_id)
    return transfer


def retrieve_transfer(ctx: Ctx) -> JSON:
    return copy.deepcopy(_platform_transfer(ctx))


def update_transfer(ctx: Ctx) -> JSON:
    transfer = _platform_transfer(ctx)
    before = copy.deepcopy(transfer)
    if "description" in ctx.params:
        transfer["description"] = _opt_str(ctx.params["description"])
    if "metadata" in ctx.params:
        transfer["metadata"] = metadata(ctx.params, transfer["metadata"])
    previous = previous_attributes(before, transfer)
    if previous:
        ctx.fake.events.emit("transfer.updated", transfer, previous=previous)
    return copy.deepcopy(transfer)


def list_transfers(ctx: Ctx) -> JSON:
    if ctx.stripe_account is not None:
        return paginate([], ctx.params, url="/v1/transfers")
    items = list(ctx.state.transfers.values())
    for key in ("destination", "transfer_group"):
        if key in ctx.params:
            items = [t for t in items if t[key] == ctx.params[key]]
    items = in_range(items, ctx.params, "created")
    return paginate(items, ctx.params, url="/v1/transfers")


def create_reversal(ctx: Ctx) -> JSON:
    transfer = _platform_transfer(ctx)
    remaining = transfer["amount"] - transfer["amount_reversed"]
    amount = remaining
    if "amount" in ctx.params:
        amount = parse_int(ctx.params["amount"], "amount", minimum=1)
    if remaining <= 0:
        raise invalid_request(f"Transfer {transfer['id']} has already been reversed.")
    if amount > remaining:
        raise invalid_request(
            f"Amount ({amount}) is greater than the unreversed amount on the transfer "
            f"({remaining}).",
            param="amount",
        )
    reversal: JSON = {
        "id": new_id("trr_"),
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "created": now(),
        "currency": transfer["currency"],
        "destination_payment_refund": new_id("pyr_"),
        "metadata": metadata(ctx.params),
        "source_refund": None,
        "transfer": transfer["id"],
    }
    before = copy.deepcopy(transfer)
    reversals.take_back(ctx, transfer, amount)
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
    transfer["reversals"]["data"].insert(0, reversal)
    ctx.state.reversals[reversal["id"]] = reversal
    ctx.fake.events.emit(
        "transfer.reversed", transfer, previous=previous_attributes(before, transfer)
    )
    return copy.deepcopy(reversal)


def list_reversals(ctx: Ctx) -> JSON:
    transfer = _platform_transfer(ctx)
    items = [r for r in ctx.state.reversals.values() if r["transfer"] == transfer["id"]]
    return paginate(items, ctx.params, url=f"/v1/transfers/{transfer['id']}/reversals")


# --- payouts ----------------------------------------------------------------------------------


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
        description=_opt_str(ctx.params.get("description")),
        meta=metadata(ctx.params),
        method=method,
        source_type=str(ctx.params.get("source_type", "card")),
        statement_descriptor=_opt_str(ctx.params.get("statement_descriptor")),
    )
    balance["available"] -= amount
    payouts.record(ctx.fake, payout, owner)
    return copy.deepcopy(payout)


def _owned_payout(ctx: Ctx) -> JSON:
    payout_id = ctx.path["payout"]
    payout = ctx.state.payouts.get(payout_id)
    if payout is None or ctx.state.payout_owner.get(payout_id) != ctx.owner:
        raise resource_missing("payout", payout_id)
    return payout


def retrieve_payout(ctx: Ctx) -> JSON:
    return copy.deepcopy(_owned_payout(ctx))


def list_payouts(ctx: Ctx) -> JSON:
    items = [
        p for pid, p in ctx.state.payouts.items() if ctx.state.payout_owner.get(pid) == ctx.owner
    ]
    if "status" in ctx.params:
        items = [p for p in items if p["status"] == ctx.params["status"]]
    items = in_range(items, ctx.params, "created")
    items = in_range(items, ctx.params, "arrival_date")
    return paginate(items, ctx.params, url="/v1/payouts")


# --- payment intents --------------------------------------------------------------------------

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
        destination = _check_destination(ctx, str(transfer_data["destination"]))["id"]
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
    payment_method = _opt_str(ctx.params.get("payment_method"))
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
        "customer": _opt_str(ctx.params.get("customer")),
        "description": _opt_str(ctx.params.get("description")),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata(ctx.params),
        "on_behalf_of": _opt_str(ctx.params.get("on_behalf_of")),
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "transfer_data": {"destination": destination} if destination else None,
        "transfer_group": _opt_str(ctx.params.get("transfer_group")),
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
        transfer = _transfer_object(
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


def _owned_intent(ctx: Ctx) -> JSON:
    intent_id = ctx.path["intent"]
    intent = ctx.state.payment_intents.get(intent_id)
    if intent is None or ctx.state.payment_intent_owner.get(intent_id) != ctx.owner:
        raise resource_missing("payment_intent", intent_id)
    return intent


def retrieve_payment_intent(ctx: Ctx) -> JSON:
    return copy.deepcopy(_owned_intent(ctx))


def confirm_payment_intent(ctx: Ctx) -> JSON:
    intent = _owned_intent(ctx)
    if intent["status"] == "succeeded":
        raise invalid_request(
            "This PaymentIntent's payment_method could not be updated because it has a status of "
            "succeeded.",
            code="payment_intent_unexpected_state",
        )
    if "payment_method" in ctx.params:
        intent["payment_method"] = _opt_str(ctx.params["payment_method"])
    _confirm(ctx, intent)
    return copy.deepcopy(intent)


def list_payment_intents(ctx: Ctx) -> JSON:
    items = [
        i
        for iid, i in ctx.state.payment_intents.items()
        if ctx.state.payment_intent_owner.get(iid) == ctx.owner
    ]
    return paginate(items, ctx.params, url="/v1/payment_intents")


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


# --- charges and refunds ------------------------------------------------------------------------


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


def _owned_charge(ctx: Ctx, charge_id: str, *, param: str = "id") -> JSON:
    charge = ctx.state.charges.get(charge_id)
    intent_id = charge["payment_intent"] if charge is not None else None
    if charge is None or ctx.state.payment_intent_owner.get(intent_id or "") != ctx.owner:
        raise resource_missing("charge", charge_id, param=param)
    return charge


def retrieve_charge(ctx: Ctx) -> JSON:
    return copy.deepcopy(_owned_charge(ctx, ctx.path["charge"]))


def create_refund(ctx: Ctx) -> JSON:
    if "charge" in ctx.params:
        charge = _owned_charge(ctx, str(ctx.params["charge"]), param="charge")
    elif "payment_intent" in ctx.params:
        intent_id = str(ctx.params["payment_intent"])
        intent = ctx.state.payment_intents.get(intent_id)
        if intent is None or ctx.state.payment_intent_owner.get(intent_id) != ctx.owner:
            raise resource_missing("payment_intent", intent_id, param="payment_intent")
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
        "reason": _opt_str(ctx.params.get("reason")),
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
    refund_id = ctx.path["refund"]
    refund = ctx.state.refunds.get(refund_id)
    if refund is None or ctx.stripe_account is not None:
        raise resource_missing("refund", refund_id)
    return copy.deepcopy(refund)
