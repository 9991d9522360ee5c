"""The control API under `/_fake/` (not Stripe's surface): how every control route reads its JSON
body and answers a refusal (`{"error": {"code", "message"}}`), and the fake's own switches —
injected faults, reset, health. The routes that drive Stripe's side are grouped by what they act
on: `control_accounts` (onboarding), `control_balances` (money in and out), `control_money`
(money that comes back), `control_webhooks` (delivery)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_fake.core import Fake
from stripe_fake.store import JSON

FAULT_MODES = ("error_500", "permission_denied", "rate_limit", "slow", "down")


class ControlError(Exception):
    """A control route's refusal: answered `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def json_body(request: Request) -> dict[str, Any]:
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


def known_account(fake: Fake, account_id: str) -> JSON:
    account = fake.state.accounts.get(account_id)
    if account is None:
        raise ControlError(404, "not_found", f"No such account: {account_id}")
    return account


Handler = Callable[[Fake, Request], Awaitable[Response]]


def control_route(path: str, handler: Handler, fake: Fake, methods: list[str]) -> Route:
    """A Starlette route for `handler`: a change runs under the fake's lock, as API requests do."""

    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "GET":
                return await handler(fake, request)
            async with fake.lock:
                return await handler(fake, request)
        except ControlError as error:
            return _error(error.status, error.code, error.message)

    return Route(path, endpoint, methods=methods)


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, "invalid_amount", f"{name} must be an integer (minor units)")
    return value


async def set_faults(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
    mode = body.get("mode")
    if mode is not None and mode not in FAULT_MODES:
        raise ControlError(400, "invalid_mode", f"mode must be one of {', '.join(FAULT_MODES)}")
    count = body.get("count")
    fake.faults.mode = mode
    fake.faults.remaining = None if count is None or mode is None else integer(count, "count")
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


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_fake/health", health, ["GET"]),
        ("/_fake/faults", set_faults, ["POST"]),
        ("/_fake/reset", reset, ["POST"]),
    ]
    return [control_route(path, handler, fake, methods) for path, handler, methods in table]
