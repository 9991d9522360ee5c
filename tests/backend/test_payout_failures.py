from __future__ import annotations

import pytest

from backend.money.payout_failures import DEFAULT_ADVICE, UPDATE_BANK, advice


@pytest.mark.parametrize("status", ["reserved", "refused", "pending", "in_transit", "paid"])
def test_only_a_failed_payout_gets_advice(status: str) -> None:
    assert advice(status, "account_closed") is None


def test_a_bank_problem_says_to_update_the_bank_account() -> None:
    assert advice("failed", "account_closed") == UPDATE_BANK
    assert advice("failed", "invalid_account_number") == UPDATE_BANK


def test_a_code_stripe_adds_later_still_gets_a_way_on() -> None:
    assert advice("failed", "some_new_code") == DEFAULT_ADVICE
    assert advice("failed", None) == DEFAULT_ADVICE
    assert "more funds" in (advice("failed", "insufficient_funds") or "")
