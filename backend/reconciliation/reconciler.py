"""Nothing left unknown: settle every ledger row whose outcome at Stripe is unknown, then replay
the events Stripe could not deliver. Run by `python -m backend.reconciliation.reconcile` (cron, by
hand) and `POST /api/operator/reconcile`.

It never sends money to an organization; it takes back what one owes (`debt_recovery`: debts
retried against their transfers, reversals whose answer was never heard sent again with their
keys). A `pending` transfer or `reserved` payout is looked up at Stripe by the
ledger metadata we put on every object (`LedgerTag`): found → the row takes it through the same
Worker writes a webhook uses; absent and older than `reconcile_absent_after_seconds` (past
Stripe's idempotency window and our own resend limit, so no request can still make it) → refused,
and the client may retry with a new key; otherwise left for the next run.

Missed events (`delivery_success=false`, the platform's and each connected account's, oldest
first) go through `process_event`, the webhook's own exactly-once path, so an event applied
meanwhile by a delivery is a no-op. How far each scope got is checkpointed in D1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from backend.core.errors import ApiError
from backend.core.models import ReconciledRow, ReconcileReply, ReplayCounts, WebhookReply
from backend.core.outcomes import observed_reconciliation
from backend.ledger.debt_recovery import retry_debts
from backend.ledger.money_operation import epoch_seconds
from backend.reconciliation.ledger_kinds import PAYOUTS, TRANSFERS, LedgerKind, Lister, by_tag
from backend.services import Services
from backend.stripe_side.stripe_errors import StripeAccountAccessLost
from backend.stripe_side.stripe_events import (
    Envelope,
    Unparsed,
    parse_envelope,
)
from backend.webhooks.status_mapping import DEAUTHORIZED_REASON
from backend.webhooks.sync import mark_deauthorized
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import (
    ConnectedAccount,
    LedgerPayout,
    LedgerTransfer,
)

logger = logging.getLogger("backend.reconcile")

T = TypeVar("T")
PLATFORM = "platform"
# Stripe's `created` and our `created_at` come from two clocks: look a little further back.
CLOCK_SKEW_SECONDS = 300
REFUSED_MESSAGE = (
    "Stripe has no record of this {what} and its idempotency window has passed: it was never "
    "made. Retry with a new Idempotency-Key."
)


@dataclass
class _Report:
    rows: list[ReconciledRow] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    scopes: int = 0
    errors: list[str] = field(default_factory=list)
    debts: tuple[int, int] = (0, 0)  # (taken back, still owed)

    def count(self, what: str) -> None:
        self.events[what] = self.events.get(what, 0) + 1

    def reply(self) -> ReconcileReply:
        return ReconcileReply(
            rows=self.rows,
            events=ReplayCounts(**self.events),
            scopes=self.scopes,
            errors=self.errors,
            debts_recovered=self.debts[0],
            debts_owed=self.debts[1],
        )


R = TypeVar("R", LedgerTransfer, LedgerPayout)


# The webhook's exactly-once path (`backend.webhooks.webhook_processing.process_event`), passed in
# so that tests can watch it and this module stays free of the webhook machinery.
ProcessEvent = Callable[[Services, Envelope | Unparsed], Awaitable[WebhookReply]]


@dataclass(frozen=True)
class Reconciler:
    svc: Services
    process_event: ProcessEvent
    now: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @observed_reconciliation
    async def run(self) -> ReconcileReply:
        report = _Report()
        try:
            unsettled = await self.svc.worker.list_unsettled()
        except ApiError as exc:
            report.errors.append(f"ledger: {exc.code}")
        else:
            await self._settle(TRANSFERS, unsettled.transfers, report)
            await self._settle(PAYOUTS, unsettled.payouts, report)
        await self._replay_events(report)
        try:
            recovered = await retry_debts(self.svc)
        except ApiError as exc:
            report.errors.append(f"debts: {exc.code}")
        else:
            report.debts = (recovered.paid, recovered.owed)
        return report.reply()

    # --- Stripe calls, with backoff on 429 ----------------------------------------------------

    async def _stripe(self, call: Callable[[], Awaitable[T]]) -> T:
        retries = self.svc.settings.reconcile_rate_limit_retries
        for attempt in range(retries + 1):
            try:
                return await call()
            except ApiError as exc:
                if exc.code != "stripe_rate_limited" or attempt == retries:
                    raise
                retry_after = (exc.headers or {}).get("Retry-After", "1")
                wait = max(float(retry_after) if retry_after.isdigit() else 1.0, 0.05)
                logger.info("stripe rate limited: waiting %.1fs", wait * 2**attempt)
                await self.sleep(min(wait * 2**attempt, 60.0))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _all(self, page: Lister) -> list[dict[str, Any]]:
        """Every object of a Stripe list, following `starting_after` (newest first)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            items, has_more = await self._stripe(partial(page, starting_after=cursor))
            found += items
            if not has_more or not items:
                return found
            cursor = str(items[-1]["id"])

    def _absent_long_enough(self, reserved_at: str | None) -> bool:
        reserved = epoch_seconds(reserved_at)
        if reserved is None:
            return False  # unknown age: leave it to an operator rather than guess
        return self.now() - reserved > self.svc.settings.reconcile_absent_after_seconds

    # --- ledger rows --------------------------------------------------------------------------

    async def _settle(self, ledger: LedgerKind[R], rows: list[R], report: _Report) -> None:
        """Each account's rows against what Stripe made for it since the oldest of them."""
        by_account: dict[str, list[R]] = {}
        for row in rows:
            by_account.setdefault(row.stripe_account_id or "", []).append(row)
        for account, group in by_account.items():
            # Stripe's objects are not older than their rows (but for clock skew).
            oldest = min(epoch_seconds(r.reserved_at) or 0 for r in group)
            since = max(int(oldest) - CLOCK_SKEW_SECONDS, 0)
            try:
                made = await self._all(ledger.lister(self.svc, account, since))
            except ApiError as exc:
                report.errors.append(f"{ledger.where} {account}: {exc.code}")
                continue
            tagged = by_tag(made)
            for row in group:
                report.rows.append(await self._settle_row(ledger, row, tagged))

    async def _settle_row(
        self, ledger: LedgerKind[R], row: R, tagged: dict[tuple[str, str], dict[str, Any]]
    ) -> ReconciledRow:
        key, org_id = ledger.key(row), row.organization_id
        result = partial(
            ReconciledRow, kind=ledger.kind, organization_id=org_id, idempotency_key=key
        )
        found = tagged.get((org_id, key))
        try:
            if found is None:
                if not self._absent_long_enough(row.reserved_at):
                    return result(outcome="unknown", detail="not at Stripe yet; inside the window")
                message = REFUSED_MESSAGE.format(what=ledger.kind)
                # Not refused: the row finished meanwhile (its request or webhook won).
                refused = await ledger.refuse(self.svc, row, message)
                return result(outcome="refused" if refused else "completed")
            stripe_id, taken = await ledger.take(self.svc, row, found)
        except WorkerError as exc:
            mismatch = exc.code == f"{ledger.kind}_mismatch"
            return result(outcome="mismatch" if mismatch else "error", detail=exc.code)
        except (ApiError, ValidationError, KeyError, TypeError, ValueError) as exc:
            return result(
                outcome="error", detail=exc.code if isinstance(exc, ApiError) else "invalid"
            )
        if not taken:
            return result(outcome="mismatch", stripe_id=stripe_id, detail=ledger.not_taken)
        return result(outcome="completed", stripe_id=stripe_id)

    # --- missed events ------------------------------------------------------------------------

    async def _replay_events(self, report: _Report) -> None:
        try:
            accounts = await self.svc.worker.list_connected_accounts()
            checkpoints = await self.svc.worker.list_checkpoints()
        except ApiError as exc:
            report.errors.append(f"events: {exc.code}")
            return
        settings = self.svc.settings
        floor = int(self.now()) - settings.reconcile_event_lookback_seconds
        # Each scope, with the organization to mark deauthorized if its account is lost (None:
        # the platform, or an organization already recorded as deauthorized).
        owners: dict[str, str | None] = {PLATFORM: None}
        owners.update(
            (a.stripe_account_id, None if _deauthorized(a) else a.organization_id) for a in accounts
        )
        for scope, organization_id in owners.items():
            report.scopes += 1
            since = floor
            checkpoint = checkpoints.get(scope)
            if checkpoint is not None:
                since = max(
                    floor, checkpoint.event_created - settings.reconcile_event_overlap_seconds
                )
            await self._replay_scope(scope, organization_id, since, report)

    async def _replay_scope(
        self, scope: str, organization_id: str | None, since: int, report: _Report
    ) -> None:
        account = None if scope == PLATFORM else scope
        try:
            events = await self._all(
                partial(self.svc.stripe.list_undelivered_events, account, created_gte=since)
            )
        except StripeAccountAccessLost:
            # The account deauthorized the platform: its events (the deauthorization among them)
            # can no longer be read. Stripe's confirmed 403 says what that event would have, so
            # D1 records it as the webhook handler does.
            report.count("inaccessible_scopes")
            if organization_id is not None:
                try:
                    await mark_deauthorized(self.svc, organization_id, synced_at=int(self.now()))
                except ApiError as exc:
                    report.errors.append(f"deauthorizing {scope}: {exc.code}")
            return
        except ApiError as exc:
            report.errors.append(f"events of {scope}: {exc.code}")
            return
        settled_through: dict[str, Any] | None = None
        blocked = False
        for event in reversed(events):  # oldest first
            report.count("listed")
            outcome = await self._replay(event)
            report.count(outcome)
            if outcome == "deferred":
                blocked = True
            elif not blocked:
                settled_through = event
        if settled_through is not None:
            try:
                await self.svc.worker.advance_checkpoint(
                    scope,
                    event_created=int(settled_through["created"]),
                    event_id=str(settled_through["id"]),
                )
            except ApiError as exc:
                report.errors.append(f"checkpoint of {scope}: {exc.code}")

    async def _replay(self, event: dict[str, Any]) -> str:
        try:
            reply = await self.process_event(self.svc, parse_envelope(json.dumps(event).encode()))
        except ApiError as exc:
            # Another instance holds it, or it could not be applied: the next run retries it.
            logger.warning("replaying event %s: %s", event.get("id"), exc.code)
            return "deferred"
        if reply.rejected:
            return "already_applied" if reply.duplicate else "rejected"
        if reply.duplicate:
            return "already_applied"
        return "applied" if reply.handled else "not_handled"


def _deauthorized(account: ConnectedAccount) -> bool:
    return (
        account.stripe_connect_status == "disabled"
        and account.onboarding_rejection_reason == DEAUTHORIZED_REASON
    )
