"""`POST /api/connect/webhook`: verify, claim durably, apply, and only then answer 2xx.

Any failure after the claim answers 5xx so that Stripe delivers again; the claim is released as
`failed` (best effort — if the Worker is down, its lease expires instead) so the retry may run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.errors import ApiError, error_response
from backend.services import services
from backend.webhook_handlers import HANDLERS, Event
from backend.webhook_verification import SignatureError, verify_signature

logger = logging.getLogger("backend.webhooks")

_SAFE_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,120}")


def _loggable_type(payload: bytes) -> str:
    """The event type for a rejection log line, if it looks like one; never any other content."""
    try:
        value = json.loads(payload).get("type")
    except (ValueError, AttributeError):
        return "unparsed"
    return value if isinstance(value, str) and _SAFE_TYPE.fullmatch(value) else "unknown"


def _parse_event(payload: bytes) -> Event:
    try:
        data: Any = json.loads(payload)
    except ValueError:
        raise ApiError(400, "invalid_json", "The event is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_event", "The event must be a JSON object.")
    event_id, event_type, created = data.get("id"), data.get("type"), data.get("created")
    obj = (data.get("data") or {}).get("object") if isinstance(data.get("data"), dict) else None
    account = data.get("account")
    if (
        not isinstance(event_id, str)
        or not _EVENT_ID.fullmatch(event_id)
        or not isinstance(event_type, str)
        or not _SAFE_TYPE.fullmatch(event_type)
        or not isinstance(created, int)
        or isinstance(created, bool)
        or not isinstance(obj, dict)
        or (account is not None and not isinstance(account, str))
    ):
        raise ApiError(400, "invalid_event", "The event lacks id, type, created or data.object.")
    return Event(id=event_id, type=event_type, created=created, account=account, object=obj)


async def webhook(request: Request) -> Response:
    svc = services(request)
    payload = await request.body()
    try:
        verify_signature(
            payload,
            request.headers.get("stripe-signature"),
            secrets=svc.settings.webhook_secrets,
            tolerance_seconds=svc.settings.stripe_webhook_tolerance_seconds,
        )
    except SignatureError as exc:
        logger.warning(
            "webhook signature rejected: reason=%s type=%s timestamp=%s",
            exc.reason,
            _loggable_type(payload),
            exc.timestamp,
        )
        return error_response(400, "invalid_signature", "Webhook signature verification failed.")
    event = _parse_event(payload)
    handler = HANDLERS.get(event.type)
    if handler is None:
        return JSONResponse({"received": True, "duplicate": False, "handled": False})

    claim = await svc.worker.claim_event(
        event.id,
        event_type=event.type,
        event_created=event.created,
        stripe_account_id=event.account,
        lease_seconds=svc.settings.webhook_claim_lease_seconds,
    )
    if not claim.claimed:
        if claim.status == "processed":
            return JSONResponse({"received": True, "duplicate": True, "handled": True})
        return error_response(
            409,
            "event_in_progress",
            "Another instance is processing this event; retry later.",
            headers={"Retry-After": str(svc.settings.webhook_claim_lease_seconds)},
        )
    assert claim.claim_id is not None
    try:
        await handler(svc, event)
    except Exception as exc:
        reason = exc.code if isinstance(exc, ApiError) else type(exc).__name__
        logger.warning("event %s (%s) failed: %s", event.id, event.type, reason)
        with contextlib.suppress(ApiError):  # if not, the lease expires and a retry claims it
            await svc.worker.complete_event(
                event.id, claim_id=claim.claim_id, outcome="failed", error=reason
            )
        if not isinstance(exc, ApiError):
            logger.error("event %s handler crashed", event.id, exc_info=exc)
        return error_response(
            503, "webhook_processing_failed", "The event could not be applied; retry later."
        )
    try:
        await svc.worker.complete_event(event.id, claim_id=claim.claim_id, outcome="processed")
    except ApiError as exc:
        if exc.status != 409:  # 409 claim_lost: another instance took over and applies it too
            return error_response(
                503, "webhook_processing_failed", "The event could not be recorded; retry later."
            )
    return JSONResponse({"received": True, "duplicate": False, "handled": True})
