"""The Worker's request pipeline: API key → route → body → handler → JSON response.

The composition root: each table module declares its own routes; this module only prefixes and
joins them, and turns every failure into the one error shape."""

from __future__ import annotations

import logging
from typing import Any

from connect_worker import (
    health,
    history,
    organizations,
    payments,
    payouts,
    reconciliation,
    retention,
    sessions,
    transfers,
    webhook_events,
)
from connect_worker.api_keys import match_key, presented_key
from connect_worker.d1 import D1Error
from connect_worker.deps import Deps
from connect_worker.errors import (
    ApiError,
    D1Unavailable,
    MethodNotAllowed,
    StripeIdConflict,
    Unauthorized,
)
from connect_worker.http import Request, Response, error_payload
from connect_worker.route import Route
from connect_worker.routing import Router
from connect_worker.validation import parse_json_body, validate_object

log = logging.getLogger("connect_worker")

PREFIX = "/api/internal"
ROUTES: dict[tuple[str, str], Route] = {
    (method, PREFIX + path): route
    for table in (
        health,
        sessions,
        organizations,
        webhook_events,
        transfers,
        payments,
        payouts,
        history,
        retention,
        reconciliation,
    )
    for (method, path), route in table.ROUTES.items()
}
ROUTER: Router[Route] = Router(ROUTES)


async def handle(request: Request, *, deps: Deps) -> Response:
    try:
        return await _dispatch(request, deps)
    except MethodNotAllowed as exc:
        return _error(exc, {"allow": ", ".join(exc.allowed)})
    except ApiError as exc:
        return _error(exc)
    except D1Error as exc:
        if exc.is_unique_violation:
            # Every UNIQUE index left to violate holds a Stripe id: a conflict, not an outage.
            log.warning("unique conflict on %s %s: %s", request.method, request.path, exc)
            return _error(StripeIdConflict())
        log.error("D1 failure on %s %s: %s", request.method, request.path, exc)
        return _error(D1Unavailable("The database is unavailable."))
    except Exception:
        log.exception("unexpected failure on %s %s", request.method, request.path)
        return _error(ApiError("Internal error."))


def _error(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return Response(exc.status, error_payload(exc.code, exc.message), headers or {})


async def _dispatch(request: Request, deps: Deps) -> Response:
    version = match_key(presented_key(request.headers), deps.config.api_keys)
    if version is None:
        # The presented key never reaches the log: it matched no version, so "unknown".
        log.warning(
            "internal API key rejected: key_version=unknown method=%s path=%s",
            request.method,
            request.path,
        )
        raise Unauthorized("A valid API key is required.")
    if log.isEnabledFor(logging.DEBUG):
        log.debug("internal API call: key_version=%s %s %s", version, request.method, request.path)
    match = ROUTER.match(request.method, request.path)
    route = match.handler
    body: Any = None
    if route.json_body:
        body = parse_json_body(request.body)
        if route.fields is not None:
            body = validate_object(body, route.fields)
    status, payload = await route.handler(deps, match.params, body)
    return Response(status, payload)
