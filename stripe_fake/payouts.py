"""Payout objects, their settlement (paid / failed), and Stripe's automatic payout scheduler.

The API's `POST /v1/payouts` and the control API's scheduler both build payouts here, so a
manual and an automatic payout differ only where Stripe's differ (`automatic`, metadata).
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass

from stripe_fake import payout_schedule
from stripe_fake.core import Fake
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON, PLATFORM

FAILURE_MESSAGES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "bank_account_restricted": "The bank account has restrictions on either the type or "
    "number of payouts allowed.",
    "could_not_process": "The bank could not process this payout.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The bank account number seems to be invalid.",
    "no_account": "The bank account details on file are probably incorrect.",
}


def new_payout(
    *,
    amount: int,
    currency: str,
    automatic: bool,
    description: str | None = None,
    meta: JSON | None = None,
    method: str = "standard",
    source_type: str = "card",
    statement_descriptor: str | None = None,
) -> JSON:
    created = now()
    return {
        "id": new_id("po_"),
        "object": "payout",
        "amount": amount,
        "arrival_date": created + 2 * 86400,
        "automatic": automatic,
        "balance_transaction": new_id("txn_"),
        "created": created,
        "currency": currency,
        "description": description,
        "destination": new_id("ba_"),
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": meta or {},
        "method": method,
        "original_payout": None,
        "reconciliation_status": "not_applicable" if not automatic else "in_progress",
        "reversed_by": None,
        "source_type": source_type,
        "statement_descriptor": statement_descriptor,
        "status": "pending",
        "type": "bank_account",
    }


def record(fake: Fake, payout: JSON, owner: str) -> None:
    """Store a new payout (its amount already taken from `owner`'s balance) and announce it."""
    fake.state.payouts[payout["id"]] = payout
    fake.state.payout_owner[payout["id"]] = owner
    account = None if owner == PLATFORM else owner
    fake.events.emit("payout.created", payout, account=account)


def settle(fake: Fake, payout: JSON, *, paid: bool, failure_code: str = "account_closed") -> None:
    """Paid, or failed with its amount back in the available balance; `payout.updated` then
    `payout.paid` / `payout.failed`, as Stripe sends them."""
    owner = fake.state.payout_owner[payout["id"]]
    account = None if owner == PLATFORM else owner
    before = copy.deepcopy(payout)
    if paid:
        payout["status"] = "paid"
        payout["arrival_date"] = now()
        if payout["automatic"]:
            payout["reconciliation_status"] = "completed"
    else:
        payout["status"] = "failed"
        payout["failure_code"] = failure_code
        payout["failure_message"] = FAILURE_MESSAGES.get(
            failure_code, "The payout could not be completed."
        )
        payout["failure_balance_transaction"] = new_id("txn_")
        fake.state.balance_of(owner, payout["currency"])["available"] += payout["amount"]
    previous = previous_attributes(before, payout)
    fake.events.emit("payout.updated", payout, account=account, previous=previous)
    fake.events.emit("payout.paid" if paid else "payout.failed", payout, account=account)


@dataclass(frozen=True, kw_only=True)
class SchedulerRun:
    payouts: list[JSON]
    skipped: dict[str, str]
    """Accounts considered but not paid out, with why (`manual`, `not_due`, ...)."""


def run_scheduler(
    fake: Fake,
    *,
    account: str | None = None,
    force: bool = False,
    pay: bool = True,
    today: datetime.date | None = None,
) -> SchedulerRun:
    """One pass of Stripe's automatic payouts: every connected account on an automatic schedule
    that is due today pays out its whole available balance per currency (`automatic: true`,
    no metadata), then the payout is paid unless `pay` is false (left `pending` to settle
    later). `force` ignores the weekly/monthly day. The schedule's `delay_days` is not modelled
    here: `available` funds are those already past it."""
    day = today or datetime.datetime.now(datetime.UTC).date()
    made: list[JSON] = []
    skipped: dict[str, str] = {}
    candidates = [account] if account is not None else list(fake.state.accounts)
    for account_id in candidates:
        acct = fake.state.accounts[account_id]
        schedule = acct["settings"]["payouts"]["schedule"]
        reason = None
        if fake.state.is_deauthorized(account_id):
            reason = "deauthorized"
        elif not payout_schedule.is_automatic(schedule):
            reason = "manual"
        elif not acct["payouts_enabled"]:
            reason = "payouts_disabled"
        elif not force and not payout_schedule.is_due(schedule, day):
            reason = "not_due"
        if reason is not None:
            skipped[account_id] = reason
            continue
        paid_any = False
        for currency, balance in sorted(fake.state.balances.get(account_id, {}).items()):
            if balance["available"] <= 0:
                continue
            payout = new_payout(
                amount=balance["available"],
                currency=currency,
                automatic=True,
                description="STRIPE PAYOUT",
            )
            balance["available"] = 0
            record(fake, payout, account_id)
            if pay:
                settle(fake, payout, paid=True)
            made.append(copy.deepcopy(payout))
            paid_any = True
        if not paid_any:
            skipped[account_id] = "no_available_balance"
    return SchedulerRun(payouts=made, skipped=skipped)
