"""`POST /api/connect/webhook`: verify, claim durably, apply, and only then answer 2xx.

Any failure after the claim answers 5xx so that Stripe delivers again; the claim is released as
`failed` (best effort — if the Worker is down, its lease expires instead) so the retry may run.

A validly signed event that cannot be applied — its envelope or the fields a handler reads are
malformed or absurd, or the Worker refuses the write for good (a 4xx: a Stripe id recorded
elsewhere, an organization gone) — is recorded in D1 as `rejected` with the reason and
acknowledged with a 2xx: Stripe would otherwise retry it for three days, and no retry can fix it.
Each such event is logged once, with the reason and never the payload.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.requests import Request

from backend.errors import ApiError, Conflict, InvalidRequest, ServiceUnavailable
from backend.models import WebhookReply
from backend.services import Services, services
from backend.stripe_events import (
    Envelope,
    EventRejected,
    Unparsed,
    loggable_type,
    parse_envelope,
)
from backend.webhook_handlers import HANDLERS, Event
from backend.webhook_verification import SignatureError, verify_signature
from backend.worker_client import WorkerError

logger = logging.getLogger("backend.webhooks")

REJECTED = WebhookReply(handled=False, rejected=True)


def _busy(svc: Services) -> Conflict:
    return Conflict(
        code="event_in_progress",
        message="Another instance is processing this event; retry later.",
        headers={"Retry-After": str(svc.settings.webhook_claim_lease_seconds)},
    )


def _retry_later(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        code="webhook_processing_failed", message=f"The event could not be {what}."
    )


async def _record_rejection(
    svc: Services, event_id: str, event_type: str, claim_id: str, reason: str
) -> WebhookReply:
    logger.warning("event %s (%s) rejected: %s", event_id, event_type, reason)
    try:
        await svc.worker.complete_event(
            event_id, claim_id=claim_id, outcome="rejected", error=reason
        )
    except ApiError as exc:
        if exc.status != 409:  # 409 claim_lost: another instance took over and records it
            raise _retry_later("recorded; retry later") from None
    return REJECTED


async def _claim(svc: Services, event: Envelope | Unparsed) -> str | WebhookReply:
    """The claim on the event, or the answer for one already settled; another replica's is 409."""
    claim = await svc.worker.claim_event(
        event.id,
        event_type=event.type,
        event_created=event.created,
        stripe_account_id=event.account,
        lease_seconds=svc.settings.webhook_claim_lease_seconds,
    )
    if claim.claimed and claim.claim_id is not None:
        return claim.claim_id
    if claim.status == "processed" and isinstance(event, Envelope):
        return WebhookReply(duplicate=True)
    if claim.status in ("processed", "rejected"):
        return WebhookReply(duplicate=True, handled=False, rejected=True)
    raise _busy(svc)


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
    return await process_event(svc, payload)


async def process_event(svc: Services, payload: bytes) -> WebhookReply:
    """Apply one event exactly once (claim in D1, handle, complete): the one path for a
    delivered webhook and for an event replayed by reconciliation (`backend/reconcile.py`).
    The caller has established that the payload is Stripe's (a verified signature, or read from
    Stripe's own Events API). Raises `Conflict` while another instance holds the event, and
    `ServiceUnavailable` when it could not be applied or recorded (retry later)."""
    parsed = parse_envelope(payload)
    if isinstance(parsed, Unparsed):
        claimed = await _claim(svc, parsed)
        if isinstance(claimed, WebhookReply):
            return claimed
        return await _record_rejection(svc, parsed.id, parsed.type, claimed, parsed.reason)
    event = Event(
        id=parsed.id,
        type=parsed.type,
        created=parsed.created,
        account=parsed.account,
        object=parsed.data.object,
    )
    handler = HANDLERS.get(event.type)
    if handler is None:
        return WebhookReply(handled=False)
    claim_id = await _claim(svc, parsed)
    if isinstance(claim_id, WebhookReply):
        return claim_id
    try:
        await handler(svc, event)
    except EventRejected as exc:
        return await _record_rejection(svc, event.id, event.type, claim_id, exc.reason)
    except WorkerError as exc:
        if 400 <= exc.status < 500:  # the Worker refused the write for good: a retry repeats it
            reason = f"the Worker refused it: {exc.code}"
            return await _record_rejection(svc, event.id, event.type, claim_id, reason)
        raise await _failed(svc, event, claim_id, exc) from None
    except Exception as exc:
        raise await _failed(svc, event, claim_id, exc) from None
    try:
        await svc.worker.complete_event(event.id, claim_id=claim_id, outcome="processed")
    except ApiError as exc:
        if exc.status != 409:  # 409 claim_lost: another instance took over and applies it too
            raise _retry_later("recorded; retry later") from None
    return WebhookReply()


async def _failed(svc: Services, event: Event, claim_id: str, exc: Exception) -> ServiceUnavailable:
    reason = exc.code if isinstance(exc, ApiError) else type(exc).__name__
    if isinstance(exc, ApiError):
        logger.warning("event %s (%s) failed: %s", event.id, event.type, reason)
    else:
        logger.error("event %s (%s) handler crashed", event.id, event.type, exc_info=exc)
    with contextlib.suppress(ApiError):  # if not, the lease expires and a retry claims it
        await svc.worker.complete_event(event.id, claim_id=claim_id, outcome="failed", error=reason)
    return _retry_later("applied; retry later")
