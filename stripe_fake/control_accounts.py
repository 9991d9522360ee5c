"""Control routes for a connected account's onboarding (not Stripe's surface; under `/_fake/`):
the account holder submits details, Stripe restricts, asks for more, rejects or loses access, the
holder changes the payout schedule — each announced as Stripe announces it — and the
click-through pages that stand in for Stripe-hosted onboarding and the Express Dashboard."""

from __future__ import annotations

import copy
import html
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from stripe_fake import accounts, payout_schedule
from stripe_fake.control import ControlError, Handler, control_route, json_body, known_account
from stripe_fake.core import Fake
from stripe_fake.errors import StripeFakeError
from stripe_fake.events import previous_attributes
from stripe_fake.ids import now
from stripe_fake.store import JSON


def transition(fake: Fake, account_id: str, change: Callable[[JSON], None]) -> JSON:
    """Apply an onboarding change and emit `account.updated` plus one `capability.updated` for
    each capability whose status moved, as Stripe does."""
    account = known_account(fake, account_id)
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


async def submit_details(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.submit_details))


async def complete_onboarding(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.complete_onboarding))


async def restrict(fake: Fake, request: Request) -> Response:
    return JSONResponse(transition(fake, request.path_params["id"], accounts.restrict))


async def request_info(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
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
    reason = str((await json_body(request)).get("reason", "fraud"))
    if reason not in accounts.REJECT_REASONS:
        raise ControlError(
            400, "invalid_reason", f"reason must be one of {', '.join(accounts.REJECT_REASONS)}"
        )
    return JSONResponse(
        transition(fake, request.path_params["id"], lambda a: accounts.reject(a, reason))
    )


async def deauthorize(fake: Fake, request: Request) -> Response:
    account_id = request.path_params["id"]
    known_account(fake, account_id)
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


async def set_payout_schedule(fake: Fake, request: Request) -> Response:
    """The account holder changes the schedule in the Express Dashboard: validated as the API
    validates `settings[payouts][schedule]`, and announced with `account.updated`."""
    body = await json_body(request)
    account_id = request.path_params["id"]
    known_account(fake, account_id)

    def change(account: JSON) -> None:
        current = account["settings"]["payouts"]["schedule"]
        account["settings"]["payouts"]["schedule"] = payout_schedule.apply(current, body)

    try:
        return JSONResponse(transition(fake, account_id, change))
    except StripeFakeError as exc:
        raise ControlError(400, exc.code or "invalid_schedule", exc.message) from None


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
    account = known_account(fake, request.path_params["id"])
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
    account = known_account(fake, request.path_params["id"])
    return HTMLResponse(
        f"<!doctype html><title>Express Dashboard (local fake)</title>"
        f"<h1>Express Dashboard</h1><p>Account <code>{html.escape(account['id'])}</code></p>"
    )


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_fake/accounts/{id}/submit-details", submit_details, ["POST"]),
        ("/_fake/accounts/{id}/complete-onboarding", complete_onboarding, ["POST"]),
        ("/_fake/accounts/{id}/restrict", restrict, ["POST"]),
        ("/_fake/accounts/{id}/request-info", request_info, ["POST"]),
        ("/_fake/accounts/{id}/reject", reject, ["POST"]),
        ("/_fake/accounts/{id}/deauthorize", deauthorize, ["POST"]),
        ("/_fake/accounts/{id}/payout-schedule", set_payout_schedule, ["POST"]),
        ("/_fake/onboarding/{id}", onboarding_page, ["GET"]),
        ("/_fake/onboarding/{id}/complete", onboarding_complete, ["POST"]),
        ("/_fake/express/{id}", express_dashboard, ["GET"]),
    ]
    return [control_route(path, handler, fake, methods) for path, handler, methods in table]
