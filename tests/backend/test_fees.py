from __future__ import annotations

from decimal import Decimal

import pytest

from backend.money.fees import FeeError, compute_fee, minor_unit_exponent


@pytest.mark.parametrize(
    ("gross", "percent", "fixed", "currency", "fee"),
    [
        (10_000, 10.0, 0, "usd", 1_000),
        (1_005, 10.0, 0, "usd", 101),  # 100.5 rounds half-up
        (1_004, 10.0, 0, "usd", 100),  # 100.4 rounds down
        (15, 10.0, 0, "usd", 2),  # 1.5 → 2, not banker's 2… and 25 → 3 below
        (25, 10.0, 0, "usd", 3),  # 2.5 → 3 (banker's rounding would give 2)
        (1_000, 2.9, 30, "usd", 59),  # 29 + 30 fixed
        (100, 2.9, 0, "usd", 3),  # 2.9 from a REAL stays 2.9: 2.9 → 3
        (10_000, 0, 0, "eur", 0),
        (50, 10.0, 100, "usd", 50),  # fixed part larger than gross: clamped to gross
        (1_000, 100, 0, "usd", 1_000),
        (999, 33.33, 0, "usd", 333),  # 332.9667 → 333
    ],
)
def test_fee_rounds_half_up_adds_fixed_part_and_is_clamped(
    gross: int, percent: float, fixed: int, currency: str, fee: int
) -> None:
    breakdown = compute_fee(gross, percent=percent, fixed_amount=fixed, currency=currency)
    assert breakdown.fee_amount == fee
    assert breakdown.net_amount == gross - fee
    assert 0 <= breakdown.fee_amount <= gross


def test_percentage_from_a_real_goes_through_its_decimal_string() -> None:
    # 0.1 + 0.2 as a float is 0.30000000000000004; as a REAL's str it is what was stored.
    assert compute_fee(1_000_000, percent=0.3, currency="usd").fee_amount == 3_000
    assert compute_fee(5, percent=Decimal("10"), currency="usd").fee_amount == 1  # 0.5 → 1


@pytest.mark.parametrize("currency", ["jpy", "krw", "vnd", "clp", "xof"])
def test_zero_decimal_currencies_round_to_whole_units(currency: str) -> None:
    assert minor_unit_exponent(currency) == 0
    breakdown = compute_fee(1_005, percent=10, currency=currency.upper())
    assert (breakdown.fee_amount, breakdown.net_amount, breakdown.currency) == (101, 904, currency)


def test_three_decimal_currencies_keep_amounts_multiple_of_ten() -> None:
    assert minor_unit_exponent("kwd") == 3
    assert compute_fee(1_050, percent=10, currency="kwd").fee_amount == 110  # 105 → 11 tens
    with pytest.raises(FeeError):
        compute_fee(1_055, percent=10, currency="kwd")


@pytest.mark.parametrize(
    ("gross", "fixed", "fee"),
    [
        (1_000, 5, 110),  # 100 + 5 = 105 → 11 tens, half-up
        (1_000, 4, 100),  # 104 → 10 tens
        (1_000, 25, 130),  # 125 → 13 tens
        (20, 15, 20),  # 2 + 15 = 17 → 2 tens, and never more than gross
    ],
)
def test_three_decimal_fee_with_a_fixed_part_still_leaves_multiples_of_ten(
    gross: int, fixed: int, fee: int
) -> None:
    # The fixed part is a platform-wide number of minor units, so it need not end in 0; a fee (and
    # so a transfer) that does not would be refused by Stripe for KWD, BHD, JOD, OMR and TND.
    breakdown = compute_fee(gross, percent=10, fixed_amount=fixed, currency="kwd")
    assert (breakdown.fee_amount, breakdown.net_amount) == (fee, gross - fee)
    assert breakdown.fee_amount % 10 == 0
    assert breakdown.net_amount % 10 == 0


@pytest.mark.parametrize("gross", [0, -1, 100_000_000, True])
def test_amounts_outside_one_to_99999999_are_refused(gross: int) -> None:
    with pytest.raises(FeeError):
        compute_fee(gross, percent=10, currency="usd")


@pytest.mark.parametrize("percent", [-1, 100.01, float("nan")])
def test_percentages_outside_zero_to_hundred_are_refused(percent: float) -> None:
    with pytest.raises(FeeError):
        compute_fee(100, percent=percent, currency="usd")


@pytest.mark.parametrize("currency", ["us", "usdd", "u$d", ""])
def test_currency_must_be_three_letters(currency: str) -> None:
    with pytest.raises(FeeError):
        compute_fee(100, percent=10, currency=currency)


@pytest.mark.parametrize(
    ("gross", "percent", "currency", "fee"),
    [
        (4, 10, "sek", 1),  # 0.4 öre would round to 0: the floor makes it 1
        (1, 10, "usd", 1),  # the whole crumb: nothing is left to transfer
        (4, 10, "krw", 1),  # zero-decimal
        (40, 10, "kwd", 10),  # three-decimal: one step is 10
        (10, 10, "kwd", 10),
        (5, 0.01, "mxn", 1),
        (10_000, 0, "sek", 0),  # no fee at all: no floor
    ],
)
def test_a_fee_owed_at_all_never_rounds_to_nothing(
    gross: int, percent: float, currency: str, fee: int
) -> None:
    assert compute_fee(gross, percent=percent, currency=currency).fee_amount == fee


def test_twenty_five_crumbs_of_one_payment_pay_at_least_the_payments_fee() -> None:
    crumbs = [compute_fee(4, percent=10, currency="sek").fee_amount for _ in range(25)]
    whole = compute_fee(100, percent=10, currency="sek").fee_amount
    assert sum(crumbs) >= whole
    assert min(crumbs) > 0
