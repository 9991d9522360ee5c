"""Money that comes back, seen by an organization owner in a real browser on the real local stack:
each payment's fee and net before transferring it; the platform refunds a transferred payment and
the history says "Refunded −$90.00, returned to the platform"; a refund after the money was paid
out leaves "Owed to the platform: …, taken from your next transfer"; a disputed payment says
"Disputed" and cannot be transferred. Screenshots of each step go to the folder printed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from devstack.parts import STRIPE_FAKE_API_KEY
from devstack.stack_config import DemoState, LocalSecrets
from tests.frontend.browser import RequestLog, launch_chromium
from tests.frontend.test_browser_story import (
    SHOTS,
    _create_org,
    _customer_pays,
    _new_context,
    _org_row,
    _shot,
    _shot_between,
    _sign_up,
    _state_badge,
    _wait_for_payment,
    stack,
)
from tests.stack.procs import RunningStack

__all__ = ["stack"]  # the fixture, shared with the main story

pytestmark = pytest.mark.slow


def _charge_of(db: Path, intent_id: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            'SELECT "charge_id" FROM "connect_payment" WHERE "payment_intent_id" = ?', (intent_id,)
        ).fetchone()
    assert row is not None
    assert row[0]
    return str(row[0])


def _wait_for_return(db: Path, charge_id: str, status: str) -> None:
    """Until the backend has recorded a return of this payment with this status."""
    until = time.monotonic() + 20.0
    while time.monotonic() < until:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                'SELECT 1 FROM "connect_return" WHERE "source_transaction" = ? AND "status" = ?',
                (charge_id, status),
            ).fetchone()
        if row is not None:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {status} return for {charge_id}")


def _wait_for_dispute(db: Path, charge_id: str) -> None:
    until = time.monotonic() + 20.0
    while time.monotonic() < until:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                'SELECT "dispute_status" FROM "connect_payment" WHERE "charge_id" = ?',
                (charge_id,),
            ).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the dispute on {charge_id} never reached D1")


def _refund(fake: str, charge_id: str) -> None:
    """The platform refunds its customer at Stripe (its own dashboard or server)."""
    refunded = httpx.post(
        f"{fake}/v1/refunds",
        data={"charge": charge_id},
        headers={"Authorization": f"Bearer {STRIPE_FAKE_API_KEY}"},
    )
    assert refunded.status_code == 200, refunded.text


def test_fee_and_net_refunds_debts_and_disputes_in_chromium(
    stack: tuple[RunningStack, DemoState], capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = stack
    assert state.frontend_url is not None
    assert state.stripe_fake_url is not None
    app, backend, fake = state.frontend_url, state.backend_url, state.stripe_fake_url
    db = running.state_dir / "d1.sqlite3"
    platform_key = LocalSecrets.load_or_create(running.state_dir / "secrets.json").platform_api_key
    SHOTS.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\nscreenshots: {SHOTS}")
    contexts: list[BrowserContext] = []
    with launch_chromium() as browser:
        owner = _new_context(contexts, browser, RequestLog())
        _sign_up(owner, app, name="Bea Owner", email="bea@example.com")
        _create_org(owner, "Refund Bakery")
        owner.get_by_role("button", name="Set up payouts").click()
        owner.get_by_role("button", name="Complete onboarding").click()
        owner.wait_for_url(f"{app}/settings/payouts**")
        expect(_state_badge(owner)).to_have_text("Active")
        org_id, _ = _org_row(db, "Refund Bakery")

        # --- each payment says its fee and net before it is transferred ----------------------
        sale = _customer_pays(backend, fake, platform_key, org_id, 10_000)
        _wait_for_payment(db, sale, transferred=0)
        owner.reload()
        earnings = owner.get_by_role("list", name="Payments not yet transferred")
        expect(earnings.get_by_test_id("payment-split")).to_have_text(
            "Platform fee $10.00 · you receive $90.00"
        )
        _shot_between(
            owner,
            "money-back-1-fee-and-net",
            owner.get_by_role("heading", name="Earnings"),
            earnings,
        )
        owner.get_by_role("button", name="Transfer to my account").click()
        expect(owner.get_by_role("status").first).to_contain_text("Transferred $90.00")

        # --- the platform refunds the customer in full: the transfer is reversed --------------
        charge = _charge_of(db, sale)
        _refund(fake, charge)
        _wait_for_return(db, charge, "done")
        owner.reload()
        returns = owner.get_by_role("list", name="Refunds and disputes")
        expect(returns).to_contain_text("Refunded \u2212$90.00, returned to the platform.")
        expect(owner.get_by_role("list", name="Transfers")).to_contain_text("$90.00 taken back")
        balance = owner.get_by_role("table", name="Balance by currency")
        expect(balance).to_contain_text("$0.00")
        _shot_between(
            owner,
            "money-back-2-refunded",
            owner.get_by_role("heading", name="Refunds and disputes"),
            returns,
        )
        _shot(owner, "money-back-2-refunded-page")

        # --- paid out, then refunded: the organization owes it, taken from its next transfer --
        sale = _customer_pays(backend, fake, platform_key, org_id, 3_000)
        _wait_for_payment(db, sale, transferred=0)
        owner.reload()
        owner.get_by_role("button", name="Transfer to my account").click()
        expect(owner.get_by_role("status").first).to_contain_text("Transferred $27.00")
        owner.get_by_role("button", name="Pay out now").click()
        expect(owner.get_by_role("status").first).to_contain_text("Payout of $27.00 sent")
        charge = _charge_of(db, sale)
        _refund(fake, charge)
        _wait_for_return(db, charge, "owed")
        owner.reload()
        debt = owner.get_by_test_id("debt")
        expect(debt).to_have_text("Owed to the platform: $27.00, taken from your next transfer.")
        expect(owner.get_by_test_id("failed-return")).to_contain_text(
            "Owed to the platform: $27.00"
        )
        _shot_between(
            owner, "money-back-3-owed", owner.get_by_role("heading", name="Earnings"), debt
        )

        # --- a disputed payment is marked and cannot be transferred ---------------------------
        sale = _customer_pays(backend, fake, platform_key, org_id, 2_000)
        _wait_for_payment(db, sale, transferred=0)
        charge = _charge_of(db, sale)
        opened = httpx.post(f"{fake}/_fake/charges/{charge}/dispute", json={})
        assert opened.status_code == 200, opened.text
        _wait_for_dispute(db, charge)
        owner.reload()
        expect(owner.get_by_test_id("payment-disputed")).to_have_text("Disputed")
        disputed_item = owner.get_by_role("listitem").filter(
            has=owner.get_by_test_id("payment-disputed")
        )
        expect(disputed_item).to_contain_text(
            "$20.00"
        )  # what the dispute holds, not the $0.00 left
        expect(owner.get_by_test_id("payment-split")).to_contain_text(
            "It cannot be transferred unless the dispute is won."
        )
        expect(owner.get_by_role("button", name="Transfer to my account")).to_have_count(0)
        _shot_between(
            owner,
            "money-back-4-disputed",
            owner.get_by_role("heading", name="Earnings"),
            owner.get_by_role("list", name="Payments not yet transferred"),
        )
        _shot(owner, "money-back-5-page")
