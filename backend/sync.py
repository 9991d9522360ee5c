"""Bring an organization's Connect columns in line with Stripe, never letting older data win.

The watermark is the moment the read *started*: whatever Stripe returned is at least that fresh,
so a slower, older read loses against a newer one in the Worker's "only if newer" guard. It keeps
milliseconds: every change to an account is followed by an event whose re-read starts after it,
and that read must beat every read started before the change — in whole seconds the two tie, and
the older one, landing last, would win.
"""

from __future__ import annotations

import time

from backend.services import Services
from backend.status_mapping import deauthorized_fields, organization_fields
from backend.stripe_errors import StripeAccountAccessLost
from backend.worker_models import Organization

DEAUTHORIZED_WITHIN_SECOND = 0.999


async def sync_account(
    svc: Services,
    organization_id: str,
    account_id: str,
    *,
    deauthorized_since: int | None = None,
) -> Organization:
    """Re-read the account and store its mapped state; returns the organization as now stored.

    With `deauthorized_since` (webhooks), a *confirmed* loss of access (Stripe's 403
    `account_invalid`, see `StripeAccountAccessLost`) marks the org deauthorized as of that time.
    Any other 403 — a restricted key missing a permission — is raised, never a deauthorization:
    a mis-scoped key must not disable every organization (the event fails and Stripe retries it
    once the key is fixed). Without `deauthorized_since` (a user's refresh) every error is raised.
    """
    started = round(time.time(), 3)
    try:
        account = await svc.stripe.retrieve_account(account_id)
    except StripeAccountAccessLost:
        if deauthorized_since is None:
            raise
        return await mark_deauthorized(svc, organization_id, synced_at=deauthorized_since)
    result = await svc.worker.update_organization(
        organization_id, organization_fields(account.raw), synced_at=started
    )
    return result.organization


async def mark_deauthorized(svc: Services, organization_id: str, *, synced_at: int) -> Organization:
    """`synced_at` is the event's `created`, a whole second: the loss of access happened somewhere
    in that second, so it is stamped at the second's end and beats every read started within it
    (a read started after it cannot see the account, so it writes nothing)."""
    result = await svc.worker.update_organization(
        organization_id, deauthorized_fields(), synced_at=synced_at + DEAUTHORIZED_WITHIN_SECOND
    )
    return result.organization
