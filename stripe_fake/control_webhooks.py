"""Control routes for webhook delivery (not Stripe's surface; under `/_fake/`): the endpoint,
secrets and delivery quirks (out of order, duplicates, paused), what was delivered, and every
event, resent on demand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_fake.control import ControlError, Handler, control_route, integer, json_body
from stripe_fake.core import Fake


async def configure_webhooks(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
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
        settings.max_attempts = integer(body["max_attempts"], "max_attempts")
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


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_fake/webhooks", configure_webhooks, ["POST"]),
        ("/_fake/webhooks/pause", pause_webhooks, ["POST"]),
        ("/_fake/webhooks/resume", resume_webhooks, ["POST"]),
        ("/_fake/webhooks/deliveries", deliveries, ["GET"]),
        ("/_fake/events", list_events, ["GET"]),
        ("/_fake/events/{id}/resend", resend_event, ["POST"]),
    ]
    return [control_route(path, handler, fake, methods) for path, handler, methods in table]
