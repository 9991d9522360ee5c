"""The Worker's request pipeline: API key → route → body → handler → JSON response."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connect_worker import handlers
from connect_worker.api_keys import match_key, presented_key
from connect_worker.d1 import D1Error
from connect_worker.errors import ApiError, MethodNotAllowed, StripeIdConflict, Unauthorized
from connect_worker.handlers import Deps
from connect_worker.http import Request, Response, error_payload
from connect_worker.routing import Router
from connect_worker.validation import Field, parse_json_body, validate_object

log = logging.getLogger("connect_worker")

Handler = Callable[[Deps, Mapping[str, str], Any], Awaitable[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    # For POST routes: the body's fields; None with json_body=True hands the handler raw JSON.
    fields: Mapping[str, Field] | None = None
    json_body: bool = False


def _post(handler: Handler, fields: Mapping[str, Field] | None = None) -> Route:
    return Route(handler, fields, json_body=True)


PREFIX = "/api/internal"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", f"{PREFIX}/health"): Route(handlers.health),
    ("POST", f"{PREFIX}/verify-user-context"): _post(
        handlers.verify_user_context, handlers.VERIFY_FIELDS
    ),
    ("GET", f"{PREFIX}/organization/{{id}}"): Route(handlers.get_organization),
    ("GET", f"{PREFIX}/organization-by-account/{{stripe_account_id}}"): Route(
        handlers.get_organization_by_account
    ),
    ("POST", f"{PREFIX}/update-organization"): _post(
        handlers.update_organization, handlers.UPDATE_FIELDS
    ),
    ("POST", f"{PREFIX}/create-connect-account"): _post(
        handlers.create_connect_account, handlers.CREATE_ACCOUNT_FIELDS
    ),
    ("POST", f"{PREFIX}/set-platform-fee"): _post(handlers.set_platform_fee),
    ("POST", f"{PREFIX}/webhook-events/claim"): _post(
        handlers.claim_webhook_event, handlers.CLAIM_FIELDS
    ),
    ("POST", f"{PREFIX}/webhook-events/complete"): _post(
        handlers.complete_webhook_event, handlers.COMPLETE_EVENT_FIELDS
    ),
    ("POST", f"{PREFIX}/transfers/reserve"): _post(
        handlers.reserve_transfer, handlers.RESERVE_FIELDS
    ),
    ("POST", f"{PREFIX}/transfers/complete"): _post(
        handlers.complete_transfer, handlers.COMPLETE_TRANSFER_FIELDS
    ),
    ("GET", f"{PREFIX}/transfers/{{organization_id}}/{{idempotency_key}}"): Route(
        handlers.get_transfer
    ),
    ("POST", f"{PREFIX}/transfers/sync"): _post(
        handlers.sync_transfer, handlers.SYNC_TRANSFER_FIELDS
    ),
    ("POST", f"{PREFIX}/payments/record"): _post(handlers.record_payment),
    ("GET", f"{PREFIX}/payments/{{organization_id}}/untransferred"): Route(
        handlers.list_untransferred_payments
    ),
    ("POST", f"{PREFIX}/set-auto-transfer"): _post(
        handlers.set_auto_transfer, handlers.AUTO_TRANSFER_FIELDS
    ),
    ("POST", f"{PREFIX}/payouts/reserve"): _post(
        handlers.reserve_payout, handlers.PAYOUT_RESERVE_FIELDS
    ),
    ("GET", f"{PREFIX}/payouts/{{organization_id}}/{{idempotency_key}}"): Route(
        handlers.get_payout
    ),
    ("POST", f"{PREFIX}/payouts/refuse"): _post(
        handlers.refuse_payout, handlers.PAYOUT_REFUSE_FIELDS
    ),
    ("POST", f"{PREFIX}/payouts/upsert"): _post(handlers.upsert_payout, handlers.PAYOUT_FIELDS),
    ("POST", f"{PREFIX}/ledgers/prune"): _post(handlers.prune_ledgers, handlers.PRUNE_FIELDS),
}
ROUTER: Router[Route] = Router(ROUTES)


async def handle(request: Request, *, deps: Deps) -> Response:
    try:
        return await _dispatch(request, deps)
    except MethodNotAllowed as exc:
        return Response(
            exc.status, error_payload(exc.code, exc.message), {"allow": ", ".join(exc.allowed)}
        )
    except ApiError as exc:
        return Response(exc.status, error_payload(exc.code, exc.message))
    except D1Error as exc:
        if exc.is_unique_violation:
            # Every UNIQUE index left to violate holds a Stripe id: a conflict, not an outage.
            log.warning("unique conflict on %s %s: %s", request.method, request.path, exc)
            conflict = StripeIdConflict()
            return Response(conflict.status, error_payload(conflict.code, conflict.message))
        log.error("D1 failure on %s %s: %s", request.method, request.path, exc)
        return Response(503, error_payload("d1_unavailable", "The database is unavailable."))
    except Exception:
        log.exception("unexpected failure on %s %s", request.method, request.path)
        return Response(500, error_payload("internal_error", "Internal error."))


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
