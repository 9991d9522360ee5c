"""Why a payout failed, as what the organization should do next (from Stripe's `failure_code`).

Stripe's `failure_message` says what went wrong; a person also needs the next step, and for most
codes that step is "fix the bank account in the Express Dashboard" — Stripe then retries nothing by
itself: the money waits in the balance for the next payout.
"""

from __future__ import annotations

UPDATE_BANK = (
    "Update the bank account in the Stripe Express Dashboard, then pay out again: the money is "
    "back in your Stripe balance."
)
# Only the next step: Stripe's `failure_message`, shown beside it, already says what went wrong.
_ADVICE = {
    **dict.fromkeys(
        (
            "account_closed",
            "bank_account_restricted",
            "bank_ownership_changed",
            "declined",
            "incorrect_account_holder_address",
            "incorrect_account_holder_name",
            "incorrect_account_holder_tax_id",
            "invalid_account_number",
            "invalid_currency",
            "no_account",
            "unsupported_card",
        ),
        UPDATE_BANK,
    ),
    "account_frozen": "Ask your bank to unfreeze the account, or update the bank account in the "
    "Stripe Express Dashboard; then pay out again: the money is back in your Stripe balance.",
    "could_not_process": "Pay out again later; if it fails again, update the bank account in the "
    "Stripe Express Dashboard. The money is back in your Stripe balance.",
    "debit_not_authorized": "Ask your bank to accept payments from Stripe, then pay out again: "
    "the money is back in your Stripe balance.",
    "insufficient_funds": "Wait until more funds are available, then pay out again.",
}
DEFAULT_ADVICE = (
    "Check the bank account in the Stripe Express Dashboard, then pay out again: the money is back "
    "in your Stripe balance."
)


def advice(status: str, failure_code: str | None) -> str | None:
    """What to do about a failed payout; None for any other status."""
    if status != "failed":
        return None
    return _ADVICE.get(failure_code or "", DEFAULT_ADVICE)
