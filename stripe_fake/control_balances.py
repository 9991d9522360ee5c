"""Control routes for money into and out of balances (not Stripe's surface; under `/_fake/`):
balances funded and settled, a customer who pays, and payouts run by the schedule, paid or
failed by the bank."""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_fake import api_payments, payouts
from stripe_fake.control import (
    ControlError,
    Handler,
    control_route,
    integer,
    json_body,
    known_account,
)
from stripe_fake.core import Ctx, Fake
from stripe_fake.errors import StripeFakeError
from stripe_fake.store import PLATFORM


async def fund(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
    owner = body.get("account") or PLATFORM
    if owner != PLATFORM:
        known_account(fake, str(owner))
    amount = integer(body.get("amount"), "amount")
    currency = str(body.get("currency", "usd")).lower()
    bucket = "pending" if body.get("pending") else "available"
    balance = fake.state.balance_of(str(owner), currency)
    balance[bucket] += amount
    fake.events.emit(
        "balance.available",
        {"object": "balance", "available": [{"amount": balance["available"], "currency": currency}],
         "pending": [{"amount": balance["pending"], "currency": currency}], "livemode": False},
        account=None if owner == PLATFORM else str(owner),
    )  # fmt: skip
    fake.store.save()
    return JSONResponse({"account": body.get("account"), "currency": currency, **balance})


async def settle_balance(fake: Fake, request: Request) -> Response:
    """Moves pending funds to available, as Stripe does once a charge's funds settle."""
    body = await json_body(request)
    owner = str(body.get("account") or PLATFORM)
    for balance in fake.state.balances.get(owner, {}).values():
        balance["available"] += balance["pending"]
        balance["pending"] = 0
    fake.store.save()
    return JSONResponse(
        {"account": body.get("account"), "balances": fake.state.balances.get(owner, {})}
    )


async def _settle_payout(fake: Fake, request: Request, *, paid: bool) -> Response:
    payout_id = request.path_params["id"]
    payout = fake.state.payouts.get(payout_id)
    if payout is None:
        raise ControlError(404, "not_found", f"No such payout: {payout_id}")
    if payout["status"] not in ("pending", "in_transit"):
        raise ControlError(409, "payout_settled", f"Payout is already {payout['status']}")
    failure_code = "account_closed"
    if not paid:
        failure_code = str((await json_body(request)).get("failure_code", failure_code))
    payouts.settle(fake, payout, paid=paid, failure_code=failure_code)
    fake.store.save()
    return JSONResponse(copy.deepcopy(payout))


def _flag(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ControlError(400, "invalid_flag", f"{name} must be true or false")
    return value


async def run_scheduler(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
    account = body.get("account")
    if account is not None:
        known_account(fake, str(account))
    run = payouts.run_scheduler(
        fake,
        account=None if account is None else str(account),
        force=_flag(body, "force", default=False),
        pay=_flag(body, "pay", default=True),
    )
    fake.store.save()
    return JSONResponse({"payouts": run.payouts, "skipped": run.skipped})


async def pay_payout(fake: Fake, request: Request) -> Response:
    return await _settle_payout(fake, request, paid=True)


async def fail_payout(fake: Fake, request: Request) -> Response:
    return await _settle_payout(fake, request, paid=False)


async def succeed_payment_intent(fake: Fake, request: Request) -> Response:
    """The customer paid: the PaymentIntent succeeds with a charge whose funds are available."""
    intent_id = request.path_params["id"]
    intent = fake.state.payment_intents.get(intent_id)
    if intent is None:
        raise ControlError(404, "not_found", f"No such payment_intent: {intent_id}")
    owner = fake.state.payment_intent_owner[intent_id]
    ctx = Ctx(
        fake=fake,
        api_key="",
        stripe_account=None if owner == PLATFORM else owner,
        params={},
        path={"intent": intent_id},
        base_url=str(request.base_url).rstrip("/"),
    )
    try:
        succeeded = api_payments.succeed_payment_intent(ctx, intent)
    except StripeFakeError as exc:
        raise ControlError(409, exc.code or "invalid_state", exc.message) from None
    fake.store.save()
    return JSONResponse(succeeded)


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler]] = [
        ("/_fake/balance/fund", fund),
        ("/_fake/balance/settle", settle_balance),
        ("/_fake/payouts/run-scheduler", run_scheduler),
        ("/_fake/payouts/{id}/pay", pay_payout),
        ("/_fake/payouts/{id}/fail", fail_payout),
        ("/_fake/payment_intents/{id}/succeed", succeed_payment_intent),
    ]
    return [control_route(path, handler, fake, ["POST"]) for path, handler in table]
