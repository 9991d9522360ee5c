"""`POST /api/connect/webhook`: verify the signature, parse once, and hand the event to
`process_event` (claim durably, apply, and only then answer 2xx).

Nothing of an unverified delivery is parsed: the header is checked before the body is read, and a
refusal's log line carries the reason, the header's timestamp and what `peek_event`'s bounded scan
finds (`backend/edge/unverified_peek.py`)."""

from __future__ import annotations

import logging

from starlette.requests import Request

from backend.core.errors import InvalidRequest
from backend.core.models import WebhookReply
from backend.edge.unverified_peek import peek_event
from backend.services import services
from backend.stripe_side.stripe_events import parse_envelope
from backend.stripe_side.webhook_verification import SignatureError, check_body, check_header
from backend.webhooks.webhook_processing import process_event

logger = logging.getLogger("backend.webhooks")


async def webhook(request: Request) -> WebhookReply:
    svc = services(request)
    payload = b""
    try:
        timestamp, signatures = check_header(
            request.headers.get("stripe-signature"),
            tolerance_seconds=svc.settings.stripe_webhook_tolerance_seconds,
        )
        payload = await request.body()
        check_body(payload, timestamp, signatures, secrets=svc.settings.webhook_secrets)
    except SignatureError as exc:
        # Refusals are counted per address (a valid delivery never is): past the budget a 429
        # and no log line, so a flood of forged deliveries is not a flood of the logs.
        svc.limits.from_address(request)
        seen = peek_event(payload)
        logger.warning(
            "webhook signature rejected: reason=%s id=%s type=%s timestamp=%s",
            exc.reason,
            seen.get("id", "-"),
            seen.get("type", "-"),
            exc.timestamp,
        )
        raise InvalidRequest(
            code="invalid_signature", message="Webhook signature verification failed."
        ) from None
    return await process_event(svc, parse_envelope(payload))
