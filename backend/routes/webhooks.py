"""`POST /api/connect/webhook`: verify the signature, parse once, and hand the event to
`process_event` (claim durably, apply, and only then answer 2xx)."""

from __future__ import annotations

import logging

from starlette.requests import Request

from backend.errors import InvalidRequest
from backend.models import WebhookReply
from backend.services import services
from backend.stripe_events import loggable_type, parse_envelope
from backend.webhook_processing import process_event
from backend.webhook_verification import SignatureError, verify_signature

logger = logging.getLogger("backend.webhooks")


async def webhook(request: Request) -> WebhookReply:
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
            loggable_type(payload),
            exc.timestamp,
        )
        raise InvalidRequest(
            code="invalid_signature", message="Webhook signature verification failed."
        ) from None
    return await process_event(svc, parse_envelope(payload))
