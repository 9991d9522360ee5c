"""What each Stripe event does to D1: a table from event type to one small handler.

Every handler is safe to run twice (guarded writes, upserts), because a crash between the effect
and marking the event processed makes Stripe deliver it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from backend.core.errors import ApiError, UpstreamError
from backend.core.models import TransferRequest
from backend.ledger.money_operation import LedgerTag
from backend.ledger.return_flow import settle_payment
from backend.ledger.transfer_flow import transfer as run_transfer
from backend.services import Services
from backend.stripe_side.account_profiles import profile_of
from backend.stripe_side.stripe_events import (
    AccountRef,
    CapabilityRef,
    EventRejected,
    PayoutObject,
    TransferObject,
    full_account,
    is_organization_id,
    parse_as,
    parse_payment_source,
)
from backend.webhooks.event_ordering import Order, order
from backend.webhooks.status_mapping import organization_fields
from backend.webhooks.sync import mark_deauthorized, sync_account
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import Organization, TransferOrigin

logger = logging.getLogger("backend.webhooks")


@dataclass(frozen=True, slots=True)
class Event:
    """A verified, claimed event. The claim looked up the organization of `looked_up` (the
    event's account, when it names one) in the same Worker call: `organization` and its exact
    `watermark`."""

    id: str
    type: str
    created: int
    account: str | None
    object: Mapping[str, Any]
    claim_id: str = ""
    looked_up: str | None = None
    organization: Organization | None = None
    watermark: float | None = None


# Refund events read as the charge now stands: a refund that failed lowered what is refunded.
REFUND_RETURNED = frozenset(["refund.updated", "refund.failed", "charge.refund.updated"])


class ClaimCompleted:
    """Returned by a handler that completed the claim itself, in the same Worker call as its
    effect; the caller then has nothing left to record."""


CLAIM_COMPLETED = ClaimCompleted()

Handler = Callable[[Services, Event], Awaitable[ClaimCompleted | None]]


async def _organization(svc: Services, event: Event, account_id: str) -> Organization | None:
    """From the claim when it looked up this account; otherwise one Worker call."""
    if event.looked_up == account_id:
        return event.organization
    return await svc.worker.find_organization_by_account(account_id)


async def _organization_for_account(svc: Services, event: Event, account_id: str) -> str | None:
    org = await _organization(svc, event, account_id)
    return org.id if org is not None else None


async def _account_changed(svc: Services, event: Event) -> ClaimCompleted | None:
    """Apply the event's own account snapshot when it can be ordered against D1's watermark;
    read the account from Stripe only when it cannot (see `event_ordering`), or when the event
    carries no full account (`capability.updated`)."""
    account_id = event.account
    if event.type == "account.updated":
        account_id = account_id or parse_as(AccountRef, event.object).id
    elif account_id is None:
        account_id = parse_as(CapabilityRef, event.object).account
    org = await _organization(svc, event, account_id)
    if org is None:
        org_id = await _adopt_account(svc, event, account_id)
        if org_id is None:
            logger.info("event %s: account %s belongs to no organization", event.id, account_id)
            return None
        await sync_account(svc, org_id, account_id, event_created=event.created)
        return None
    snapshot = full_account(event.object, account_id) if event.type == "account.updated" else None
    # The watermark is exact only when the claim read it; the organization routes round it.
    watermark = event.watermark if event.looked_up == account_id else None
    position = order(event.created, watermark)
    if snapshot is None or position is Order.UNKNOWN:
        await sync_account(svc, org.id, account_id, event_created=event.created)
        return None
    if position is Order.OLDER:
        return None
    fields = organization_fields(snapshot)
    if position is Order.TIE:
        if not _holds(org, fields):
            await sync_account(svc, org.id, account_id, event_created=event.created)
        return None
    applied = await svc.worker.apply_organization(
        event.id,
        claim_id=event.claim_id,
        organization_id=org.id,
        fields=fields,
        event_created=event.created,
    )
    if applied.completed:
        return CLAIM_COMPLETED
    # A same-second event with another state landed first: only Stripe can say which is newer.
    await sync_account(svc, org.id, account_id, event_created=event.created)
    return None


def claim_snapshot(
    event_type: str, account: str | None, obj: Mapping[str, Any]
) -> dict[str, Any] | None:
    """What an `account.updated` event's claim carries so the Worker can apply it in the claim's
    own batch (one call in all): the mapped fields of the whole account it holds, or None."""
    if event_type != "account.updated" or account is None:
        return None
    snapshot = full_account(obj, account)
    return None if snapshot is None else organization_fields(snapshot)


def _holds(org: Organization, fields: Mapping[str, Any]) -> bool:
    stored = org.model_dump(include=set(fields))
    return all(stored.get(name) == value for name, value in fields.items())


async def _adopt_account(svc: Services, event: Event, account_id: str) -> str | None:
    """An account we created whose id the Worker has not stored yet (the onboarding request died
    between Stripe and the Worker): store it now from the metadata we put on it."""
    if event.type != "account.updated":
        return None
    org_id = parse_as(AccountRef, event.object).metadata.get("organization_id")
    if not isinstance(org_id, str) or not is_organization_id(org_id):
        return None
    try:
        await svc.worker.create_connect_account(
            org_id, account_id, profile=profile_of(event.object)
        )
    except WorkerError as exc:
        if exc.status in (404, 409):
            return None
        raise
    return org_id


async def _deauthorized(svc: Services, event: Event) -> ClaimCompleted | None:
    """The platform can no longer read the account: act on the payload alone, the mark and the
    claim's completion in one Worker call (the claim returned the account's organization)."""
    if not event.account:
        raise EventRejected("missing account")
    org_id = await _organization_for_account(svc, event, event.account)
    if org_id is None:
        return None
    claim = (event.id, event.claim_id)
    await mark_deauthorized(svc, org_id, synced_at=event.created, claim=claim)
    return CLAIM_COMPLETED


async def _payout(svc: Services, event: Event) -> ClaimCompleted | None:
    """The payout as the event shows it, stored with the claim's completion in one Worker call
    (the claim already returned the organization of the event's account)."""
    if not event.account:
        raise EventRejected("missing account")
    payout = parse_as(PayoutObject, event.object)
    org_id = await _organization_for_account(svc, event, event.account)
    if org_id is None:
        return None
    await svc.worker.upsert_payout(
        payout,
        organization_id=org_id,
        stripe_account_id=event.account,
        event_created=event.created,
        idempotency_key=_our_idempotency_key(payout.metadata, org_id),
        claim=(event.id, event.claim_id),
    )
    return CLAIM_COMPLETED


def _our_idempotency_key(metadata: Mapping[str, str], org_id: str) -> str | None:
    """The key of a payout made through our route (we put it in its metadata), so an event that
    arrives before the route's own write still lands on the reservation."""
    tag = LedgerTag.read(metadata)
    return tag.idempotency_key if tag is not None and tag.organization_id == org_id else None


async def _transfer(svc: Services, event: Event) -> ClaimCompleted:
    """The transfer's reversal state (and, for a row whose request died after Stripe made it, the
    transfer itself) stored with the claim's completion in one Worker call. The claim completes
    whatever the ledger said: a transfer not made through us, or one whose metadata names a row
    that cannot take it, is settled — no retry can change either."""
    transfer = parse_as(TransferObject, event.object)
    try:
        row = await svc.worker.sync_transfer(
            transfer.id,
            amount_reversed=transfer.amount_reversed,
            reversed=transfer.reversed
            or (transfer.amount > 0 and transfer.amount_reversed >= transfer.amount),
            origin=_transfer_origin(transfer),
            claim=(event.id, event.claim_id),
        )
    except WorkerError as exc:
        if exc.code != "transfer_mismatch":
            raise
        # An operator must look (the Worker logged the row's state); the event is processed.
        logger.warning(
            "event %s: transfer %s names a ledger row that does not match it; not applied",
            event.id,
            transfer.id,
        )
        return CLAIM_COMPLETED
    if row is None:
        logger.info("event %s: transfer %s is not in the ledger", event.id, transfer.id)
    return CLAIM_COMPLETED


def _transfer_origin(transfer: TransferObject) -> TransferOrigin | None:
    """The ledger row our transfer route names in the transfer's metadata, so a transfer whose
    request died after Stripe made it (its row still `pending`) is finished by its webhook."""
    tag = LedgerTag.read(transfer.metadata)
    if tag is None:
        return None
    try:
        return TransferOrigin(
            **tag.metadata(),
            amount=transfer.amount,
            currency=transfer.currency,
            destination=transfer.destination or "",
        )
    except ValidationError:
        logger.info("transfer %s: its ledger metadata is malformed; ignored", transfer.id)
        return None


async def _payment(svc: Services, event: Event) -> ClaimCompleted | None:
    """A payment the platform collected: re-read it from Stripe (the payload may be stale or
    forged by nobody but Stripe — still, the read is the truth), record it for the organization
    its metadata names with the claim's completion in one Worker call; on a refund event of a
    payment with transfers, hold the claim and bring its transfers back to what the organization
    may keep (`return_flow`); and, on
    `payment_intent.succeeded` for an organization that transfers automatically, hold the claim,
    transfer it through the same flow an owner's claim takes, and complete after the transfer.
    The idempotency key is the PaymentIntent's, so a redelivered event finishes or replays the
    same transfer."""
    if event.account:
        return None  # a connected account's own payment (direct charge): not the platform's
    source = parse_payment_source(event.object)
    if source is None:
        return None
    payment = await svc.stripe.retrieve_payment(source)
    if payment is None or payment.organization_id is None:
        logger.info("event %s: payment %s is not tagged for an organization", event.id, source)
        return None
    may_transfer = (
        event.type == "payment_intent.succeeded"
        and payment.status == "succeeded"
        and payment.charge_id is not None
    )
    refund = event.type != "payment_intent.succeeded"
    try:
        applied = await svc.worker.apply_payment(
            payment.record(payment.organization_id),
            claim=(event.id, event.claim_id),
            hold_if_auto_transfer=may_transfer,
            hold_if_transferred=refund and payment.charge_id is not None,
            refunds_exact=event.type in REFUND_RETURNED,
        )
    except WorkerError as exc:
        if exc.code == "claim_lost" or exc.status not in (404, 409):
            raise
        # Settled with the claim: an organization gone, or a payment recorded for another one.
        logger.warning("event %s: payment %s not recorded (%s)", event.id, source, exc.code)
        return CLAIM_COMPLETED
    # Held only when asked (`may_transfer`: so the charge exists) and the organization, as the
    # same batch read it, transfers automatically.
    if applied.completed or payment.charge_id is None:
        return CLAIM_COMPLETED
    if refund:
        # Held: the payment's transfers give back what the refund took (or get again what a
        # failed refund returned), then the claim completes.
        await settle_payment(svc, payment.charge_id, cause="refund", cause_id=event.id)
        return None
    org = applied.organization
    body = TransferRequest(organization_id=org.id, source_transaction=payment.charge_id)
    try:
        outcome = await run_transfer(
            svc, org, key=f"auto:{payment.payment_intent_id}", body=body, initiated_by="automatic"
        )
    except ApiError as exc:
        if isinstance(exc, UpstreamError) or exc.status >= 500:
            raise  # Stripe or the Worker is down: the event is retried
        # Not transferable now (account not ready, claimed already, below the minimum): it stays
        # listed as earned for the owners to claim.
        logger.info("event %s: automatic transfer of %s not made (%s)", event.id, source, exc.code)
        return None
    logger.info(
        "event %s: payment %s transferred automatically (%s)",
        event.id,
        source,
        outcome.row.status,
    )
    return None


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _payment,
    "charge.refunded": _payment,
    # A refund that failed or was canceled gives its money back to the payment.
    "refund.updated": _payment,
    "refund.failed": _payment,
    "charge.refund.updated": _payment,
    "account.updated": _account_changed,
    "capability.updated": _account_changed,
    "account.application.deauthorized": _deauthorized,
    "payout.created": _payout,
    "payout.updated": _payout,
    "payout.paid": _payout,
    "payout.failed": _payout,
    "payout.canceled": _payout,
    "transfer.created": _transfer,
    "transfer.updated": _transfer,
    "transfer.reversed": _transfer,
}
