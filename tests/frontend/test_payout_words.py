"""`frontend/payout-words.mjs` run by the real Node: every Connect state and requirement in words,
and money parsed and printed in minor units without floats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MODULE = (Path(__file__).resolve().parents[2] / "frontend" / "payout-words.mjs").as_uri()

BASE: dict[str, Any] = {
    "stripe_connect_account_id": "acct_1",
    "stripe_connect_status": "pending",
    "onboarding_step": "details_submission",
    "onboarding_rejection_reason": None,
    "details_submitted": False,
    "requirements_currently_due": [],
    "requirements_past_due": [],
    "requirements_disabled_reason": None,
}


def _node(script: str) -> Any:
    node = shutil.which("node")
    assert node is not None, "Node 20 is required"
    done = subprocess.run(
        [node, "--input-type=module", "-e", f'import * as w from "{MODULE}";\n{script}'],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _state(**fields: Any) -> dict[str, str]:
    status = {**BASE, **fields}
    out: dict[str, str] = _node(
        f"console.log(JSON.stringify(w.describeState({json.dumps(status)})))"
    )
    return out


@pytest.mark.parametrize(
    ("fields", "key", "label"),
    [
        (
            {"stripe_connect_account_id": None, "onboarding_step": "account_creation"},
            "not_started",
            "Not set up",
        ),
        ({}, "details_needed", "Details needed"),
        ({"onboarding_step": "verification", "details_submitted": True}, "in_review", "In review"),
        ({"stripe_connect_status": "active", "onboarding_step": "complete"}, "active", "Active"),
        (
            {
                "stripe_connect_status": "disabled",
                "onboarding_step": "verification",
                "onboarding_rejection_reason": "requirements.past_due",
            },
            "restricted",
            "Restricted",
        ),
        (
            {
                "stripe_connect_status": "disabled",
                "onboarding_step": "rejected",
                "onboarding_rejection_reason": "rejected.fraud",
            },
            "rejected",
            "Rejected",
        ),
    ],
)
def test_each_connect_state_has_a_label_and_a_sentence(
    fields: dict[str, Any], key: str, label: str
) -> None:
    state = _state(**fields)
    assert (state["key"], state["label"]) == (key, label)
    assert state["detail"].endswith(".")
    assert "_" not in state["detail"]  # no raw codes such as account_creation


def test_rejection_and_restriction_say_why() -> None:
    rejected = _state(
        stripe_connect_status="disabled",
        onboarding_step="rejected",
        onboarding_rejection_reason="rejected.fraud",
    )
    assert "suspected fraud" in rejected["detail"]
    gone = _state(
        stripe_connect_status="disabled",
        onboarding_step="rejected",
        onboarding_rejection_reason="deauthorized",
    )
    assert "disconnected" in gone["detail"]
    restricted = _state(
        stripe_connect_status="disabled",
        onboarding_step="verification",
        onboarding_rejection_reason="requirements.past_due",
    )
    assert "overdue" in restricted["detail"]


def test_requirements_are_readable_deduplicated_and_past_due_first() -> None:
    status = {
        **BASE,
        "requirements_currently_due": [
            "external_account",
            "individual.dob.day",
            "individual.dob.month",
            "some.new_field",
        ],
        "requirements_past_due": ["tos_acceptance.date"],
    }
    items = _node(f"console.log(JSON.stringify(w.describeRequirements({json.dumps(status)})))")
    assert items == [
        {"text": "Acceptance of Stripe's terms of service", "pastDue": True},
        {"text": "A bank account to pay out to", "pastDue": False},
        {"text": "Date of birth", "pastDue": False},
        {"text": "Some new field", "pastDue": False},
    ]


def test_amounts_are_minor_units_parsed_from_text_per_currency() -> None:
    out = _node(
        "console.log(JSON.stringify(["
        "w.parseAmount('20', 'usd'), w.parseAmount('20.5', 'usd'), w.parseAmount('0.07', 'usd'),"
        "w.parseAmount('1.234', 'usd'), w.parseAmount('-1', 'usd'), w.parseAmount('abc', 'usd'),"
        "w.parseAmount('500', 'jpy'), w.parseAmount('500.5', 'jpy'),"
        "w.parseAmount('123456789012.34', 'usd'),"
        "w.minorDigits('usd'), w.minorDigits('jpy'),"
        "w.formatMoney(5000, 'usd'), w.formatMoney(7, 'usd'), w.formatMoney(500, 'jpy')]))"
    )
    assert out[:9] == [2000, 2050, 7, None, None, None, 500, None, 12345678901234]
    assert out[9:11] == [2, 0]
    assert out[11] == "$50.00"
    assert out[12] == "$0.07"
    assert out[13] in ("¥500", "JP¥500")


def test_a_deadline_reads_as_a_date_ahead_or_overdue() -> None:
    out = _node(
        "const now = Date.UTC(2027, 0, 10);"
        "console.log(JSON.stringify(["
        "w.describeDeadline(Date.UTC(2027, 0, 24) / 1000, now),"
        "w.describeDeadline(Date.UTC(2027, 0, 3) / 1000, now),"
        "w.describeDeadline(null, now), w.describeDeadline(0, now)]))"
    )
    assert out[0].startswith("Provide these by ")
    assert "24" in out[0]
    assert "2027" in out[0]
    assert out[1].startswith("These were due by ")
    assert out[2:] == ["", ""]


def _call(expression: str) -> Any:
    return _node(f"console.log(JSON.stringify({expression}))")


@pytest.mark.parametrize(
    ("role", "manages"),
    [
        ("owner", True),
        ("admin", True),
        ("member", False),
        ("member, admin", True),  # Better Auth splits on "," and trims each part
        ("member,owner", True),
        ("Owner", False),  # compared case-sensitively, as Better Auth does
        ("owners", False),
        ("", False),
        (None, False),
    ],
)
def test_managing_payouts_follows_better_auths_role_list(role: str | None, manages: bool) -> None:
    assert _call(f"w.canManagePayouts({json.dumps(role)})") is manages


def test_the_fee_rate_is_named_from_the_backends_percent_and_fixed_part() -> None:
    out = _call(
        "[w.describeFeeRate(10, 0, 'usd'), w.describeFeeRate(2.9, 30, 'usd'),"
        " w.describeFeeRate(0, 30, 'usd'), w.describeFeeRate(0, 0, 'usd'),"
        " w.describeFeeRule(10, 0, 'usd'), w.describeFeeRule(0, 0, 'usd')]"
    )
    assert out[:4] == ["10%", "2.9% + $0.30", "$0.30", ""]
    assert out[4].startswith("The platform keeps its fee of 10% from each payment")
    assert "no fee" in out[5]


def test_an_untouched_payment_reads_as_its_amount_and_the_day_it_was_paid() -> None:
    payment = {
        "payment_intent_id": "pi_1",
        "charge_id": "ch_1",
        "amount": 10_000,
        "amount_refunded": 0,
        "amount_transferred": 0,
        "amount_remaining": 10_000,
        "currency": "usd",
        "created": 1_796_083_200,  # 2026-12-01 00:00 UTC
    }
    out = _call(f"w.describePayment({json.dumps(payment)}, 'UTC')")
    assert out == {"left": "$100.00", "detail": "Paid Dec 1, 2026"}


def test_a_partly_refunded_and_transferred_payment_says_where_the_rest_went() -> None:
    payment = {
        "payment_intent_id": "pi_1",
        "charge_id": "ch_1",
        "amount": 10_000,
        "amount_refunded": 2_000,
        "amount_transferred": 3_000,
        "amount_remaining": 5_000,
        "currency": "usd",
        "created": 1_796_083_200,
    }
    out = _call(f"w.describePayment({json.dumps(payment)}, 'UTC')")
    assert out["left"] == "$50.00"
    assert out["detail"] == (
        "Paid Dec 1, 2026 · of $100.00, $20.00 refunded, $30.00 already transferred"
    )


def test_the_automatic_setting_says_what_happens_and_how_to_claim_older_payments() -> None:
    out = _call(
        "[w.describeAutoTransfer(false, 1), w.describeAutoTransfer(false, 0),"
        " w.describeAutoTransfer(true, 0), w.describeAutoTransfer(true, 2)]"
    )
    assert out[0].startswith("Automatic transfers are off")
    assert out[1].startswith("Automatic transfers are off")
    assert out[2].startswith("Automatic transfers are on")
    assert "turn automatic transfers off to transfer them yourself" in out[3]


@pytest.mark.parametrize(
    ("code", "message", "says", "retry", "refresh"),
    [
        (
            "below_minimum_transfer",
            "The transfer is below the minimum transfer of 50 usd (minor units).",
            "too small to transfer on its own (the smallest is $0.50)",
            False,
            False,
        ),
        ("below_minimum_transfer", "reworded by the backend", "too small", False, False),
        ("source_exhausted", "Nothing is left.", "already transferred or refunded", False, True),
        ("source_not_found", "No payment.", "cannot be found", False, True),
        ("source_not_succeeded", "Not succeeded.", "has not gone through yet", True, False),
        ("account_not_ready", "Not ready.", "Finish setting up payouts", False, False),
        ("invalid_amount", "After the fee…", "nothing would be left", False, False),
        ("transfer_failed", "balance_insufficient", "Stripe refused the transfer", False, True),
        ("transfer_outcome_unknown", "Unknown.", "do not send it again", False, False),
    ],
)
def test_each_transfer_refusal_is_in_words_with_a_way_on(
    code: str, message: str, says: str, retry: bool, refresh: bool
) -> None:
    out = _call(f"w.describeTransferRefusal({json.dumps(code)}, {json.dumps(message)})")
    assert says in out["message"]
    assert (out["retry"], out["refresh"]) == (retry, refresh)
    assert "_" not in out["message"]  # no raw codes
    assert "minor units" not in out["message"]


def test_failures_that_are_not_about_the_payment_are_left_to_the_general_explanation() -> None:
    assert _call("w.describeTransferRefusal('network_error', 'x')") is None
    assert _call("w.describeTransferRefusal('insufficient_role', 'x')") is None


def _schedule(interval: str, **fields: Any) -> str:
    status = {
        "payout_schedule_interval": interval,
        "payout_schedule_delay_days": None,
        "payout_schedule_weekly_anchor": None,
        "payout_schedule_monthly_anchor": None,
        **fields,
    }
    out: str = _call(f"w.describeSchedule({json.dumps(status)})")
    return out


def test_each_payout_schedule_says_who_pays_out_and_when() -> None:
    assert _schedule("manual").startswith("Manual: money stays in your Stripe balance")
    assert "every day" in _schedule("daily")
    assert "every Friday" in _schedule("weekly", payout_schedule_weekly_anchor="friday")
    assert "on the 1st of each month." in _schedule("monthly", payout_schedule_monthly_anchor=1)
    assert "on the 22nd" in _schedule("monthly", payout_schedule_monthly_anchor=22)
    assert "on the 12th" in _schedule("monthly", payout_schedule_monthly_anchor=12)
    assert "31st of each month (or the month's last day)" in _schedule(
        "monthly", payout_schedule_monthly_anchor=31
    )
    assert "waits 7 days" in _schedule("daily", payout_schedule_delay_days=7)


PAYOUT = {
    "stripe_payout_id": "po_1",
    "amount": 13_800,
    "currency": "usd",
    "status": "paid",
    "automatic": True,
    "failure_code": None,
    "failure_message": None,
    "failure_advice": None,
    "arrival_date": 1_795_000_000,
    "updated_at": "2026-11-30T10:00:00.000Z",
}


def test_a_failed_payout_says_what_went_wrong_and_what_to_do() -> None:
    failed = {
        **PAYOUT,
        "status": "failed",
        "failure_code": "account_closed",
        "failure_message": "The bank account has been closed.",
        "failure_advice": "Update the bank account in the Stripe Express Dashboard.",
    }
    out = _call(f"w.describePayoutEntry({json.dumps(failed)}, 'UTC')")
    assert out == {
        "amount": "$138.00",
        "state": "Failed",
        "failed": True,
        "detail": "The bank account has been closed. Update the bank account in the Stripe "
        "Express Dashboard.",
    }
    paid = _call(f"w.describePayoutEntry({json.dumps(PAYOUT)}, 'UTC')")
    assert (paid["state"], paid["failed"]) == ("Paid", False)
    assert paid["detail"].startswith("Automatic payout · arrival ")
    refused = {**PAYOUT, "status": "refused", "automatic": False, "failure_message": "/v1/x"}
    assert "/v1" not in _call(f"w.describePayoutEntry({json.dumps(refused)}, 'UTC')")["detail"]


def test_a_transfer_entry_shows_what_arrived_from_which_payment() -> None:
    transfer = {
        "gross_amount": 10_000,
        "fee_amount": 1_000,
        "net_amount": 9_000,
        "currency": "usd",
        "stripe_transfer_id": "tr_1",
        "status": "reversed",
        "amount_reversed": 9_000,
        "failure_message": None,
        "source_transaction": "ch_1",
        "reason": None,
        "initiated_by": "member",
        "created_at": "2026-11-30T10:00:00.000Z",
    }
    out = _call(f"w.describeTransferEntry({json.dumps(transfer)}, 'UTC')")
    assert out["amount"] == "$90.00"
    assert out["state"] == "Reversed"
    assert out["detail"] == "Nov 30, 2026 · $100.00 payment less the $10.00 fee · $90.00 taken back"
