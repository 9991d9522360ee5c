""" "Pay out everything" (a payout without an amount) pays the whole available balance of the
currency, or answers exactly why it cannot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from backend.core.errors import Conflict
from backend.money.payout_amount import Funds, format_money, full_available_balance
from tests.fixtures.backend import BackendStack

Activated = Callable[[], Awaitable[str]]


def test_everything_available_in_the_currency_is_the_amount() -> None:
    available = [Funds(7_000, "usd", {"card": 7_000}), Funds(300, "eur", {"card": 300})]
    assert full_available_balance(available, [], currency="usd") == 7_000


@pytest.mark.parametrize(
    ("available", "pending", "code", "says"),
    [
        ([Funds(0, "usd")], [Funds(5_000, "usd")], "balance_pending", "50.00 USD is pending"),
        (
            [Funds(0, "usd"), Funds(1_234, "eur"), Funds(500, "jpy")],
            [],
            "balance_in_other_currencies",
            "12.34 EUR, 500 JPY",
        ),
        ([Funds(-250, "usd")], [Funds(900, "usd")], "negative_balance", "-2.50 USD"),
        (
            [Funds(9_000, "usd", {"card": 6_000, "bank_account": 3_000})],
            [],
            "balance_needs_several_payouts",
            "30.00 USD bank_account, 60.00 USD card",
        ),
        ([Funds(100_000_000, "usd")], [], "balance_above_payout_maximum", "1000000.00 USD"),
        ([Funds(1_005, "kwd")], [], "balance_not_payable", "1.005 KWD"),
        ([], [], "insufficient_balance", "No available usd balance"),
    ],
)
def test_a_balance_that_cannot_be_paid_out_whole_says_exactly_why(
    available: list[Funds], pending: list[Funds], code: str, says: str
) -> None:
    currency = available[0].currency if available and available[0].currency != "usd" else "usd"
    with pytest.raises(Conflict) as caught:
        full_available_balance(available, pending, currency=currency)
    assert caught.value.code == code
    assert says in caught.value.message


def test_money_is_shown_in_the_currencys_own_unit() -> None:
    assert format_money(123_456, "usd") == "1234.56 USD"
    assert format_money(500, "jpy") == "500 JPY"
    assert format_money(1_005, "kwd") == "1.005 KWD"


async def _pay_everything(
    client: httpx.AsyncClient, stack: BackendStack, key: str, currency: str = "usd"
) -> httpx.Response:
    return await client.post(
        "/api/connect/payout",
        json={"organization_id": stack.org_id, "currency": currency},
        headers=stack.auth("owner", Idempotency_Key=key),
    )


async def test_pending_only_and_other_currencies_are_explained_then_everything_is_paid(
    client: httpx.AsyncClient, backend_stack: BackendStack, activated: Activated
) -> None:
    account_id = await activated()
    await backend_stack.stripe.aio.fund(account_id, 5_000, "usd", pending=True)
    r = await _pay_everything(client, backend_stack, "all-1")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "balance_pending")
    assert "50.00 USD is pending" in r.json()["error"]["message"]

    await backend_stack.stripe.aio.fund(account_id, 1_234, "eur")
    r = await _pay_everything(client, backend_stack, "all-2")
    assert r.json()["error"]["code"] == "balance_pending"  # usd still only pending
    await backend_stack.stripe.aio.settle_balance(account_id)
    r = await _pay_everything(client, backend_stack, "all-3", currency="gbp")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "balance_in_other_currencies")
    assert "12.34 EUR, 50.00 USD" in r.json()["error"]["message"]

    r = await _pay_everything(client, backend_stack, "all-4")
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["currency"]) == (5_000, "usd")
    r = await _pay_everything(client, backend_stack, "all-5", currency="eur")
    assert (r.status_code, r.json()["amount"]) == (201, 1_234)
