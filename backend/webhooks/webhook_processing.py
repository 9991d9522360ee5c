"""Process one verified Stripe event: claim it durably, apply it, and record the outcome.

`process_event` is the one entry point — the webhook route calls it after the signature check,
and anything else that replays events (missed-event recovery) must call it too, so an event has
one meaning however it arrives.

An `account.updated` that carries its whole account costs one Worker call: the claim carries the
snapshot, and its D1 batch applies it under the new claim and completes the claim ("Ordering
account events" in docs/reliability.md); only a snapshot that cannot be ordered needs more (a
Stripe read, its write, the completion). Other events cost two on the common path: the claim,
which also returns the organization of the event's account, and one call that writes the effect
and completes the claim in one D1 batch (`payout.*`: `apply-payout`; `transfer.*`:
`apply-transfer`; a deauthorization: `webhook-events/update-organization`; a payment:
`apply-payment`, which checks the organization itself) — except a payment that an automatic
transfer follows, whose claim completes only after the transfer ("Worker calls per event" in
docs/reliability.md).

Any failure after the claim raises a 5xx so that Stripe delivers again; the claim is released as
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
from collections.abc import Mapping
from typing import Any

from backend.core.errors import ApiError, Conflict, ServiceUnavailable
from backend.core.models import WebhookReply
from backend.core.outcomes import observed_event
from backend.services import Services
from backend.stripe_side.stripe_events import Envelope, EventRejected, Unparsed
from backend.webhooks.webhook_disputes import DISPUTE_HANDLERS
from backend.webhooks.webhook_handlers import HANDLERS, ClaimCompleted, Event, claim_snapshot
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import Claim

logger = logging.getLogger("backend.webhooks")

REJECTED = WebhookReply(handled=False, rejected=True)
# Every event type with an effect, and its handler.
ALL_HANDLERS = {**HANDLERS, **DISPUTE_HANDLERS}


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


async def _claim(
    svc: Services, event: Envelope | Unparsed, snapshot: Mapping[str, Any] | None = None
) -> Claim | WebhookReply:
    """The claim on the event, or the answer for one already settled; another replica's is 409."""
    claim = await svc.worker.claim_event(
        event.id,
        event_type=event.type,
        event_created=event.created,
        stripe_account_id=event.account,
        lease_seconds=svc.settings.webhook_claim_lease_seconds,
        snapshot=snapshot,
    )
    if claim.claimed and claim.claim_id is not None:
        return claim
    if claim.status == "processed" and isinstance(event, Envelope):
        return WebhookReply(duplicate=True)
    if claim.status in ("processed", "rejected"):
        return WebhookReply(duplicate=True, handled=False, rejected=True)
    raise _busy(svc)


@observed_event
async def process_event(svc: Services, parsed: Envelope | Unparsed) -> WebhookReply:
    """Claim, apply and record one verified event; the reply for Stripe (or raise a 4xx/5xx)."""
    if isinstance(parsed, Unparsed):
        claimed = await _claim(svc, parsed)
        if isinstance(claimed, WebhookReply):
            return claimed
        return await _record_rejection(
            svc, parsed.id, parsed.type, claimed.claim_id or "", parsed.reason
        )
    handler = ALL_HANDLERS.get(parsed.type)
    if handler is None:
        return WebhookReply(handled=False)
    snapshot = claim_snapshot(parsed.type, parsed.account, parsed.data.object)
    try:
        claim = await _claim(svc, parsed, snapshot)
    except WorkerError as exc:
        if snapshot is None or exc.status != 400:
            raise
        # The Worker refused the snapshot's fields: claim plainly and take the handler's path,
        # where a write the Worker refuses records the event as rejected (acknowledged).
        claim = await _claim(svc, parsed)
    if isinstance(claim, WebhookReply):
        return claim
    if claim.completed:
        return WebhookReply()  # applied (or already newer in D1) and completed in the claim
    claim_id = claim.claim_id or ""
    event = Event(
        id=parsed.id,
        type=parsed.type,
        created=parsed.created,
        account=parsed.account,
        object=parsed.data.object,
        claim_id=claim_id,
        looked_up=parsed.account,
        organization=claim.organization,
        watermark=claim.watermark,
    )
    try:
        done = await handler(svc, event)
    except EventRejected as exc:
        return await _record_rejection(svc, event.id, event.type, claim_id, exc.reason)
    except WorkerError as exc:
        if 400 <= exc.status < 500 and exc.code != "claim_lost":
            # The Worker refused the write for good: a retry repeats it.
            reason = f"the Worker refused it: {exc.code}"
            return await _record_rejection(svc, event.id, event.type, claim_id, reason)
        if exc.code == "claim_lost":  # another instance took over and applies it too
            return WebhookReply()
        raise await _failed(svc, event, claim_id, exc) from None
    except Exception as exc:
        raise await _failed(svc, event, claim_id, exc) from None
    if isinstance(done, ClaimCompleted):
        return WebhookReply()
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
