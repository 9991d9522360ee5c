"""Bring an organization's Connect columns in line with Stripe, never letting older data win.

The watermark is the moment the read *started*: whatever Stripe returned is at least that fresh,
so a slower, older read loses against a newer one in the Worker's "only if newer" guard. It keeps
milliseconds: every change to an account is followed by an event whose re-read starts after it,
and that read must beat every read started before the change — in whole seconds the two tie, and
the older one, landing last, would win.
"""

from __future__ import annotations

import asyncio
import time

from backend.services import Services
from backend.stripe_side.stripe_errors import StripeAccountAccessLost
from backend.webhooks.status_mapping import deauthorized_fields, organization_fields
from backend.worker_side.worker_models import Organization

DEAUTHORIZED_WITHIN_SECOND = 0.999
MAX_TIE_WAIT_SECONDS = 1.0


async def sync_account(
    svc: Services,
    organization_id: str,
    account_id: str,
    *,
    event_created: int | None = None,
) -> Organization:
    """Re-read the account and store its mapped state; returns the organization as now stored.

    With `event_created` (webhooks: the read answers an event of that second S), the read starts
    only once S has ended. An applied snapshot of S is stamped S + 0.999 (it was taken somewhere in
    S), so a read started inside S could be newer than it yet lose the "only if newer" guard; a
    read started at S + 1 or later sees every change made in S and wins. Events arrive after they
    are created, so the wait is under a second, and only when the event is that fresh; an event
    dated further ahead (a clock off from Stripe's) waits no more than a second.
    A *confirmed* loss of access (Stripe's 403 `account_invalid`, see `StripeAccountAccessLost`)
    then marks the org deauthorized as of S. Any other 403 — a restricted key missing a
    permission — is raised, never a deauthorization: a mis-scoped key must not disable every
    organization (the event fails and Stripe retries it once the key is fixed). Without
    `event_created` (a user's refresh) every error is raised.
    """
    if event_created is not None and (wait := event_created + 1 - time.time()) > 0:
        await asyncio.sleep(min(wait, MAX_TIE_WAIT_SECONDS))
    started = round(time.time(), 3)
    try:
        account = await svc.stripe.retrieve_account(account_id)
    except StripeAccountAccessLost:
        if event_created is None:
            raise
        return await mark_deauthorized(svc, organization_id, synced_at=event_created)
    result = await svc.worker.update_organization(
        organization_id, organization_fields(account.raw), synced_at=started
    )
    return result.organization


async def mark_deauthorized(
    svc: Services, organization_id: str, *, synced_at: int, claim: tuple[str, str] | None = None
) -> Organization:
    """`synced_at` is the event's `created`, a whole second: the loss of access happened somewhere
    in that second, so it is stamped at the second's end and beats every read started within it
    (a read started after it cannot see the account, so it writes nothing). With `claim` (the
    deauthorization event's), the write completes that claim in the same Worker call."""
    result = await svc.worker.update_organization(
        organization_id,
        deauthorized_fields(),
        synced_at=synced_at + DEAUTHORIZED_WITHIN_SECOND,
        claim=claim,
    )
    return result.organization
