"""The control API under `/_fake/` (not Stripe's surface): drive onboarding, fund balances,
settle payouts, configure webhooks and faults, and the click-through onboarding page."""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from stripe_fake import accounts, api_money, payout_schedule, payouts
from stripe_fake.core import Ctx, Fake
from stripe_fake.errors import StripeFakeError
from stripe_fake.events import previous_attributes
from stripe_fake.ids import now
from stripe_fake.store import JSON, PLATFORM

FAULT_MODES = ("error_500", "permission_denied", "rate_limit", "slow", "down")


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, "invalid_json", "Body must be a JSON object.") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "invalid_json", "Body must be a JSON object.")
    return data


def _account(fake: Fake, account_id: str) -> JSON:
    account = fake.state.accounts.get(account_id)
    if account is None:
        raise ControlError(404, "not_found", f"No such account: {account_id}")
    return account


def transition(fake: Fake, account_id: str, change: Callable[[JSON], None]) -> JSON:
    """Apply an onboarding change and emit `account.updated` plus one `capability.updated` for
    each capability whose status moved, as Stripe does."""
    account = _account(fake, account_id)
    before = copy.deepcopy(account)
    change(account)
    previous = previous_attributes(before, account)
    if previous:
        fake.events.emit("account.updated", account, account=account_id, previous=previous)
        for name, status in account["capabilities"].items():
            old = before["capabilities"].get(name)
            if old != status:
                fake.events.emit(
                    "capability.updated",
                    accounts.capability(account, name),
                    account=account_id,
                    previous={"status": old},
                )
    fake.store.save()
    return copy.deepcopy(account)


Handler = Callable[[Fake, Request], Awaitable[Response]]


def _route(path: str, handler: Handler, fake: Fake, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "GET":
                return await handler(fake, request)
            async with fake.lock:
                return await handler(fake, request)
        except ControlError as error:
            return _error(error.status, error.code, error.message)

    return Route(path, endpoint, methods=methods)


async def submit_details(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.submit_details))


async def complete_onboarding(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.complete_onboarding))


async def restrict(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.restrict))


async def request_info(fake: Fake, request: Request) -> Response:
    body = await _body(request)
    fields, deadline = body.get("fields"), body.get("deadline")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise ControlError(400, "invalid_fields", "fields must be a non-empty list of strings")
    if not isinstance(deadline, int) or isinstance(deadline, bool) or deadline < 0:
        raise ControlError(400, "invalid_deadline", "deadline must be Unix seconds")
    return JSONResponse(
        transition(
            fake,
            request.path_params["id"],
            lambda a: accounts.request_info(a, [str(f) for f in fields], deadline),
        )
    )


async def reject(fake: Fake, request: Request) -> Response:
    reason = str((await _body(request)).get("reason", "fraud"))
    if reason not in accounts.REJECT_REASONS:
        raise ControlError(
            400, "invalid_reason", f"reason must be one of {', '.join(accounts.REJECT_REASONS)}"
        )
    return JSONResponse(
        transition(fake, request.path_params["id"], lambda a: accounts.reject(a, reason))
    )


async def deauthorize(fake: Fake, request: Request) -> Response:
    account_id = request.path_params["id"]
    _account(fake, account_id)
    if account_id not in fake.state.deauthorized:
        fake.state.deauthorized.append(account_id)
        fake.events.emit(
            "account.application.deauthorized",
            {
                "id": "ca_local_fake_platform",
                "object": "application",
                "name": "Local fake platform",
            },
            account=account_id,
        )
        fake.store.save()
    return JSONResponse({"account": account_id, "deauthorized": True})


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, "invalid_amount", f"{name} must be an integer (minor units)")
    return value


async def fund(fake: Fake, request: Request) -> Response:
    body = await _body(request)
    owner = body.get("account") or PLATFORM
    if owner != PLATFORM:
        _account(fake, str(owner))
    amount = _int(body.get("amount"), "amount")
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
    body = await _body(request)
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
        failure_code = str((await _body(request)).get("failure_code", failure_code))
    payouts.settle(fake, payout, paid=paid, failure_code=failure_code)
    fake.store.save()
    return JSONResponse(copy.deepcopy(payout))


