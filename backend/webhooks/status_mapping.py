"""Stripe account state → the three Connect columns in D1. Pure, so a table of cases tests it.

Order matters and is the whole design:
1. no account → pending / account_creation;
2. `requirements.disabled_reason` starting with `rejected.` → disabled / rejected (final);
3. charges and payouts enabled with no disabled_reason → active / complete (future `currently_due`
   items do not block: Stripe keeps the account enabled until their deadline);
4. details not submitted → pending / details_submission (checked after 3 and before 5 because a
   fresh Express account already reports `disabled_reason = requirements.past_due`);
5. Stripe itself is reviewing (`requirements.pending_verification`, `under_review`, `listed`) →
   pending / verification;
6. any other disabled_reason, or past-due requirements → disabled / verification with the reason:
   the account cannot receive money until someone acts, and "disabled" is what tells the UI to ask;
7. otherwise (submitted, not yet enabled) → pending / verification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from backend.core.records import ConnectStatus, OnboardingStep, PayoutInterval, Weekday

UNDER_REVIEW_REASONS = frozenset({"requirements.pending_verification", "under_review", "listed"})
DEAUTHORIZED_REASON = "deauthorized"


@dataclass(frozen=True, slots=True)
class AccountStatus:
    stripe_connect_status: ConnectStatus
    onboarding_step: OnboardingStep
    onboarding_rejection_reason: str | None


def _string_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def map_account_status(account: Mapping[str, Any] | None) -> AccountStatus:
    if account is None:
        return AccountStatus("pending", "account_creation", None)
    requirements = account.get("requirements") or {}
    disabled_reason = requirements.get("disabled_reason") or None
    past_due = _string_list(requirements.get("past_due"))
    charges = bool(account.get("charges_enabled"))
    payouts = bool(account.get("payouts_enabled"))
    submitted = bool(account.get("details_submitted"))

    if isinstance(disabled_reason, str) and disabled_reason.startswith("rejected."):
        return AccountStatus("disabled", "rejected", disabled_reason)
    if charges and payouts and disabled_reason is None:
        return AccountStatus("active", "complete", None)
    if not submitted:
        return AccountStatus("pending", "details_submission", None)
    if disabled_reason in UNDER_REVIEW_REASONS:
        return AccountStatus("pending", "verification", None)
    if disabled_reason is not None:
        return AccountStatus("disabled", "verification", str(disabled_reason))
    if past_due:
        return AccountStatus("disabled", "verification", "requirements.past_due")
    return AccountStatus("pending", "verification", None)


def organization_fields(account: Mapping[str, Any]) -> dict[str, Any]:
    """Every Connect column the Worker's `update-organization` accepts, from one account object."""
    status = map_account_status(account)
    requirements = account.get("requirements") or {}
    return {
        "stripe_connect_status": status.stripe_connect_status,
        "onboarding_step": status.onboarding_step,
        "onboarding_rejection_reason": status.onboarding_rejection_reason,
        "charges_enabled": bool(account.get("charges_enabled")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "details_submitted": bool(account.get("details_submitted")),
        "requirements_currently_due": _string_list(requirements.get("currently_due")),
        "requirements_past_due": _string_list(requirements.get("past_due")),
        "requirements_disabled_reason": requirements.get("disabled_reason") or None,
        "requirements_current_deadline": _deadline(requirements.get("current_deadline")),
        **payout_schedule_fields(account),
    }


PAYOUT_INTERVALS = get_args(PayoutInterval)
WEEKDAYS = get_args(Weekday)


def payout_schedule_fields(account: Mapping[str, Any]) -> dict[str, Any]:
    """`settings.payouts.schedule` → the four schedule columns. An account that shows no schedule
    (or one this code does not know) reads as `manual`, the state in which we never claim that
    Stripe pays out on its own; anchors of another interval are dropped, as Stripe drops them."""
    settings = account.get("settings") or {}
    payouts = settings.get("payouts") if isinstance(settings, Mapping) else None
    schedule = payouts.get("schedule") if isinstance(payouts, Mapping) else None
    schedule = schedule if isinstance(schedule, Mapping) else {}
    interval = schedule.get("interval")
    interval = interval if interval in PAYOUT_INTERVALS else "manual"
    weekly = schedule.get("weekly_anchor")
    monthly = schedule.get("monthly_anchor")
    return {
        "payout_schedule_interval": interval,
        "payout_schedule_delay_days": _bounded(schedule.get("delay_days"), 0, 365),
        "payout_schedule_weekly_anchor": weekly
        if interval == "weekly" and weekly in WEEKDAYS
        else None,
        "payout_schedule_monthly_anchor": _bounded(monthly, 1, 31)
        if interval == "monthly"
        else None,
    }


def _bounded(value: object, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _deadline(value: object) -> int | None:
    """Stripe sends Unix seconds or null; anything else is treated as no deadline."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def deauthorized_fields() -> dict[str, Any]:
    """After `account.application.deauthorized` the platform can no longer read the account."""
    return {
        "stripe_connect_status": "disabled",
        "onboarding_step": "rejected",
        "onboarding_rejection_reason": DEAUTHORIZED_REASON,
        "charges_enabled": False,
        "payouts_enabled": False,
    }
