"""Disputes (chargebacks): opening one on a charge, evidence, and closing it won or lost.

Stripe's money rule, followed here: when a card dispute opens, the disputed amount and the
dispute fee are withdrawn from the balance of whoever owns the charge (the platform for its own
and destination charges) as one balance transaction; a dispute won reinstates the disputed amount
only — the dispute fee is Stripe's to keep; a dispute lost stays withdrawn. The control API
(`/_fake/charges/{id}/dispute`, `/_fake/disputes/{id}/close`) and the API's
`POST /v1/disputes/{id}[/close]` all change disputes through this module.
"""

from __future__ import annotations

import copy

from stripe_fake.core import Fake
from stripe_fake.errors import StripeFakeError, invalid_request
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON, PLATFORM

# Stripe's dispute reasons (the Dispute object's `reason`).
REASONS = (
    "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
    "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
    "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
    "subscription_canceled", "unrecognized",
)  # fmt: skip
OPEN = frozenset({"needs_response", "under_review"})
CLOSED = frozenset({"won", "lost"})
EVIDENCE_DAYS = 21
# The evidence fields of Stripe's Dispute object (all null until the platform submits some).
EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text",
)  # fmt: skip


def charge_owner(fake: Fake, charge: JSON) -> str:
    """Whose balance a charge's funds went to (and so whose balance a dispute debits)."""
    return fake.state.payment_intent_owner.get(charge["payment_intent"] or "", PLATFORM)


def _event_account(owner: str) -> str | None:
    return None if owner == PLATFORM else owner


def open_dispute_of(fake: Fake, charge_id: str) -> JSON | None:
    """The charge's dispute that still holds its funds (open, or closed lost), if any."""
    for dispute in fake.state.disputes.values():
        if dispute["charge"] == charge_id and dispute["status"] != "won":
            return dispute
    return None


def _balance_transaction(
    dispute: JSON, *, amount: int, fee: int, description: str, category: str
) -> JSON:
    created = now()
    fee_details = []
    if fee:
        fee_details = [
            {"amount": fee, "application": None, "currency": dispute["currency"],
             "description": "Dispute fee", "type": "stripe_fee"}
        ]  # fmt: skip
    return {
        "id": new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "balance_type": "payments",
        "created": created,
        "currency": dispute["currency"],
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": category,
        "source": dispute["id"],
        "status": "available",
        "type": "adjustment",
    }


def _dispute_object(charge: JSON, *, amount: int, reason: str) -> JSON:
    created = now()
    evidence: JSON = dict.fromkeys(EVIDENCE_FIELDS)
    evidence["enhanced_evidence"] = {}
    return {
        "id": new_id("du_"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": created + EVIDENCE_DAYS * 86400,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "network_reason_code": None,
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "case_type": "chargeback",
                "network": "visa",
                "network_reason_code": None,
            },
            "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
    }


def open_dispute(fake: Fake, charge: JSON, *, amount: int | None, reason: str) -> JSON:
    """The cardholder's bank disputes the charge: `charge.dispute.created`, then the amount plus
    the dispute fee leave the owner's balance (`charge.dispute.funds_withdrawn`)."""
    if reason not in REASONS:
        raise invalid_request(f"Invalid reason: must be one of {', '.join(REASONS)}.")
    if charge["status"] != "succeeded":
        raise invalid_request(f"Charge {charge['id']} has not succeeded; it cannot be disputed.")
    if open_dispute_of(fake, charge["id"]) is not None or charge["disputed"]:
        raise invalid_request(f"Charge {charge['id']} has already been disputed.")
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has been fully refunded; it can no longer be disputed."
        )
    disputed = left if amount is None else amount
    if not 1 <= disputed <= left:
        raise invalid_request(
            f"The disputed amount must be between 1 and what was not refunded ({left})."
        )
    dispute = _dispute_object(charge, amount=disputed, reason=reason)
    fee = fake.config.dispute_fee
    owner = charge_owner(fake, charge)
    withdrawal = _balance_transaction(
        dispute,
        amount=-disputed,
        fee=fee,
        description=f"Chargeback withdrawal for {charge['id']}",
        category="dispute",
    )
    dispute["balance_transactions"].append(withdrawal)
    fake.state.balance_of(owner, charge["currency"])["available"] += withdrawal["net"]
    fake.state.disputes[dispute["id"]] = dispute
    charge["disputed"] = True
    account = _event_account(owner)
    fake.events.emit("charge.dispute.created", dispute, account=account)
    fake.events.emit("charge.dispute.funds_withdrawn", dispute, account=account)
    return copy.deepcopy(dispute)


def _require_open(dispute: JSON) -> None:
    if dispute["status"] not in OPEN:
        raise StripeFakeError(
            400,
            type="invalid_request_error",
            message=f"This dispute is already closed (status: {dispute['status']}).",
        )


def submit_evidence(
    fake: Fake, dispute: JSON, evidence: JSON, meta: JSON | None, submit: bool
) -> JSON:
    """`POST /v1/disputes/{id}`: stage evidence (and submit it: `under_review`), set metadata;
    `charge.dispute.updated` when anything changed."""
    before = copy.deepcopy(dispute)
    if evidence:
        _require_open(dispute)
        for key, value in evidence.items():
            dispute["evidence"][key] = value if value != "" else None
        dispute["evidence_details"]["has_evidence"] = True
    if submit and dispute["status"] == "needs_response":
        details = dispute["evidence_details"]
        details["submission_count"] += 1
        details["submission_method"] = "manual"
        dispute["status"] = "under_review"
    if meta is not None:
        dispute["metadata"] = meta
    previous = previous_attributes(before, dispute)
    if previous:
        owner = charge_owner(fake, fake.state.charges[dispute["charge"]])
        fake.events.emit(
            "charge.dispute.updated", dispute, account=_event_account(owner), previous=previous
        )
    return copy.deepcopy(dispute)


def close_dispute(fake: Fake, dispute: JSON, *, won: bool) -> JSON:
    """The bank decides: `charge.dispute.closed`; a win also reinstates the disputed amount (not
    the fee) with `charge.dispute.funds_reinstated`."""
    _require_open(dispute)
    before = copy.deepcopy(dispute)
    charge = fake.state.charges[dispute["charge"]]
    owner = charge_owner(fake, charge)
    account = _event_account(owner)
    dispute["status"] = "won" if won else "lost"
    if won:
        reinstated = _balance_transaction(
            dispute,
            amount=dispute["amount"],
            fee=0,
            description=f"Chargeback reversal for {charge['id']}",
            category="dispute_reversal",
        )
        dispute["balance_transactions"].append(reinstated)
        fake.state.balance_of(owner, dispute["currency"])["available"] += reinstated["net"]
    fake.events.emit(
        "charge.dispute.closed",
        dispute,
        account=account,
        previous=previous_attributes(before, dispute),
    )
    if won:
        fake.events.emit("charge.dispute.funds_reinstated", dispute, account=account)
    return copy.deepcopy(dispute)
