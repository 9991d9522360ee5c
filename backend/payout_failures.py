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
_ADVICE = {
    "account_closed": "The bank account is closed. " + UPDATE_BANK,
    "account_frozen": "The bank account is frozen. Contact your bank, or "
    + UPDATE_BANK[0].lower()
    + UPDATE_BANK[1:],
    "bank_account_restricted": "The bank account restricts this kind of payment. " + UPDATE_BANK,
    "bank_ownership_changed": "The bank account changed owner. " + UPDATE_BANK,
    "could_not_process": "The bank could not process the payout. Pay out again later, or "
    + UPDATE_BANK[0].lower()
    + UPDATE_BANK[1:],
    "debit_not_authorized": "The bank refused the transaction. Ask your bank to allow payments "
    "from Stripe, then pay out again.",
    "declined": "The bank declined the payout. " + UPDATE_BANK,
    "incorrect_account_holder_address": "The account holder's address does not match the bank's "
    "records. " + UPDATE_BANK,
    "incorrect_account_holder_name": "The account holder's name does not match the bank's "
    "records. " + UPDATE_BANK,
    "incorrect_account_holder_tax_id": "The account holder's tax id does not match the bank's "
    "records. " + UPDATE_BANK,
    "insufficient_funds": "The Stripe balance did not cover the payout. Wait until more funds "
    "are available, then pay out again.",
    "invalid_account_number": "The account number is invalid. " + UPDATE_BANK,
    "invalid_currency": "The bank account cannot receive this currency. " + UPDATE_BANK,
    "no_account": "The bank has no such account. " + UPDATE_BANK,
    "unsupported_card": "The debit card no longer accepts payouts. " + UPDATE_BANK,
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
