"""What the transfer and payout flows share about replaying a ledger row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.errors import Conflict

# Stripe keeps an idempotency key for at least 24 hours. A ledger row still waiting for Stripe's
# answer is re-sent with its key only well inside that window: later, Stripe may have forgotten
# the key, and if the first attempt did reach it, re-sending would move the money twice.
RESEND_WINDOW = timedelta(hours=23)


def too_old_to_resend(reserved_at: str | None) -> bool:
    if reserved_at is None:
        return False
    try:
        moment = datetime.fromisoformat(reserved_at)
    except ValueError:
        return True  # unknown age: do not risk a second transfer
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.now(UTC) - moment > RESEND_WINDOW


def outcome_unknown(what: str) -> Conflict:
    return Conflict(
        code=f"{what}_outcome_unknown",
        message=f"Whether Stripe made this {what} is unknown and its idempotency window has "
        "passed; it is not sent again. Contact support to reconcile it.",
    )


def key_reused() -> Conflict:
    return Conflict(
        code="idempotency_key_reused",
        message="This Idempotency-Key was used with a different request.",
    )


def check_same_request(stored_hash: str, request_hash: str) -> None:
    if stored_hash != request_hash:
        raise key_reused()


def require_ready(account_id: str | None, *, status: str | None, payouts_enabled: bool) -> str:
    if not account_id or status != "active" or not payouts_enabled:
        raise Conflict(
            code="account_not_ready",
            message="The organization's Stripe account cannot receive transfers yet.",
        )
    return account_id
