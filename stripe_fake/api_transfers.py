"""`/v1/transfers` and their reversals: money moves from the platform's balance to a connected
account's (funded by the platform's available balance, or by one of its charges with
`source_transaction`), and back. Where a reversal's money comes from is `reversals`."""

from __future__ import annotations

import copy

from stripe_fake import reversals
from stripe_fake.accounts import metadata, parse_int
from stripe_fake.api_money import amount_of, currency_of, opt_str
from stripe_fake.core import Ctx, paginate
from stripe_fake.errors import (
    StripeFakeError,
    balance_insufficient,
    invalid_request,
    resource_missing,
)
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.resources import Resource
from stripe_fake.store import JSON, PLATFORM

TRANSFERS = Resource("transfer", "/v1/transfers", lambda state: state.transfers)
INSUFFICIENT_TRANSFER = (
    "You have insufficient available funds in your Stripe account. Try adding funds directly to "
    "your available balance by creating Charges using the 4000000000000077 test card. See: "
    "https://stripe.com/docs/testing#available-balance"
)


def _capability_active(account: JSON, name: str) -> bool:
    return bool(account["capabilities"].get(name) == "active")


def transfer_object(
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


def check_destination(ctx: Ctx, destination: str) -> JSON:
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
    destination = check_destination(ctx, str(ctx.params["destination"]))
    source = opt_str(ctx.params.get("source_transaction"))
    bucket = "available"
    if source is not None:
        bucket = _check_source(ctx, source, amount=amount, currency=currency)
    balance = ctx.state.balance_of(PLATFORM, currency)
    if source is None and balance["available"] < amount:
        raise balance_insufficient(INSUFFICIENT_TRANSFER)
    transfer = transfer_object(
        amount=amount,
        currency=currency,
        destination=destination["id"],
        transfer_group=opt_str(ctx.params.get("transfer_group")),
        description=opt_str(ctx.params.get("description")),
        source_transaction=opt_str(source),
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


def retrieve_transfer(ctx: Ctx) -> JSON:
    return TRANSFERS.retrieve(ctx, "transfer")


def update_transfer(ctx: Ctx) -> JSON:
    transfer = TRANSFERS.find(ctx, ctx.path["transfer"])
    before = copy.deepcopy(transfer)
    if "description" in ctx.params:
        transfer["description"] = opt_str(ctx.params["description"])
    if "metadata" in ctx.params:
        transfer["metadata"] = metadata(ctx.params, transfer["metadata"])
    previous = previous_attributes(before, transfer)
    if previous:
        ctx.fake.events.emit("transfer.updated", transfer, previous=previous)
    return copy.deepcopy(transfer)


def list_transfers(ctx: Ctx) -> JSON:
    return TRANSFERS.listed(ctx, equal=("destination", "transfer_group"), ranges=("created",))


def create_reversal(ctx: Ctx) -> JSON:
    transfer = TRANSFERS.find(ctx, ctx.path["transfer"])
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
    transfer = TRANSFERS.find(ctx, ctx.path["transfer"])
    items = [r for r in ctx.state.reversals.values() if r["transfer"] == transfer["id"]]
    return paginate(items, ctx.params, url=f"/v1/transfers/{transfer['id']}/reversals")
