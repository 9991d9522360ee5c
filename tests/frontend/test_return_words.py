"""`frontend/return-words.mjs` run by the real Node: a payment's fee and net or its dispute,
refunds and disputes that took money back (or sent it back), and debts, in words."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MODULE = (Path(__file__).resolve().parents[2] / "frontend" / "return-words.mjs").as_uri()

PAYMENT: dict[str, Any] = {
    "payment_intent_id": "pi_1",
    "charge_id": "ch_1",
    "amount": 10_000,
    "amount_refunded": 0,
    "amount_transferred": 0,
    "amount_remaining": 10_000,
    "amount_disputed": 0,
    "dispute_status": None,
    "fee_amount": 1_000,
    "net_amount": 9_000,
    "currency": "usd",
    "created": 1_764_000_000,
}

RETURN: dict[str, Any] = {
    "id": 1,
    "source_transaction": "ch_1",
    "stripe_transfer_id": "tr_1",
    "kind": "reversal",
    "cause": "refund",
    "amount": 9_000,
    "currency": "usd",
    "status": "done",
    "stripe_object_id": "trr_1",
    "amount_reversed": 9_000,
    "amount_recovered": 0,
    "amount_forgiven": 0,
    "amount_owed": 0,
    "failure_message": None,
    "created_at": "2026-11-27T15:47:04.557Z",
    "updated_at": "2026-11-27T15:47:04.557Z",
}


def _call(expression: str) -> Any:
    node = shutil.which("node")
    assert node is not None, "Node 20 is required"
    done = subprocess.run(
        [node, "--input-type=module", "-e",
         f'import * as w from "{MODULE}";\nconsole.log(JSON.stringify({expression}))'],
        capture_output=True, text=True, timeout=30, check=False,
        env={"LANG": "en_US.UTF-8", "TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _split(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = _call(f"w.describePaymentSplit({json.dumps({**PAYMENT, **fields})})")
    return found


def _entry(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = _call(
        f'w.describeReturnEntry({json.dumps({**RETURN, **fields})}, "UTC")'
    )
    return found


def test_a_payment_shows_the_fee_and_net_its_transfer_would_have() -> None:
    assert _split() == {"disputed": False, "text": "Platform fee $10.00 · you receive $90.00"}


def test_a_payment_too_small_for_any_net_says_so() -> None:
    split = _split(amount_remaining=5, fee_amount=0, net_amount=0)
    assert split == {
        "disputed": False,
        "text": "Too small to transfer on its own once the platform fee is taken.",
    }


@pytest.mark.parametrize("status", ["needs_response", "under_review", "warning_needs_response"])
def test_a_payment_under_dispute_cannot_be_transferred(status: str) -> None:
    split = _split(dispute_status=status, amount_remaining=0, fee_amount=0, net_amount=0)
    assert split["disputed"] is True
    assert split["text"].startswith("Disputed: the customer's bank is reviewing this payment.")


def test_a_lost_dispute_says_the_money_went_back_to_the_customer() -> None:
    split = _split(dispute_status="lost", amount_remaining=0)
    assert split["disputed"] is True
    assert "decided for the customer" in split["text"]


@pytest.mark.parametrize("status", ["won", "warning_closed"])
def test_a_settled_dispute_no_longer_holds_the_payment(status: str) -> None:
    assert _split(dispute_status=status)["disputed"] is False


def test_a_refund_reversed_from_a_transfer_reads_as_returned_to_the_platform() -> None:
    assert _entry() == {
        "amount": "\u2212$90.00",
        "state": "Refunded",
        "failed": False,
        "detail": "Nov 27, 2026 · Refunded \u2212$90.00, returned to the platform.",
    }


def test_a_dispute_reversal_reads_as_disputed() -> None:
    entry = _entry(cause="dispute", amount=4_500, amount_reversed=4_500)
    assert (entry["state"], entry["amount"]) == ("Disputed", "\u2212$45.00")
    assert "Disputed \u2212$45.00, returned to the platform." in entry["detail"]


def test_a_debt_says_what_is_owed_and_where_it_will_come_from() -> None:
    entry = _entry(status="owed", amount=2_500, amount_reversed=0, amount_owed=2_000)
    assert (entry["state"], entry["failed"]) == ("Owed", True)
    assert entry["detail"] == (
        "Nov 27, 2026 · Refunded, but your balance could not give it back. Owed to the platform: "
        "$20.00, taken from your next transfer ($5.00 of $25.00 already paid back)."
    )


def test_a_debt_paid_from_a_later_transfer_says_so() -> None:
    entry = _entry(amount=2_500, amount_reversed=0, amount_recovered=2_500)
    assert entry["detail"].endswith("$25.00 of it came from a later transfer.")


def test_a_debt_forgiven_because_the_money_came_back_took_nothing() -> None:
    entry = _entry(cause="dispute", amount=2_500, amount_reversed=0, amount_forgiven=2_500)
    assert (entry["state"], entry["amount"]) == ("Not needed", "$0.00")


def test_a_pending_return_is_being_returned() -> None:
    entry = _entry(status="pending", amount_reversed=0)
    assert (entry["state"], entry["failed"]) == ("Returning", False)
    assert entry["detail"].endswith("being returned to the platform.")


def test_a_won_dispute_sends_the_money_back_to_the_balance() -> None:
    entry = _entry(kind="reinstatement", cause="dispute", amount=4_500, stripe_object_id="tr_2")
    assert entry == {
        "amount": "+$45.00",
        "state": "Sent back",
        "failed": False,
        "detail": "Nov 27, 2026 · The dispute was won: $45.00 sent back to your Stripe balance.",
    }


def test_a_reinstatement_stripe_refused_stands_out_with_the_reason() -> None:
    entry = _entry(kind="reinstatement", status="failed", failure_message="account closed")
    assert (entry["state"], entry["failed"]) == ("Failed", True)
    assert "Stripe refused to send the money back: account closed." in entry["detail"]


@pytest.mark.parametrize(
    ("owed", "text"),
    [
        ([], None),
        ([{"amount": 0, "currency": "usd"}], None),
        (
            [{"amount": 2_500, "currency": "usd"}],
            "Owed to the platform: $25.00, taken from your next transfer.",
        ),
        (
            [{"amount": 2_500, "currency": "usd"}, {"amount": 300, "currency": "jpy"}],
            "Owed to the platform: $25.00 and ¥300, taken from your next transfers.",
        ),
    ],
)
def test_what_is_owed_to_the_platform_in_one_sentence(
    owed: list[dict[str, Any]], text: str | None
) -> None:
    assert _call(f"w.describeDebt({json.dumps(owed)})") == text


def test_a_disputed_payment_is_headed_by_what_the_dispute_holds() -> None:
    disputed = {**PAYMENT, "amount_refunded": 1_000, "amount_remaining": 0,
                "amount_disputed": 9_000, "dispute_status": "needs_response"}  # fmt: skip
    held = _call(f"w.asHeldByDispute({json.dumps(disputed)})")
    assert held["amount_remaining"] == 9_000
    assert _call(f"w.asHeldByDispute({json.dumps(PAYMENT)})") == PAYMENT