async def set_payout_schedule(fake: Fake, request: Request) -> Response:
    """The account holder changes the schedule in the Express Dashboard: validated as the API
    validates `settings[payouts][schedule]`, and announced with `account.updated`."""
    body = await _body(request)
    account_id = request.path_params["id"]
    _account(fake, account_id)

    def change(account: JSON) -> None:
        current = account["settings"]["payouts"]["schedule"]
        account["settings"]["payouts"]["schedule"] = payout_schedule.apply(current, body)

    try:
        return JSONResponse(transition(fake, account_id, change))
    except StripeFakeError as exc:
        raise ControlError(400, exc.code or "invalid_schedule", exc.message) from None


def _flag(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ControlError(400, "invalid_flag", f"{name} must be true or false")
    return value


async def run_scheduler(fake: Fake, request: Request) -> Response:
    body = await _body(request)
    account = body.get("account")
    if account is not None:
        _account(fake, str(account))
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
        succeeded = api_money.succeed_payment_intent(ctx, intent)
    except StripeFakeError as exc:
        raise ControlError(409, exc.code or "invalid_state", exc.message) from None
    fake.store.save()
    return JSONResponse(succeeded)


async def configure_webhooks(fake: Fake, request: Request) -> Response:
    body = await _body(request)
    settings = fake.dispatcher.settings
    for name in ("url", "secret", "connect_secret"):
        if name in body:
            setattr(settings, name, body[name] or (None if name != "secret" else settings.secret))
    for name in ("out_of_order", "duplicate", "paused"):
        if name in body:
            setattr(settings, name, bool(body[name]))
    if "retry_base_seconds" in body:
        settings.retry_base_seconds = float(body["retry_base_seconds"])
    if "max_attempts" in body:
        settings.max_attempts = _int(body["max_attempts"], "max_attempts")
    return JSONResponse(settings.public())


async def pause_webhooks(fake: Fake, request: Request) -> Response:
    fake.dispatcher.settings.paused = True
    return JSONResponse(fake.dispatcher.settings.public())


async def resume_webhooks(fake: Fake, request: Request) -> Response:
    fake.dispatcher.settings.paused = False
    return JSONResponse(fake.dispatcher.settings.public())


async def deliveries(fake: Fake, request: Request) -> Response:
    return JSONResponse({"deliveries": fake.dispatcher.deliveries_json()})


async def resend_event(fake: Fake, request: Request) -> Response:
    event = fake.state.events.get(request.path_params["id"])
    if event is None:
        raise ControlError(404, "not_found", f"No such event: {request.path_params['id']}")
    fake.dispatcher.resend(event)
    return JSONResponse({"resent": event["id"]})


async def list_events(fake: Fake, request: Request) -> Response:
    """Every event, platform and Connect alike, oldest first (for tests and debugging)."""
    return JSONResponse({"events": list(fake.state.events.values())})


async def set_faults(fake: Fake, request: Request) -> Response:
    body = await _body(request)
    mode = body.get("mode")
    if mode is not None and mode not in FAULT_MODES:
        raise ControlError(400, "invalid_mode", f"mode must be one of {', '.join(FAULT_MODES)}")
    count = body.get("count")
    fake.faults.mode = mode
    fake.faults.remaining = None if count is None or mode is None else _int(count, "count")
    fake.faults.delay_seconds = float(body.get("delay_seconds", 1.0))
    path = body.get("path")
    fake.faults.path = str(path) if path else None
    return JSONResponse(
        {"mode": fake.faults.mode, "count": fake.faults.remaining,
         "delay_seconds": fake.faults.delay_seconds, "path": fake.faults.path}
    )  # fmt: skip


async def reset(fake: Fake, request: Request) -> Response:
    await fake.reset()
    return JSONResponse({"reset": True})


async def health(fake: Fake, request: Request) -> Response:
    return JSONResponse({"ok": True})


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Stripe (local fake) — onboarding</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">
<h1>Local Stripe onboarding</h1>
<p>Account <code>{account}</code>{email}.</p>
<p>This page stands in for Stripe-hosted onboarding. It collects the
<span data-collect>{collect}</span> requirements.</p>
<form method="post" action="/_fake/onboarding/{account}/complete?link={link}">
<button type="submit">Complete onboarding</button></form>
</body></html>"""


async def onboarding_page(fake: Fake, request: Request) -> Response:
    account = _account(fake, request.path_params["id"])
    token = request.query_params.get("link", "")
    link = fake.state.account_links.get(token)
    if link is None or link["account"] != account["id"]:
        raise ControlError(404, "not_found", "Unknown or foreign account link.")
    if link["expires_at"] < now() or link["used"]:
        return RedirectResponse(link["refresh_url"], status_code=303)
    email = f" ({html.escape(account['email'])})" if account.get("email") else ""
    return HTMLResponse(
        _PAGE.format(
            account=html.escape(account["id"]),
            email=email,
            link=html.escape(token),
            collect=html.escape(link.get("collect", "currently_due").replace("_", " ")),
        )
    )


async def onboarding_complete(fake: Fake, request: Request) -> Response:
    account_id = request.path_params["id"]
    link = fake.state.account_links.get(request.query_params.get("link", ""))
    if link is None or link["account"] != account_id:
        raise ControlError(404, "not_found", "Unknown or foreign account link.")
    if link["expires_at"] < now() or link["used"]:
        return RedirectResponse(link["refresh_url"], status_code=303)
    link["used"] = True
    transition(fake, account_id, accounts.complete_onboarding)
    return RedirectResponse(link["return_url"], status_code=303)


async def express_dashboard(fake: Fake, request: Request) -> Response:
    account = _account(fake, request.path_params["id"])
    return HTMLResponse(
        f"<!doctype html><title>Express Dashboard (local fake)</title>"
        f"<h1>Express Dashboard</h1><p>Account <code>{html.escape(account['id'])}</code></p>"
    )


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_fake/health", health, ["GET"]),
        ("/_fake/accounts/{id}/submit-details", submit_details, ["POST"]),
        ("/_fake/accounts/{id}/complete-onboarding", complete_onboarding, ["POST"]),
        ("/_fake/accounts/{id}/restrict", restrict, ["POST"]),
        ("/_fake/accounts/{id}/request-info", request_info, ["POST"]),
        ("/_fake/accounts/{id}/reject", reject, ["POST"]),
        ("/_fake/accounts/{id}/deauthorize", deauthorize, ["POST"]),
        ("/_fake/balance/fund", fund, ["POST"]),
        ("/_fake/balance/settle", settle_balance, ["POST"]),
        ("/_fake/accounts/{id}/payout-schedule", set_payout_schedule, ["POST"]),
        ("/_fake/payouts/run-scheduler", run_scheduler, ["POST"]),
        ("/_fake/payouts/{id}/pay", pay_payout, ["POST"]),
        ("/_fake/payouts/{id}/fail", fail_payout, ["POST"]),
        ("/_fake/payment_intents/{id}/succeed", succeed_payment_intent, ["POST"]),
        ("/_fake/webhooks", configure_webhooks, ["POST"]),
        ("/_fake/webhooks/pause", pause_webhooks, ["POST"]),
        ("/_fake/webhooks/resume", resume_webhooks, ["POST"]),
        ("/_fake/webhooks/deliveries", deliveries, ["GET"]),
        ("/_fake/events", list_events, ["GET"]),
        ("/_fake/events/{id}/resend", resend_event, ["POST"]),
        ("/_fake/faults", set_faults, ["POST"]),
        ("/_fake/reset", reset, ["POST"]),
        ("/_fake/onboarding/{id}", onboarding_page, ["GET"]),
        ("/_fake/onboarding/{id}/complete", onboarding_complete, ["POST"]),
        ("/_fake/express/{id}", express_dashboard, ["GET"]),
    ]
    return [_route(path, handler, fake, methods) for path, handler, methods in table]
